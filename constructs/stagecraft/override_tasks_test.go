package stagecraft

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/imports/argoprojio"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// TestOverridesOfArgoTasks: the Override of a stage that runs as a task of
// an Argo chain is applied to the task's pod, or refused; never dropped.
func TestOverridesOfArgoTasks(t *testing.T) {
	type row struct {
		name       string
		head       func(runtime.Object) // on "head", the ScheduledStage heading the chain
		task       func(runtime.Object) // on "task", a BatchStage after it
		pipeline   func(runtime.Object) // on the pipeline "p"
		privileged bool                 // Security.AllowPrivilegedOverride on task
		inYAML     []string             // the WorkflowTemplate holds each
		want       []string             // the one problem holds each
	}
	onPod := func(f func(*corev1.PodSpec)) func(runtime.Object) {
		return func(o runtime.Object) {
			if tmpl, _ := podTemplateOf(o); tmpl != nil {
				f(&tmpl.Spec)
			}
		}
	}
	onTemplate := func(name string, f func(*argoprojio.WorkflowTemplateSpecTemplates, *argoprojio.WorkflowTemplateSpec)) func(runtime.Object) {
		return func(o runtime.Object) {
			if c, ok := o.(*customObject); ok && c.Kind == "WorkflowTemplate" {
				spec := c.Spec.(argoprojio.WorkflowTemplateSpec)
				for _, t := range *spec.Templates {
					if *t.Name == name {
						f(t, &spec)
					}
				}
				c.Spec = spec
			}
		}
	}
	mainOf := func(t *argoprojio.WorkflowTemplateSpecTemplates) *corev1.Container {
		c := t.Container.(corev1.Container)
		t.Container = &c
		return &c
	}
	rows := []row{
		{name: "the image and an env var reach the task",
			task: onPod(func(s *corev1.PodSpec) {
				s.Containers[0].Image = "ghcr.io/acme/other:2.0.0"
				s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "MODE", Value: "fast"})
			}),
			inYAML: []string{"image: ghcr.io/acme/other:2.0.0", "name: MODE"}},
		{name: "a pod field reaches the task's podSpecPatch",
			task:   onPod(func(s *corev1.PodSpec) { s.TerminationGracePeriodSeconds = ptr.To[int64](7) }),
			inYAML: []string{`"terminationGracePeriodSeconds":7`}},
		{name: "the head's pod too",
			head:   onPod(func(s *corev1.PodSpec) { s.Containers[0].Image = "ghcr.io/acme/head:3.0.0" }),
			inYAML: []string{"image: ghcr.io/acme/head:3.0.0"}},
		{name: "the Job's parallelism is refused",
			task: onJob(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](4) }),
			want: []string{"test/p/task", "Job p/task", "Override[0]", "Forbidden: 4", "spec.parallelism", "Argo task p/task", "has no Job", "WorkflowTemplate"}},
		{name: "the Job's labels are refused",
			task: onJob(func(j *batchv1.Job) { j.Labels["team"] = "a" }),
			want: []string{"metadata.labels.team", "only the pod template (spec.template)"}},
		{name: "a sidecar is refused",
			task: onPod(func(s *corev1.PodSpec) { s.Containers = append(s.Containers, initLike(s.Containers[0], "sidecar")) }),
			want: []string{"spec.template.spec.containers[1]", "sidecar", "one container"}},
		{name: "an init container is refused",
			task: onPod(func(s *corev1.PodSpec) {
				s.InitContainers = append(s.InitContainers, initLike(s.Containers[0], "prepare"))
			}),
			want: []string{"spec.template.spec.initContainers", "executor"}},
		{name: "the head's schedule is refused",
			head: func(o runtime.Object) {
				if c, ok := o.(*batchv1.CronJob); ok {
					c.Spec.Schedule = "@hourly"
				}
			},
			want: []string{"test/p/head", "CronJob p/head", "spec.schedule", "only the pod template (spec.jobTemplate.spec.template)"}},
		{name: "the pipeline's Override of a task's image",
			pipeline: onTemplate("task", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				mainOf(t).Image = "ghcr.io/acme/piped:1.0.0"
			}),
			inYAML: []string{"image: ghcr.io/acme/piped:1.0.0"}},
		{name: "the pipeline's Override makes a task privileged",
			pipeline: onTemplate("task", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				mainOf(t).SecurityContext.Privileged = ptr.To(true)
			}),
			want: []string{"test/p:", "WorkflowTemplate p/p", "spec.templates[task]", "restricted", "privileged", "AllowPrivilegedOverride"}},
		{name: "the pipeline's Override makes a privileged stage's task privileged", privileged: true,
			pipeline: onTemplate("task", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				mainOf(t).SecurityContext.Privileged = ptr.To(true)
			})},
		{name: "the pipeline's Override puts a task on the host network",
			pipeline: onTemplate("task", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				t.PodSpecPatch = jsii.String(strings.Replace(*t.PodSpecPatch, "{", `{"hostNetwork":true,`, 1))
			}),
			want: []string{"spec.templates[task]", "host namespaces"}},
		{name: "the pipeline's Override mounts a task's token",
			pipeline: onTemplate("head", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				t.AutomountServiceAccountToken = jsii.Bool(true)
			}),
			want: []string{"spec.templates[head].spec.automountServiceAccountToken", "token is mounted", "AllowWideningOverride"}},
		{name: "the pipeline's Override gives a task the executor's token Secret",
			pipeline: onTemplate("task", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				var vols []any
				if t.Volumes != nil {
					vols = *t.Volumes
				}
				vols = append(vols, corev1.Volume{Name: "t", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "p-executor.service-account-token"}}})
				t.Volumes = &vols
			}),
			want: []string{"spec.templates[task].spec", "read the service account token Secret p-executor.service-account-token"}},
		{name: "the pipeline's Override shares a task's processes with the executor",
			pipeline: onTemplate("task", func(t *argoprojio.WorkflowTemplateSpecTemplates, _ *argoprojio.WorkflowTemplateSpec) {
				t.PodSpecPatch = jsii.String(strings.Replace(*t.PodSpecPatch, "{", `{"shareProcessNamespace":true,`, 1))
			}),
			want: []string{"spec.templates[task].spec.shareProcessNamespace", "tokens, of the pod's other containers", "AllowWideningOverride"}},
		{name: "the pipeline's Override runs the executor as another account",
			pipeline: onTemplate("task", func(_ *argoprojio.WorkflowTemplateSpecTemplates, s *argoprojio.WorkflowTemplateSpec) {
				s.Executor.ServiceAccountName = jsii.String("default")
			}),
			want: []string{"spec.executor.serviceAccountName", "default", "another account than \"p-executor\""}},
		{name: "a task's host alias of a bad IP is checked as a Job's would be",
			task: onPod(func(s *corev1.PodSpec) {
				s.HostAliases = []corev1.HostAlias{{IP: "300.1.1.1", Hostnames: []string{"x"}}}
			}),
			want: []string{"test/p/task", "Job p/task", "spec.template.spec.hostAliases[0].ip", "300.1.1.1", "valid IP address"}},
		{name: "a task's host alias reaches its podSpecPatch",
			task: onPod(func(s *corev1.PodSpec) {
				s.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"argo-host.example"}}}
			}),
			inYAML: []string{`"hostAliases":[{"hostnames":["argo-host.example"],"ip":"10.1.2.3"}]`}},
		{name: "a privileged task is checked as a Job would be",
			task: onPod(func(s *corev1.PodSpec) { s.Containers[0].SecurityContext.Privileged = ptr.To(true) }),
			want: []string{"Job p/task", "restricted", "privileged"}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Workflows: &Workflows{}, Network: testAPI})
			w := Workload{Image: muImage, Command: []string{"/run"}}
			head := NewScheduledStage(p, "head", ScheduledStageProps{Workload: w, Schedule: "@daily"})
			tw := w
			tw.Security.AllowPrivilegedOverride = r.privileged
			task := NewBatchStage(p, "task", BatchStageProps{Workload: tw})
			task.RunsAfter(head)
			if r.head != nil {
				head.Override(r.head)
			}
			if r.task != nil {
				task.Override(r.task)
			}
			if r.pipeline != nil {
				p.Override(r.pipeline)
			}
			syn, err := Synthesize(app)
			if len(r.want) > 0 {
				var verr *ValidationError
				if !errors.As(err, &verr) || len(verr.Problems) != 1 {
					t.Fatalf("want one problem, got %v", err)
				}
				text := verr.Problems[0].String()
				for _, w := range r.want {
					if !strings.Contains(text, w) {
						t.Errorf("the problem lacks %q: %s", w, text)
					}
				}
				t.Log(text)
				return
			}
			if err != nil {
				t.Fatalf("want no problem, got %v", err)
			}
			var wt string
			for _, o := range syn.Manifests[0].Objects {
				if o.Kind == "WorkflowTemplate" {
					wt = string(o.YAML)
				}
				if o.Kind == "Job" || o.Kind == "CronJob" {
					t.Errorf("a %s in an Argo pipeline", o.Kind)
				}
			}
			for _, w := range r.inYAML {
				if !strings.Contains(wt, w) {
					t.Errorf("the WorkflowTemplate lacks %q:\n%s", w, wt)
				}
			}
			if !r.privileged {
				vtExportApp(t, app)
			}
		})
	}
}
