package stagecraft

import (
	"strconv"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateWorkflows checks the pipeline's Workflows props.
func (p *Pipeline) validateWorkflows() field.ErrorList {
	w := p.workflows
	if w == nil {
		return nil
	}
	fld := field.NewPath("Workflows")
	var errs field.ErrorList
	if w.given.Name != "" {
		errs = append(errs, each(fld.Child("Name"), w.name, validation.IsDNS1123Label(w.name))...)
	}
	if len(w.name) > workflowNameMax {
		errs = append(errs, tooLong(fld.Child("Name"), w.name, "must be no more than "+strconv.Itoa(workflowNameMax)+" characters: Argo adds a suffix to the names of the Workflows a CronWorkflow creates (the default is the pipeline's namespace)"))
	}
	r := fld.Child("ExecutorResources")
	return append(errs, validateResources(r, w.given.ExecutorResources, w.executor)...)
}

// validateTask checks what a stage must be to run as a task of an Argo
// Workflows DAG, beyond what a Job needs.
func validateTask(s Stage) field.ErrorList {
	var errs field.ErrorList
	b := s.base()
	if len(b.work.command) == 0 {
		errs = append(errs, required(field.NewPath("Command"), "Argo's emissary executor starts the container's command itself and cannot read it from the image here: set Command to the image's entrypoint (and Args to its arguments)"))
	}
	j := jobSettingsOf(s)
	if j.TTLAfterFinished > 0 {
		errs = append(errs, forbidden(field.NewPath("TTLAfterFinished"), j.TTLAfterFinished.String(), "a task of an Argo Workflows DAG is no Job: its pods belong to the Workflow, which the CronWorkflow's history limits keep or delete; leave it zero"))
	}
	if j.MaxFailedIndexes != nil {
		errs = append(errs, forbidden(field.NewPath("MaxFailedIndexes"), *j.MaxFailedIndexes, "Argo Workflows cannot fail a fan-out after some of its shards failed: each shard is retried on its own (BackoffLimitPerIndex) and the task fails when any shard has; leave it unset"))
	}
	if j.Parallelism != nil && *j.Parallelism > 1 && !fanOut(j) {
		errs = append(errs, forbidden(field.NewPath("Parallelism"), *j.Parallelism, "without Completions this is a work queue (pods that share the work among themselves), which Argo Workflows cannot run as a task; set Completions (with Indexed, each pod gets its shard's index)"))
	}
	if bs, ok := s.(*BatchStage); ok {
		if bs.fixedName {
			errs = append(errs, forbidden(field.NewPath("FixedJobName"), true, "a task of an Argo Workflows DAG has no Job to name: each Workflow runs it anew"))
		}
		if bs.revision != "" {
			errs = append(errs, forbidden(field.NewPath("Revision"), bs.revision, "a task of an Argo Workflows DAG runs anew in every Workflow: submit one (argo submit --from workflowtemplate/...) to run it again"))
		}
	}
	return errs
}
