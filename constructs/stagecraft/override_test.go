package stagecraft

import (
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
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
	// build makes the construct "s" whose overrides these are. Default: a
	// ProcessorStage with one port.
	build func(p *Pipeline, props ProcessorStageProps) overridable
	// apiRefuses: the API server refuses the result too (test/oracle
	// checks it, see ovRefusedEnv).
	apiRefuses bool
}

type overridable interface{ Override(func(runtime.Object)) }

func ovScheduled(p *Pipeline, props ProcessorStageProps) overridable {
	return NewScheduledStage(p, "s", ScheduledStageProps{Workload: props.Workload, Schedule: "@daily"})
}

func ovStorage(p *Pipeline, _ ProcessorStageProps) overridable {
	s := NewPipelineStorage(p, "s", PipelineStorageProps{Size: "1Gi"})
	NewBatchStage(p, "reader", BatchStageProps{Workload: Workload{Image: muImage, Mounts: []Mount{{Storage: s, Path: "/data"}}}})
	return s
}

// ovWith builds a ProcessorStage whose props f changes.
func ovWith(f func(*ProcessorStageProps)) func(*Pipeline, ProcessorStageProps) overridable {
	return func(p *Pipeline, props ProcessorStageProps) overridable {
		f(&props)
		return NewProcessorStage(p, "s", props)
	}
}

func onType[T runtime.Object](f func(T)) func(runtime.Object) {
	return func(o runtime.Object) {
		if t, ok := o.(T); ok {
			f(t)
		}
	}
}

func withEnv(e corev1.EnvVar) func(runtime.Object) {
	return onDeployment(func(d *appsv1.Deployment) { ovMain(d).Env = append(ovMain(d).Env, e) })
}

func fieldEnv(path string) corev1.EnvVar {
	return corev1.EnvVar{Name: "X", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: path}}}
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
	})}, field: "Override[0]", apiRefuses: true, want: []string{"Deployment p/s", "restricted", "privileged", "AllowPrivilegedOverride"}},
	{name: "privileged: true, allowed", privileged: true, overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).SecurityContext.Privileged = ptr.To(true)
	})}},
	{name: "a hostPath volume", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "host",
			VolumeSource: corev1.VolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/"}}})
	})}, field: "Override[0]", apiRefuses: true, want: []string{"restricted", "hostPath"}},
	{name: "runs as root", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.SecurityContext.RunAsNonRoot = nil
		ovMain(d).SecurityContext.RunAsNonRoot = ptr.To(false)
	})}, field: "Override[0]", apiRefuses: true, want: []string{"runAsNonRoot"}},
	{name: "a negative replica count", privileged: true, overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Replicas = ptr.To[int32](-1)
	})}, field: "Override[0]", apiRefuses: true, want: []string{"spec.replicas", "-1", "greater than or equal to 0"}},
	{name: "the second of two overrides breaks it", overrides: []func(runtime.Object){
		onDeployment(func(d *appsv1.Deployment) { d.Spec.RevisionHistoryLimit = ptr.To[int32](3) }),
		onDeployment(func(d *appsv1.Deployment) { ovMain(d).SecurityContext.AllowPrivilegeEscalation = ptr.To(true) }),
	}, field: "Override[1]", apiRefuses: true, want: []string{"allowPrivilegeEscalation"}},
	{name: "an invalid label on the Service", overrides: []func(runtime.Object){func(o runtime.Object) {
		if s, ok := o.(*corev1.Service); ok {
			s.Labels["team"] = "not a label value!"
		}
	}}, field: "Override[0]", apiRefuses: true, want: []string{"Service p/s", "metadata.labels"}},
	{name: "a request above its limit", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).Resources.Requests[corev1.ResourceCPU] = ovMain(d).Resources.Limits[corev1.ResourceMemory]
	})}, field: "Override[0]", apiRefuses: true, want: []string{"resources.requests[cpu]", "less than or equal to the limit"}},
	{name: "no container left", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Template.Spec.Containers = nil
	})}, field: "Override[0]", apiRefuses: true, want: []string{"at least one container"}},
	// What the API server refuses, by the same rules as props.
	{name: "a selector that no longer selects the template", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Selector.MatchLabels["tier"] = "web"
	})}, field: "Override[0]", apiRefuses: true, want: []string{"spec.template.metadata.labels", "`selector` does not match template `labels`", "tier=web"}},
	{name: "an empty selector", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.Selector = &metav1.LabelSelector{}
	})}, field: "Override[0]", apiRefuses: true, want: []string{"spec.selector", "empty selector"}},
	{name: "a relative Exact Ingress path", build: ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{PathType: "Exact", Path: "/api"} }),
		overrides: []func(runtime.Object){onType(func(in *networkingv1.Ingress) { in.Spec.Rules[0].HTTP.Paths[0].Path = "api" })},
		field:     "Override[0]", apiRefuses: true, want: []string{"Ingress p/s", "spec.rules[0].http.paths[0].path", "must start with '/'"}},
	{name: "a Prefix Ingress path with //", build: ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{} }),
		overrides: []func(runtime.Object){onType(func(in *networkingv1.Ingress) { in.Spec.Rules[0].HTTP.Paths[0].Path = "/a//b" })},
		field:     "Override[0]", apiRefuses: true, want: []string{"paths[0].path", "'//'"}},
	{name: "an Ingress path without a type", build: ovWith(func(p *ProcessorStageProps) { p.Ingress = &Ingress{} }),
		overrides: []func(runtime.Object){onType(func(in *networkingv1.Ingress) { in.Spec.Rules[0].HTTP.Paths[0].PathType = nil })},
		field:     "Override[0]", apiRefuses: true, want: []string{"paths[0].pathType", "a path type is required"}},
	{name: "a fieldRef to a field that does not exist", overrides: []func(runtime.Object){withEnv(fieldEnv("status.phase"))},
		field: "Override[0]", apiRefuses: true, want: []string{"env[1].valueFrom.fieldRef.fieldPath", "status.phase", "no such field"}},
	{name: "a fieldRef to metadata.labels without a key", overrides: []func(runtime.Object){withEnv(fieldEnv("metadata.labels"))},
		field: "Override[0]", apiRefuses: true, want: []string{"fieldRef.fieldPath", "metadata.labels['<key>']"}},
	{name: "a fieldRef to a label", overrides: []func(runtime.Object){withEnv(fieldEnv("metadata.labels['app.kubernetes.io/name']"))}},
	{name: "a fieldRef to the pod's IP", overrides: []func(runtime.Object){withEnv(fieldEnv("status.podIP"))}},
	{name: "a mount of a missing volume", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).VolumeMounts = append(ovMain(d).VolumeMounts, corev1.VolumeMount{Name: "data", MountPath: "/data"})
	})}, field: "Override[0]", apiRefuses: true, want: []string{"volumeMounts[1].name", "data", "no volume of that name"}},
	{name: "two mounts at one path", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		ovMain(d).VolumeMounts = append(ovMain(d).VolumeMounts, corev1.VolumeMount{Name: "scratch", MountPath: "/tmp", SubPath: "x"})
	})}, field: "Override[0]", apiRefuses: true, want: []string{"volumeMounts[1].mountPath", "must be unique"}},
	{name: "a claim template of a bad access mode",
		build: ovWith(func(p *ProcessorStageProps) {
			p.Stateful = &Stateful{Volumes: []VolumeClaim{{Name: "data", Path: "/data", Size: "1Gi"}}}
		}),
		overrides: []func(runtime.Object){onType(func(s *appsv1.StatefulSet) {
			s.Spec.VolumeClaimTemplates[0].Spec.AccessModes = []corev1.PersistentVolumeAccessMode{"ReadWriteSometimes"}
		})}, field: "Override[0]", apiRefuses: true, want: []string{"StatefulSet p/s", "volumeClaimTemplates[0].spec.accessModes[0]", "ReadWriteSometimes", "ReadWriteOncePod"}},
	{name: "a claim of ReadWriteOncePod and another mode", build: ovStorage,
		overrides: []func(runtime.Object){onType(func(c *corev1.PersistentVolumeClaim) {
			c.Spec.AccessModes = []corev1.PersistentVolumeAccessMode{corev1.ReadWriteOncePod, corev1.ReadWriteMany}
		})}, field: "Override[0]", apiRefuses: true, want: []string{"PersistentVolumeClaim p/s", "spec.accessModes", "cannot be combined"}},
	{name: "a CronJob schedule of minute 61", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.Schedule = "61 * * * *" })},
		field:     "Override[0]", apiRefuses: true, want: []string{"CronJob p/s", "spec.schedule", "not a valid cron schedule"}},
	{name: "a CronJob schedule with TZ=", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.Schedule = "TZ=UTC 0 2 * * *" })},
		field:     "Override[0]", apiRefuses: true, want: []string{"spec.schedule", "set spec.timeZone"}},
	{name: "a CronJob in an unknown time zone", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Mars/Olympus_Mons") })},
		field:     "Override[0]", apiRefuses: true, want: []string{"spec.timeZone", "Mars/Olympus_Mons", "unknown time zone"}},
	{name: "a CronJob of an empty time zone", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("") })},
		field:     "Override[0]", apiRefuses: true, want: []string{"spec.timeZone", "must be unset"}},
	{name: "a CronJob in Berlin", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.TimeZone = ptr.To("Europe/Berlin") })}},
	{name: "a negative history limit", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.SuccessfulJobsHistoryLimit = ptr.To[int32](-1) })},
		field:     "Override[0]", apiRefuses: true, want: []string{"spec.successfulJobsHistoryLimit", "greater than or equal to 0"}},
	{name: "a negative backoff limit in the job template", build: ovScheduled,
		overrides: []func(runtime.Object){onType(func(c *batchv1.CronJob) { c.Spec.JobTemplate.Spec.BackoffLimit = ptr.To[int32](-3) })},
		field:     "Override[0]", apiRefuses: true, want: []string{"spec.jobTemplate.spec.backoffLimit", "-3"}},
	{name: "a negative revision history", overrides: []func(runtime.Object){onDeployment(func(d *appsv1.Deployment) {
		d.Spec.RevisionHistoryLimit = ptr.To[int32](-1)
	})}, field: "Override[0]", apiRefuses: true, want: []string{"spec.revisionHistoryLimit", "greater than or equal to 0"}},
	// The API server's node port allocator refuses it on create, after
	// the validation that test/oracle runs: not apiRefuses.
	{name: "a node port outside the range", overrides: []func(runtime.Object){onType(func(s *corev1.Service) {
		s.Spec.Type, s.Spec.Ports[0].NodePort = corev1.ServiceTypeNodePort, 8080
	})}, field: "Override[0]", want: []string{"Service p/s", "spec.ports[0].nodePort", "8080", "30000-32767"}},
	{name: "a node port on a ClusterIP Service", overrides: []func(runtime.Object){onType(func(s *corev1.Service) {
		s.Spec.Ports[0].NodePort = 30080
	})}, field: "Override[0]", apiRefuses: true, want: []string{"spec.ports[0].nodePort", "may not be used when `type` is \"ClusterIP\""}},
	{name: "a node port in the range", overrides: []func(runtime.Object){onType(func(s *corev1.Service) {
		s.Spec.Type, s.Spec.Ports[0].NodePort = corev1.ServiceTypeNodePort, 30080
	})}},
	{name: "a Service port out of range", overrides: []func(runtime.Object){onType(func(s *corev1.Service) {
		s.Spec.Ports[0].Port = 70000
	})}, field: "Override[0]", apiRefuses: true, want: []string{"spec.ports[0].port", "between 1 and 65535"}},
}

// TestOverridesCheckedAgain: every object an Override changed is checked
// again, and a problem names the construct, the object and the override.
func TestOverridesCheckedAgain(t *testing.T) {
	for _, row := range slices.Concat(ovRows, ovPodRows, ovAPIRows, ovRunRows, ovDroppedRows) {
		t.Run(row.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{Network: testAPI})
			props := muProc("http")
			props.Security.AllowPrivilegedOverride = row.privileged
			build := row.build
			if build == nil {
				build = func(p *Pipeline, props ProcessorStageProps) overridable { return NewProcessorStage(p, "s", props) }
			}
			s := build(p, props)
			var captured ovCapture
			overrides := row.overrides
			if row.apiRefuses {
				overrides = captured.wrap(overrides)
			}
			for _, ov := range overrides {
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
					if row.apiRefuses {
						captured.export(t)
					}
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
		{name: "Kueue's queue label on the held Job",
			held: onJobs(func(j *batchv1.Job) { j.Labels[queueLabel] = "gpu" }),
			want: map[string][]string{"test/p/down": {"Override[0]", "metadata.labels[kueue.x-k8s.io/queue-name]", "held by its gate", "JobSettings.Queue"}}},
		{name: "Kueue's queue label on the held Job's pods",
			held: onJobs(func(j *batchv1.Job) { j.Spec.Template.Labels[queueLabel] = "gpu" }),
			want: map[string][]string{"test/p/down": {"Override[0]", "spec.template.metadata.labels[kueue.x-k8s.io/queue-name]"}}},
		{name: "Kueue's priority class on the held Job: allowed (it queues nothing)",
			held: onJobs(func(j *batchv1.Job) { j.Labels[priorityClassLabel] = "high" })},
		{name: "Kueue's queue label on a Job that is not held: allowed",
			upstream: onJobs(func(j *batchv1.Job) { j.Labels[queueLabel] = "gpu" })},
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
