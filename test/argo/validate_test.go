package argo

import (
	"context"
	"fmt"
	"testing"

	wfv1 "github.com/argoproj/argo-workflows/v4/pkg/apis/workflow/v1alpha1"
	"github.com/argoproj/argo-workflows/v4/util/logging"
	"github.com/argoproj/argo-workflows/v4/workflow/validate"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"sigs.k8s.io/yaml"
)

// templates answers Argo's look-ups of WorkflowTemplates by name, from
// dist/; there are no ClusterWorkflowTemplates.
type templates map[string]*wfv1.WorkflowTemplate

func (ts templates) Get(_ context.Context, name string) (*wfv1.WorkflowTemplate, error) {
	if t, ok := ts[name]; ok {
		return t, nil
	}
	return nil, fmt.Errorf("no WorkflowTemplate %q", name)
}

type noClusterTemplates struct{}

func (noClusterTemplates) Get(_ context.Context, name string) (*wfv1.ClusterWorkflowTemplate, error) {
	return nil, fmt.Errorf("no ClusterWorkflowTemplate %q", name)
}

// strict decodes an object into Argo's Go type, refusing unknown fields.
func strict[T any](t *testing.T, d doc) *T {
	t.Helper()
	raw, err := d.obj.MarshalJSON()
	if err != nil {
		t.Fatal(err)
	}
	var v T
	if err := yaml.UnmarshalStrict(raw, &v); err != nil {
		t.Fatalf("%s %s (%s): Argo's Go types refuse it: %v", d.obj.GetKind(), d.obj.GetName(), d.file, err)
	}
	return &v
}

// TestArgoValidation runs Argo's own validation (workflow/validate, what
// `argo lint` and the Argo server run) on every WorkflowTemplate and
// CronWorkflow in dist/, and on a Workflow submitted from each template as
// `argo submit --from workflowtemplate/<name>` makes it.
func TestArgoValidation(t *testing.T) {
	ctx := logging.InitLoggerInContext()
	docs := argoDocs(t)
	byNS := map[string]templates{}
	for _, d := range docs["WorkflowTemplate"] {
		wt := strict[wfv1.WorkflowTemplate](t, d)
		if byNS[wt.Namespace] == nil {
			byNS[wt.Namespace] = templates{}
		}
		byNS[wt.Namespace][wt.Name] = wt
	}
	for _, d := range docs["WorkflowTemplate"] {
		wt := strict[wfv1.WorkflowTemplate](t, d)
		ts := byNS[wt.Namespace]
		if err := validate.ValidateWorkflowTemplate(ctx, ts, noClusterTemplates{}, wt, nil, validate.ValidateOpts{}); err != nil {
			t.Errorf("WorkflowTemplate %s/%s: Argo's validation: %v", wt.Namespace, wt.Name, err)
			continue
		}
		wf := &wfv1.Workflow{
			ObjectMeta: metav1.ObjectMeta{GenerateName: wt.Name + "-", Namespace: wt.Namespace},
			Spec:       wfv1.WorkflowSpec{WorkflowTemplateRef: &wfv1.WorkflowTemplateRef{Name: wt.Name}},
		}
		if err := validate.ValidateWorkflow(ctx, ts, noClusterTemplates{}, wf, nil, validate.ValidateOpts{Submit: true}); err != nil {
			t.Errorf("Workflow from WorkflowTemplate %s/%s: Argo's validation: %v", wt.Namespace, wt.Name, err)
			continue
		}
		t.Logf("argo validation: WorkflowTemplate %s/%s (%d templates) and a Workflow submitted from it: valid", wt.Namespace, wt.Name, len(wt.Spec.Templates))
	}
	for _, d := range docs["CronWorkflow"] {
		cw := strict[wfv1.CronWorkflow](t, d)
		if err := validate.ValidateCronWorkflow(ctx, byNS[cw.Namespace], noClusterTemplates{}, cw, nil); err != nil {
			t.Errorf("CronWorkflow %s/%s: Argo's validation: %v", cw.Namespace, cw.Name, err)
			continue
		}
		t.Logf("argo validation: CronWorkflow %s/%s (%v, %s, %s): valid", cw.Namespace, cw.Name, cw.Spec.Schedules, cw.Spec.Timezone, cw.Spec.ConcurrencyPolicy)
	}
}

// TestArgoValidationCanFail checks that the validation above is no
// formality: each template, broken as a careless edit would break it (a
// dependency on a task that does not exist), is refused.
func TestArgoValidationCanFail(t *testing.T) {
	ctx := logging.InitLoggerInContext()
	for _, d := range argoDocs(t)["WorkflowTemplate"] {
		wt := strict[wfv1.WorkflowTemplate](t, d)
		tasks := wt.Spec.Templates[0].DAG.Tasks
		tasks[len(tasks)-1].Dependencies = append(tasks[len(tasks)-1].Dependencies, "no-such-task")
		err := validate.ValidateWorkflowTemplate(ctx, templates{wt.Name: wt}, noClusterTemplates{}, wt, nil, validate.ValidateOpts{})
		if err == nil {
			t.Errorf("WorkflowTemplate %s/%s with a dependency on a missing task: accepted", wt.Namespace, wt.Name)
			continue
		}
		t.Logf("argo validation refuses a broken copy of %s/%s: %v", wt.Namespace, wt.Name, err)
	}
}
