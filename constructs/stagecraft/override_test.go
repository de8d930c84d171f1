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
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
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
	p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{})
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
