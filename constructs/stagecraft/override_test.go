package stagecraft

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/utils/ptr"
)

// ovRow is an Override and what synthesis must say of it: no problem
// (want empty), or a problem of construct test/p/<stage> on the field
// Override[i] whose text holds each of want.
type ovRow struct {
	name       string
	privileged bool // Security.AllowPrivilegedOverride
	overrides  []func(runtime.Object)
	field      string
	want       []string
}

func onDeployment(f func(d *appsv1.Deployment)) func(runtime.Object) {
	return func(o runtime.Object) {
		if d, ok := o.(*appsv1.Deployment); ok {
			f(d)
		}
	}
}

func ovMain(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }

var ovRows = []ovRow{
	{name: "a harmless override", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](3)
	})}},
	{name: "privileged: true", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).SecurityContext.Privileged = ptr.To(true)
	})}, field: "Override[0]", want: []string{"Deployment p/s", "restricted", "privileged", "AllowPrivilegedOverride"}},
	{name: "privileged: true, allowed", privileged: true, overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).SecurityContext.Privileged = ptr.To(true)
	})}},
	{name: "a hostPath volume", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "host",
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	})}, field: "Override[0]", want: []string{"restricted", "hostPath"}},
	{name: "runs as root", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		ovMain(d).SecurityContext.RunAsNonRoot = ptr.To(false)
	})}, field: "Override[0]", want: []string{"runAsNonRoot"}},
	{name: "a negative replica count", privileged: true, overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Replicas = ptr.To[int32](-1)
	})}, field: "Override[0]", want: []string{"spec.replicas", "-1", "greater than or equal to 0"}},
	{name: "the second of two overrides breaks it", overrides: []func(runtime.Object){
		onDeployment(func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To[int32](3) }),
		onDeployment(func(d *appsv1.Deployment) { ovMain(d).SecurityContext.AllowPrivilegeEscalation = ptr.To(true) }),
	}, field: "Override[1]", want: []string{"allowPrivilegeEscalation"}},
	{name: "an invalid label on the Service", overrides: []func(runtime.Object){func(o runtime.Object) {
		if s, ok := o.(*corev1.Service); ok {
			s.Labels["team"] = "not a label value!"
		}
	}}, field: "Override[0]", want: []string{"Service p/s", "metadata.labels"}},
	{name: "a request above its limit", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).Resources.Requests[corev1.ResourceCPU] = ovMain(d).Resources.Limits[corev1.ResourceMemory]
	})}, field: "Override[0]", want: []string{"resources.requests[cpu]", "less than or equal to the limit"}},
	{name: "a literal password added to the env", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).Env = append(ovMain(d).Env, corev1.EnvVar{Name: "DB_PASSWORD", Value: "hunter2"})
	})}, field: "Override[0]", want: []string{"env[1].value", "secret-like name", "EnvFromSecret"}},
	{name: "no container left", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers = nil
	})}, field: "Override[0]", want: []string{"at least one container"}},
}

// TestOverridesCheckedAgain: every object an Override changed is checked
// again, and a problem names the construct, the object and the override.
func TestOverridesCheckedAgain(t *testing.T) {
	for _, row := range ovRows {
		t.Run(row.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI})
			props := muProc("http")
			props.Security.AllowPrivilegedOverride = row.privileged
			s := NewProcessorStage(p, "s", props)
			for _, ov := range row.overrides {
				s.Override(ov)
			}
			_, err := Synthesize(app)
			if row.field == "" {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				if !row.privileged {
					// An accepted override must still pass the API server
					// (test/oracle); a privileged one breaks Pod Security
					// "restricted" on purpose.
					vtExportApp(t, app)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("want a problem, got %v", err)
			}
			for _, pr := range verr.Problems {
				text := pr.String()
				ok := pr.Construct == "test/p/s" && pr.Field == row.field
				for _, w := range row.want {
					ok = ok && strings.Contains(text, w)
				}
				if ok {
					t.Log(text)
					return
				}
			}
			t.Errorf("no problem of test/p/s %s holding %q in:\n%v", row.field, row.want, verr)
		})
	}
}

// TestPipelineOverrideCheckedAgain: the pipeline's own objects too.
func TestPipelineOverrideCheckedAgain(t *testing.T) {
	app := cdk8s.NewApp(nil)
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI})
	p.Override(func(o runtime.Object) {
		if ns, ok := o.(*corev1.Namespace); ok {
			ns.Name = "Not_A_Name"
		}
	})
	NewBatchStage(p, "s", muBatch()).Override(func(o runtime.Object) {
		if j, ok := o.(*batchv1.Job); ok {
			j.Spec.Parallelism = ptr.To[int32](-2)
		}
	})
	_, err := Synthesize(app)
	var verr *ValidationError
	if !errors.As(err, &verr) || len(verr.For("test/p")) != 1 || len(verr.For("test/p/s")) != 1 {
		t.Fatalf("want one problem of the pipeline and one of the stage, got %v", err)
	}
}

// TestOverridesKeepTheWaits: a stage's Override never reaches its gate's
// objects, and may not take away what its waits need: the held Job's
// scheduling gate, the wait-upstream init container, or the lifetime of a
// Job that another stage waits for.
func TestOverridesKeepTheWaits(t *testing.T) {
	onJobs := func(f func(j *batchv1.Job)) func(runtime.Object) {
		return func(o runtime.Object) {
			if j, ok := o.(*batchv1.Job); ok {
				f(j)
			}
		}
	}
	type row struct {
		name     string
		held     func(runtime.Object) // on the held BatchStage "down"
		upstream func(runtime.Object) // on "up", which down and web wait for
		web      func(runtime.Object) // on "web", a ProcessorStage that waits in an init container
		want     map[string][]string  // construct -> what its one problem holds
	}
	rows := []row{
		{name: "the held Job's image: allowed, and the gate keeps its own",
			held: onJobs(func(j *batchv1.Job) { j.Spec.Template.Spec.Containers[0].Image = "ghcr.io/acme/other:2.0.0" })},
		{name: "the held Job without its scheduling gate",
			held: onJobs(func(j *batchv1.Job) { j.Spec.Template.Spec.SchedulingGates = nil }),
			want: map[string][]string{"test/p/down": {"Override[0]", "schedulingGates", schedulingGate}}},
		{name: "a TTL on the Job others wait for",
			upstream: onJobs(func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60) }),
			want:     map[string][]string{"test/p/up": {"Override[0]", "ttlSecondsAfterFinished", "wait for this Job"}}},
		{name: "the wait container's image",
			web: onDeployment(func(d *appsv1.Deployment) {
				d.Spec.Template.Spec.InitContainers[0].Image = "ghcr.io/acme/kubectl:1.0.0"
			}),
			want: map[string][]string{"test/p/web": {"Override[0]", "initContainers[wait-upstream]", "GateImage"}}},
		{name: "the wait container dropped",
			web:  onDeployment(func(d *appsv1.Deployment) { d.Spec.Template.Spec.InitContainers = nil }),
			want: map[string][]string{"test/p/web": {"Override[0]", "initContainers[wait-upstream]"}}},
	}
	for _, r := range rows {
		t.Run(r.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI})
			up := NewBatchStage(p, "up", muBatch())
			down := NewBatchStage(p, "down", muBatch())
			web := NewProcessorStage(p, "web", muProc("http"))
			down.RunsAfter(up)
			web.RunsAfter(up)
			for s, ov := range map[Stage]func(runtime.Object){down: r.held, up: r.upstream, web: r.web} {
				if ov != nil {
					s.(interface{ Override(func(runtime.Object)) }).Override(ov)
				}
			}
			syn, err := Synthesize(app)
			if len(r.want) == 0 {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				for _, o := range syn.Manifests[0].Objects {
					if strings.Contains(o.Name, "-gate-") && strings.Contains(string(o.YAML), "ghcr.io/acme/other") {
						t.Errorf("the stage's override reached its gate Job %s:\n%s", o.Name, o.YAML)
					}
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("want a problem, got %v", err)
			}
			for construct, want := range r.want {
				probs := verr.For(construct)
				if len(probs) != 1 {
					t.Fatalf("want one problem of %s, got %v", construct, verr)
				}
				text := probs[0].Error()
				for _, w := range want {
					if !strings.Contains(text, w) {
						t.Errorf("problem of %s lacks %q: %s", construct, w, text)
					}
				}
				t.Log(construct, text)
			}
		})
	}
}
