package stagecraft

import (
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// TestValidationAccess holds the rules of what a pipeline's pods may
// reach and hold: the API server's addresses and the accounts and tokens
// of the gates, the waits and Argo's executor.
func TestValidationAccess(t *testing.T) {
	var cases []vtCase
	cases = append(cases, vtAPIServerCases()...)
	cases = append(cases, vtAccountCases()...)
	vtRows(t, cases)
}

// TestTokenOverrides holds what an Override may not add to a stage's pods:
// found when the objects are rendered, so checked through Synthesize.
func TestTokenOverrides(t *testing.T) {
	for _, tc := range vtTokenOverrideCases() {
		t.Run(tc.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			tc.build(cdk8s.NewChart(app, jsii.String("test"), nil))
			_, err := Synthesize(app)
			for _, s := range vtMismatches(err, tc.want) {
				t.Error(s)
			}
		})
	}
}

// vtWaiting builds pipeline "p" with props, a BatchStage "up" and a stage
// "s" of kind that runs after it ("batch", "processor" or "scheduled"),
// its workload changed by mod.
func vtWaiting(props PipelineProps, kind string, mod func(w *Workload)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) { vtWaitingIn(c, props, kind, mod) }
}

// vtWaitingIn builds vtWaiting's pipeline in c and returns it.
func vtWaitingIn(c cdk8s.Chart, props PipelineProps, kind string, mod func(w *Workload)) *Pipeline {
	{
		p := NewPipeline(c, "p", props)
		up := NewBatchStage(p, "up", BatchStageProps{Workload: Workload{Image: vtImage, Command: []string{"/app"}}})
		w := Workload{Image: vtImage, Command: []string{"/app"}}
		if mod != nil {
			mod(&w)
		}
		switch kind {
		case "batch":
			NewBatchStage(p, "s", BatchStageProps{Workload: w}).RunsAfter(up)
		case "processor":
			NewProcessorStage(p, "s", ProcessorStageProps{Workload: w}).RunsAfter(up)
		case "scheduled":
			NewScheduledStage(p, "s", ScheduledStageProps{Workload: w, Schedule: "0 2 * * *"}).RunsAfter(up)
		}
		return p
	}
}

func vtAPIServerCases() []vtCase {
	const hint = "kubectl get endpointslices -n default -l kubernetes.io/service-name=kubernetes"
	return []vtCase{
		{name: "api/gate without the API server's addresses", build: vtWaiting(PipelineProps{}, "batch", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("the gate of stage test/p/s reads Jobs through the Kubernetes API")}},
		{name: "api/the problem says how to find them", build: vtWaiting(PipelineProps{}, "batch", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("endpoint addresses, not the kubernetes Service's ClusterIP (most CNIs apply NetworkPolicies after the Service's address translation): " + hint)}},
		{name: "api/init-container wait without them", build: vtWaiting(PipelineProps{}, "processor", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("stage test/p/s waits for upstream Jobs in an init container")}},
		{name: "api/scheduled wait without them", build: vtWaiting(PipelineProps{}, "scheduled", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone)}},
		{name: "api/Argo chain without them", build: vtWaiting(PipelineProps{Workflows: &Workflows{}}, "batch", nil),
			want: []vtWant{vtAt("test/p", "Network.APIServerCIDRs", tRequired, vtNone).saying("Argo's executor containers")}},
		{name: "api/no wait needs no addresses", build: func(c cdk8s.Chart) {
			NewBatchStage(NewPipeline(c, "p", PipelineProps{}), "s", BatchStageProps{Workload: Workload{Image: vtImage}})
		}},
		{name: "api/no policies need no addresses", build: vtWaiting(PipelineProps{Network: Network{Disabled: true}}, "batch", nil)},
		{name: "api/addresses stated", build: vtWaiting(PipelineProps{Network: Network{APIServerCIDRs: []string{"192.0.2.10/32", "2001:db8::10/128"}}}, "processor", nil)},
	}
}

// vtBeside builds vtWaiting's pipeline (with the API server stated, and
// props) and a ProcessorStage "t" beside it, its workload changed by mod
// and its objects by ov (when not nil).
func vtBeside(props PipelineProps, kind string, mod func(w *Workload), ov func(runtime.Object)) func(cdk8s.Chart) {
	return func(c cdk8s.Chart) {
		props.Network.APIServerCIDRs = testAPI.APIServerCIDRs
		p := vtWaitingIn(c, props, kind, nil)
		w := Workload{Image: vtImage, Command: []string{"/app"}}
		mod(&w)
		t := NewProcessorStage(p, "t", ProcessorStageProps{Workload: w})
		if ov != nil {
			t.Override(ov)
		}
	}
}

func vtAccountCases() []vtCase {
	sa := func(name string) func(w *Workload) { return func(w *Workload) { w.ServiceAccountName = name } }
	at := func(fld, v string) vtWant { return vtAt("test/p/t", fld, tForbidden, v) }
	return []vtCase{
		{name: "accounts/a stage runs as a gate's account", build: vtBeside(PipelineProps{}, "batch", sa("s-gate"), nil),
			want: []vtWant{at("ServiceAccountName", "s-gate").saying("is the ServiceAccount of the gate of stage test/p/s, which may patch the namespace's pods and fail the stage's Job: a stage may not run as it; name an account of the stage's own, or leave it empty")}},
		{name: "accounts/a held stage runs as its own gate's account", build: vtWaiting(PipelineProps{Network: testAPI}, "batch", sa("s-gate")),
			want: []vtWant{vtS("ServiceAccountName", tForbidden, "s-gate")}},
		{name: "accounts/a stage runs as another stage's wait account", build: vtBeside(PipelineProps{}, "processor", sa("s"), nil),
			want: []vtWant{at("ServiceAccountName", "s").saying("the ServiceAccount stagecraft creates for stage test/p/s, whose wait may read its upstream Jobs")}},
		{name: "accounts/the pipeline's default is a gate's account", build: func(c cdk8s.Chart) {
			vtWaiting(PipelineProps{Network: testAPI, Defaults: Defaults{ServiceAccountName: "s-gate"}}, "batch", nil)(c)
		}, want: []vtWant{vtAt("test/p", "Defaults.ServiceAccountName", tForbidden, "s-gate")}},
		{name: "accounts/a stage runs as Argo's executor", build: vtBeside(PipelineProps{Workflows: &Workflows{}}, "batch", sa("p-executor"), nil),
			want: []vtWant{at("ServiceAccountName", "p-executor").saying("the ServiceAccount of Argo's executor")}},
		{name: "accounts/a stage reads the executor's token Secret", build: vtBeside(PipelineProps{Workflows: &Workflows{}}, "batch", func(w *Workload) {
			w.Env = []EnvVar{EnvFromSecret("T", "p-executor.service-account-token", "token")}
		}, nil), want: []vtWant{at("Env[0].Secret.Name", "p-executor.service-account-token").saying("only the executor's containers may read")}},
		{name: "accounts/a stage's own account and token", build: vtBeside(PipelineProps{}, "batch", func(w *Workload) {
			w.ServiceAccountName, w.ServiceAccountToken = "t-runner", true
		}, nil)},
		{name: "accounts/a waiting stage with a token of its own", build: vtWaiting(PipelineProps{Network: testAPI}, "processor", func(w *Workload) { w.ServiceAccountToken = true })},
	}
}

// vtPod changes the pod spec of a Deployment.
func vtPod(f func(spec *corev1.PodSpec)) func(runtime.Object) {
	return func(o runtime.Object) {
		if d, ok := o.(*appsv1.Deployment); ok {
			f(&d.Spec.Template.Spec)
		}
	}
}

func vtTokenOverrideCases() []vtCase {
	none := func(*Workload) {}
	argo := PipelineProps{Workflows: &Workflows{}}
	projected := corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
		Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "token"}}}}}}
	at := func(v any) vtWant { return vtAt("test/p/t", "Override", tForbidden, v) }
	return []vtCase{
		{name: "tokens/override runs the pod as a gate's account", build: vtBeside(PipelineProps{}, "batch", none, vtPod(func(s *corev1.PodSpec) { s.ServiceAccountName = "s-gate" })),
			want: []vtWant{at("s-gate").saying("after the override, spec.template.spec.serviceAccountName is the ServiceAccount of the gate of stage test/p/s")}},
		{name: "tokens/override runs the pod as a gate's account through the deprecated alias", build: vtBeside(PipelineProps{}, "batch", none, vtPod(func(s *corev1.PodSpec) { s.DeprecatedServiceAccount = "s-gate" })),
			want: []vtWant{at("s-gate").saying("spec.template.spec.serviceAccount is the deprecated alias of serviceAccountName")}},
		{name: "tokens/override of an Argo task runs it as the executor through the deprecated alias", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Workflows: &Workflows{}, Network: testAPI})
			up := NewBatchStage(p, "up", BatchStageProps{Workload: Workload{Image: vtImage, Command: []string{"/app"}}})
			t := NewBatchStage(p, "t", BatchStageProps{Workload: Workload{Image: vtImage, Command: []string{"/app"}, ServiceAccountToken: true}})
			t.RunsAfter(up)
			t.Override(func(o runtime.Object) {
				if j, ok := o.(*batchv1.Job); ok {
					j.Spec.Template.Spec.DeprecatedServiceAccount = "p-executor"
				}
			})
		}, want: []vtWant{at("p-executor").saying("deprecated alias of serviceAccountName")}},
		{name: "tokens/override projects a token", build: vtBeside(PipelineProps{}, "batch", none, vtPod(func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, projected)
			s.Containers[0].VolumeMounts = append(s.Containers[0].VolumeMounts, corev1.VolumeMount{Name: "tok", MountPath: "/tok"})
		})), want: []vtWant{at("tok").saying("projects a service-account token"), at("tok").saying("mounts a service-account token into container t")}},
		{name: "tokens/override mounts the wait's token into the stage's container", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Network: testAPI})
			up := NewBatchStage(p, "up", BatchStageProps{Workload: Workload{Image: vtImage}})
			t := NewProcessorStage(p, "t", ProcessorStageProps{Workload: Workload{Image: vtImage}})
			t.RunsAfter(up)
			t.Override(vtPod(func(s *corev1.PodSpec) {
				s.Containers[0].VolumeMounts = append(s.Containers[0].VolumeMounts, corev1.VolumeMount{Name: tokenVolume, MountPath: "/tok"})
			}))
		}, want: []vtWant{at(tokenVolume).saying("spec.template.spec.containers[0].volumeMounts")}},
		{name: "tokens/override mounts the executor's Secret", build: vtBeside(argo, "batch", none, vtPod(func(s *corev1.PodSpec) {
			s.Volumes = append(s.Volumes, corev1.Volume{Name: "x", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "p-executor.service-account-token"}}})
		})), want: []vtWant{at("p-executor.service-account-token").saying("mounts the token Secret of Argo's executor")}},
		{name: "tokens/override reads the executor's Secret in a variable", build: vtBeside(argo, "batch", none, vtPod(func(s *corev1.PodSpec) {
			s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "T", ValueFrom: &corev1.EnvVarSource{
				SecretKeyRef: &corev1.SecretKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "p-executor.service-account-token"}, Key: "token"}}})
			s.Containers[0].EnvFrom = append(s.Containers[0].EnvFrom, corev1.EnvFromSource{SecretRef: &corev1.SecretEnvSource{LocalObjectReference: corev1.LocalObjectReference{Name: "p-executor.service-account-token"}}})
		})), want: []vtWant{at("p-executor.service-account-token").saying(".env[1] reads the token Secret"), at("p-executor.service-account-token").saying("envFrom[0] reads the token Secret")}},
		{name: "held/override sets a held Job's activeDeadlineSeconds", build: func(c cdk8s.Chart) {
			p := NewPipeline(c, "p", PipelineProps{Network: testAPI})
			up := NewBatchStage(p, "up", BatchStageProps{Workload: Workload{Image: vtImage}})
			t := NewBatchStage(p, "t", BatchStageProps{Workload: Workload{Image: vtImage}})
			t.RunsAfter(up)
			t.Override(func(o runtime.Object) {
				if j, ok := o.(*batchv1.Job); ok {
					j.Spec.ActiveDeadlineSeconds = ptr.To[int64](600)
				}
			})
		}, want: []vtWant{at(int64(600)).saying("spec.activeDeadlineSeconds of a held Job counts while its pods are held: set JobSettings.ActiveDeadline, which the gate sets at release")}},
		{name: "tokens/override mounts the pod's own token", build: vtBeside(PipelineProps{}, "batch", none, vtPod(func(s *corev1.PodSpec) { s.AutomountServiceAccountToken = ptr.To(true) })),
			want: []vtWant{at(true).saying("automountServiceAccountToken mounts the token")}},
	}
}
