package stagecraft

import (
	"sort"
	"strconv"
	"time"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/imports/argoprojio"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// componentWorkflow labels the objects of a pipeline's Argo chain.
const componentWorkflow = "workflow"

const argoAPIVersion = "argoproj.io/v1alpha1"

// workflowObjects returns the objects of the pipeline's Argo chain, or nil
// without one: the executor's ServiceAccount, its token Secret, Role,
// RoleBinding and NetworkPolicy, the WorkflowTemplate and the
// CronWorkflow.
func (r *rendering) workflowObjects() []runtime.Object {
	w := r.p.workflows
	if w == nil || len(r.g.chainStages()) == 0 {
		return nil
	}
	meta := r.workflowMeta(w.executorName())
	secret := &corev1.Secret{
		TypeMeta:   metav1.TypeMeta{APIVersion: "v1", Kind: "Secret"},
		ObjectMeta: r.workflowMeta(w.executorTokenSecret()),
		Type:       serviceAccountTokenType,
	}
	secret.Annotations = map[string]string{corev1.ServiceAccountNameKey: meta.Name}
	out := []runtime.Object{serviceAccount(meta), secret}
	rules := []rbacv1.PolicyRule{{APIGroups: []string{"argoproj.io"}, Resources: []string{"workflowtaskresults"}, Verbs: []string{"create", "patch"}}}
	out = append(out, roleAndBinding(meta, rules, meta.Name)...)
	if !r.p.network.Disabled {
		out = append(out, r.executorPolicy(meta))
	}
	out = append(out, r.workflowTemplate())
	if h := r.g.head(); h != nil {
		out = append(out, r.cronWorkflow(h))
	}
	return out
}

// workflowMeta is the metadata of an object of the chain.
func (r *rendering) workflowMeta(name string) metav1.ObjectMeta {
	return metav1.ObjectMeta{Name: name, Namespace: r.p.namespace, Labels: r.p.objectLabels(name, componentWorkflow)}
}

// executorPolicy lets the pods Argo creates in the namespace reach the API
// server, where the wait container reports each task's result. A
// NetworkPolicy cannot tell a pod's containers apart: the stage's own
// container has no token.
func (r *rendering) executorPolicy(meta metav1.ObjectMeta) *networkingv1.NetworkPolicy {
	p := r.p
	return p.networkPolicy(meta.Name, meta.Labels, networkingv1.NetworkPolicySpec{
		PodSelector: metav1.LabelSelector{
			MatchLabels:      map[string]string{labelPartOf: p.namespace},
			MatchExpressions: []metav1.LabelSelectorRequirement{{Key: workflowLabel, Operator: metav1.LabelSelectorOpExists}},
		},
		PolicyTypes: []networkingv1.PolicyType{networkingv1.PolicyTypeEgress},
		Egress:      p.apiServerRule(),
	})
}

// workflowTemplate returns the WorkflowTemplate: the DAG of the chain's
// tasks, then each task's templates.
func (r *rendering) workflowTemplate() runtime.Object {
	w := r.p.workflows
	tasks := []*argoprojio.WorkflowTemplateSpecTemplatesDagTasks{}
	templates := []*argoprojio.WorkflowTemplateSpecTemplates{{
		Name: jsii.String(dagTemplate),
		Dag:  &argoprojio.WorkflowTemplateSpecTemplatesDag{Tasks: &tasks},
	}}
	for _, s := range r.g.chainStages() {
		task := &argoprojio.WorkflowTemplateSpecTemplatesDagTasks{Name: jsii.String(s.Name()), Template: jsii.String(taskTemplate(s))}
		if deps := r.taskDeps(s); len(deps) > 0 {
			task.Dependencies = &deps
		}
		tasks = append(tasks, task)
		templates = append(templates, r.taskTemplates(s)...)
	}
	return &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: argoAPIVersion, Kind: "WorkflowTemplate"},
		ObjectMeta: r.workflowMeta(w.name),
		Spec: argoprojio.WorkflowTemplateSpec{
			Entrypoint:                   jsii.String(dagTemplate),
			AutomountServiceAccountToken: jsii.Bool(false),
			Executor:                     &argoprojio.WorkflowTemplateSpecExecutor{ServiceAccountName: jsii.String(w.executorName())},
			Templates:                    &templates,
		},
	}
}

// taskDeps returns the names of the tasks s depends on, sorted.
func (r *rendering) taskDeps(s Stage) []*string {
	var names []string
	for _, u := range r.g.deps[s.base()] {
		names = append(names, u.Name())
	}
	sort.Strings(names)
	out := make([]*string, len(names))
	for i := range names {
		out[i] = jsii.String(names[i])
	}
	return out
}

// cronWorkflow returns the CronWorkflow that runs the WorkflowTemplate on
// the schedule of the ScheduledStage h, which heads the chain.
func (r *rendering) cronWorkflow(h *ScheduledStage) runtime.Object {
	p := h.spec
	spec := argoprojio.CronWorkflowSpec{
		Schedules:                  &[]*string{jsii.String(p.Schedule)},
		Timezone:                   jsii.String(p.TimeZone),
		ConcurrencyPolicy:          jsii.String(p.ConcurrencyPolicy),
		StartingDeadlineSeconds:    jsii.Number(float64(p.StartingDeadline / time.Second)),
		SuccessfulJobsHistoryLimit: jsii.Number(float64(*p.SuccessfulJobsHistoryLimit)),
		FailedJobsHistoryLimit:     jsii.Number(float64(*p.FailedJobsHistoryLimit)),
		WorkflowSpec: &argoprojio.CronWorkflowSpecWorkflowSpec{
			WorkflowTemplateRef: &argoprojio.CronWorkflowSpecWorkflowSpecWorkflowTemplateRef{Name: jsii.String(r.p.workflows.name)},
		},
	}
	if p.Suspend {
		spec.Suspend = jsii.Bool(true)
	}
	return &customObject{
		TypeMeta:   metav1.TypeMeta{APIVersion: argoAPIVersion, Kind: "CronWorkflow"},
		ObjectMeta: r.workflowMeta(r.p.workflows.name),
		Spec:       spec,
	}
}

// retryStrategy carries a stage's retries over to its task: BackoffLimit
// (or BackoffLimitPerIndex, per shard) retries, spaced as the Job
// controller spaces them, none after ActiveDeadline; a fail-fast exit code
// is not retried unless Argo marks the attempt an Error (the pod was
// deleted, evicted or lost, or an executor container failed).
func retryStrategy(j JobSettings) *argoprojio.WorkflowTemplateSpecTemplatesRetryStrategy {
	limit := j.BackoffLimit
	if j.BackoffLimitPerIndex != nil {
		limit = j.BackoffLimitPerIndex
	}
	rs := &argoprojio.WorkflowTemplateSpecTemplatesRetryStrategy{
		RetryPolicy: jsii.String("Always"),
		Backoff: &argoprojio.WorkflowTemplateSpecTemplatesRetryStrategyBackoff{
			Duration: jsii.String(defaultRetryBackoff),
			Factor:   jsii.Number(defaultRetryFactor),
			Cap:      jsii.String(defaultRetryCap),
		},
	}
	if limit != nil {
		rs.Limit = jsii.Number(float64(*limit))
	}
	if j.ActiveDeadline > 0 {
		rs.Backoff.MaxDuration = jsii.String(strconv.FormatInt(int64(j.ActiveDeadline/time.Second), 10) + "s")
	}
	if len(j.FailFastExitCodes) > 0 {
		codes := ""
		for i, c := range j.FailFastExitCodes {
			if i > 0 {
				codes += ", "
			}
			codes += strconv.Quote(strconv.Itoa(int(c)))
		}
		rs.Expression = jsii.String(`lastRetry.status == "Error" || lastRetry.exitCode not in [` + codes + `]`)
	}
	return rs
}
