package oracle

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
	"sigs.k8s.io/yaml"
)

// TestOverrideMutations is a differential test of the checks of overridden
// objects against the API server's own validation: each mutation is
// applied by an Override to a ProcessorStage (with an Ingress), a
// BatchStage and a ScheduledStage, and what the library says of it must
// agree with what the oracle says of the objects it changed. A mutation
// the library accepts and the oracle refuses is a silently invalid output;
// one the library refuses and the oracle accepts is a false refusal. The
// second group of mutations was written after the checks, as a fresh
// red-team round; both must stay at 0.
func TestOverrideMutations(t *testing.T) {
	dep := func(f func(*appsv1.Deployment)) func(runtime.Object) {
		return func(o runtime.Object) {
			if d, ok := o.(*appsv1.Deployment); ok {
				f(d)
			}
		}
	}
	job := func(f func(*batchv1.Job)) func(runtime.Object) {
		return func(o runtime.Object) {
			if d, ok := o.(*batchv1.Job); ok {
				f(d)
			}
		}
	}
	svc := func(f func(*corev1.Service)) func(runtime.Object) {
		return func(o runtime.Object) {
			if d, ok := o.(*corev1.Service); ok {
				f(d)
			}
		}
	}
	c0 := func(d *appsv1.Deployment) *corev1.Container { return &d.Spec.Template.Spec.Containers[0] }
	muts := map[string]func(runtime.Object){
		"recreate with rollingUpdate": dep(func(d *appsv1.Deployment) {
			d.Spec.Strategy.Type = appsv1.RecreateDeploymentStrategyType
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{}
		}),
		"strategy bogus":     dep(func(d *appsv1.Deployment) { d.Spec.Strategy.Type = "Bogus" }),
		"port name too long": dep(func(d *appsv1.Deployment) { c0(d).Ports[0].Name = "averyveryverylongname" }),
		"dup port names": dep(func(d *appsv1.Deployment) {
			c0(d).Ports = append(c0(d).Ports, corev1.ContainerPort{Name: c0(d).Ports[0].Name, ContainerPort: 9999})
		}),
		"env name bad": dep(func(d *appsv1.Deployment) { c0(d).Env = append(c0(d).Env, corev1.EnvVar{Name: "A=B", Value: "x"}) }),
		"env value and valueFrom": dep(func(d *appsv1.Deployment) {
			c0(d).Env = append(c0(d).Env, corev1.EnvVar{Name: "A", Value: "x", ValueFrom: &corev1.EnvVarSource{FieldRef: &corev1.ObjectFieldSelector{FieldPath: "metadata.name"}}})
		}),
		"negative cpu request":  dep(func(d *appsv1.Deployment) { c0(d).Resources.Requests[corev1.ResourceCPU] = resource.MustParse("-1") }),
		"pull policy bogus":     dep(func(d *appsv1.Deployment) { c0(d).ImagePullPolicy = "Sometimes" }),
		"restart policy on pod": dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyNever }),
		"job restart Always":    job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways }),
		"job indexed no compl": job(func(j *batchv1.Job) {
			j.Spec.CompletionMode = ptr.To(batchv1.IndexedCompletion)
			j.Spec.Completions = nil
		}),
		"job perindex no index": job(func(j *batchv1.Job) { j.Spec.BackoffLimitPerIndex = ptr.To[int32](1) }),
		"service type bogus":    svc(func(s *corev1.Service) { s.Spec.Type = "Bogus" }),
		"service proto HTTP":    svc(func(s *corev1.Service) { s.Spec.Ports[0].Protocol = "HTTP" }),
		"service dup port":      svc(func(s *corev1.Service) { s.Spec.Ports = append(s.Spec.Ports, s.Spec.Ports[0]) }),
		"toleration exists+val": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Tolerations = []corev1.Toleration{{Key: "k", Operator: corev1.TolerationOpExists, Value: "v"}}
		}),
		"nodeSelector bad key": dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.NodeSelector = map[string]string{"bad key!": "v"} }),
		"grace negative":       dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.TerminationGracePeriodSeconds = ptr.To[int64](-5) }),
		"runAsUser negative":   dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.SecurityContext.RunAsUser = ptr.To[int64](-1) }),
		"volume two sources": dep(func(d *appsv1.Deployment) {
			v := &d.Spec.Template.Spec.Volumes[0]
			v.ConfigMap = &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}
		}),
		"secret mode too big": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes = append(d.Spec.Template.Spec.Volumes, corev1.Volume{Name: "s", VolumeSource: corev1.VolumeSource{Secret: &corev1.SecretVolumeSource{SecretName: "x", DefaultMode: ptr.To[int32](01000)}}})
		}),
		"probe negative period": dep(func(d *appsv1.Deployment) { c0(d).ReadinessProbe.PeriodSeconds = -1 }),
		"probe no handler":      dep(func(d *appsv1.Deployment) { c0(d).ReadinessProbe.TCPSocket = nil }),
		"lifecycle no handler":  dep(func(d *appsv1.Deployment) { c0(d).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{}} }),
		"mount path relative":   dep(func(d *appsv1.Deployment) { c0(d).VolumeMounts[0].MountPath = "tmp" }),
		"emptyDir negative": dep(func(d *appsv1.Deployment) {
			q := resource.MustParse("-1Gi")
			d.Spec.Template.Spec.Volumes[0].EmptyDir.SizeLimit = &q
		}),
		"dns policy bogus":      dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.DNSPolicy = "Bogus" }),
		"hostname bad":          dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.Hostname = "Bad_Host" }),
		"priority class bad":    dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.PriorityClassName = "Bad_Name" }),
		"termination msg bogus": dep(func(d *appsv1.Deployment) { c0(d).TerminationMessagePolicy = "Bogus" }),
		"image with spaces":     dep(func(d *appsv1.Deployment) { c0(d).Image = "bad image" }),
		"affinity empty term": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{}}}
		}),
		"maxSurge and maxUnavailable 0": dep(func(d *appsv1.Deployment) {
			z := intstrZero()
			d.Spec.Strategy.RollingUpdate = &appsv1.RollingUpdateDeployment{MaxSurge: &z, MaxUnavailable: &z}
		}),
		"request without limit ok":  dep(func(d *appsv1.Deployment) { delete(c0(d).Resources.Limits, corev1.ResourceCPU) }),
		"job ttl negative":          job(func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](-1) }),
		"job maxFailed no perindex": job(func(j *batchv1.Job) { j.Spec.MaxFailedIndexes = ptr.To[int32](1) }),
		"job podFailurePolicy bad container": job(func(j *batchv1.Job) {
			j.Spec.PodFailurePolicy = &batchv1.PodFailurePolicy{Rules: []batchv1.PodFailurePolicyRule{{Action: batchv1.PodFailurePolicyActionFailJob, OnExitCodes: &batchv1.PodFailurePolicyOnExitCodesRequirement{ContainerName: ptr.To("nope"), Operator: batchv1.PodFailurePolicyOnExitCodesOpIn, Values: []int32{1}}}}}
		}),
	}
	cron := func(f func(*batchv1.CronJob)) func(runtime.Object) {
		return func(o runtime.Object) {
			if d, ok := o.(*batchv1.CronJob); ok {
				f(d)
			}
		}
	}
	ing := func(f func(*networkingv1.Ingress)) func(runtime.Object) {
		return func(o runtime.Object) {
			if d, ok := o.(*networkingv1.Ingress); ok {
				f(d)
			}
		}
	}
	// The second round.
	for name, m := range map[string]func(runtime.Object){
		"svc externalTrafficPolicy on ClusterIP": svc(func(s *corev1.Service) { s.Spec.ExternalTrafficPolicy = corev1.ServiceExternalTrafficPolicyLocal }),
		"svc sessionAffinity bogus":              svc(func(s *corev1.Service) { s.Spec.SessionAffinity = "Bogus" }),
		"svc targetPort name too long":           svc(func(s *corev1.Service) { s.Spec.Ports[0].TargetPort = intstr.FromString("averyveryverylongname") }),
		"ingress backend bad name":               ing(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Name = "Bad_Name" }),
		"ingress host IP":                        ing(func(i *networkingv1.Ingress) { i.Spec.Rules[0].Host = "1.2.3.4" }),
		"cron job restart Always": cron(func(c *batchv1.CronJob) {
			c.Spec.JobTemplate.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyAlways
		}),
		"cron concurrency empty": cron(func(c *batchv1.CronJob) { c.Spec.ConcurrencyPolicy = "" }),
		"configMapKeyRef empty key": dep(func(d *appsv1.Deployment) {
			c0(d).Env = append(c0(d).Env, corev1.EnvVar{Name: "A", ValueFrom: &corev1.EnvVarSource{ConfigMapKeyRef: &corev1.ConfigMapKeySelector{LocalObjectReference: corev1.LocalObjectReference{Name: "x"}}}})
		}),
		"volume name bad": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Volumes[0].Name = "Bad_Vol"
			c0(d).VolumeMounts[0].Name = "Bad_Vol"
		}),
		"subPath absolute": dep(func(d *appsv1.Deployment) { c0(d).VolumeMounts[0].SubPath = "/x" }),
		"hostPort":         dep(func(d *appsv1.Deployment) { c0(d).Ports[0].HostPort = 8080 }),
		"topology maxSkew 0": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.TopologySpreadConstraints = []corev1.TopologySpreadConstraint{{MaxSkew: 0, TopologyKey: "zone", WhenUnsatisfiable: corev1.DoNotSchedule}}
		}),
		"template label bad":      dep(func(d *appsv1.Deployment) { d.Spec.Template.Labels["team"] = "bad value!" }),
		"template annotation bad": dep(func(d *appsv1.Deployment) { d.Spec.Template.Annotations = map[string]string{"bad key!": "x"} }),
		"init restartPolicy bogus": job(func(j *batchv1.Job) {
			j.Spec.Template.Spec.InitContainers = nil
			j.Spec.Template.Spec.Containers[0].RestartPolicy = ptr.To(corev1.ContainerRestartPolicyAlways)
		}),
		"capabilities add NET_RAW": dep(func(d *appsv1.Deployment) { c0(d).SecurityContext.Capabilities.Add = []corev1.Capability{"NET_RAW"} }),
		"working dir relative ok":  dep(func(d *appsv1.Deployment) { c0(d).WorkingDir = "rel" }),
		"env dup name":             dep(func(d *appsv1.Deployment) { c0(d).Env = append(c0(d).Env, c0(d).Env[0]) }),
		"resource name bogus":      dep(func(d *appsv1.Deployment) { c0(d).Resources.Limits["Bogus Thing"] = resource.MustParse("1") }),
	} {
		muts["round 2: "+name] = m
	}
	// The third round: issue 23's red team, and neighbours.
	for name, m := range map[string]func(runtime.Object){
		"dnsPolicy None without dnsConfig": dep(func(d *appsv1.Deployment) { d.Spec.Template.Spec.DNSPolicy = corev1.DNSNone }),
		"dnsConfig valid ok": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.DNSConfig = &corev1.PodDNSConfig{Nameservers: []string{"10.0.0.10"}, Searches: []string{"svc.cluster.local."}}
		}),
		"host alias bad IP": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.HostAliases = []corev1.HostAlias{{IP: "999.1.1.1", Hostnames: []string{"x"}}}
		}),
		"host alias ok": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.HostAliases = []corev1.HostAlias{{IP: "10.1.2.3", Hostnames: []string{"a.example"}}}
		}),
		"image leading space": dep(func(d *appsv1.Deployment) { c0(d).Image = " " + c0(d).Image }),
		"preStop sleep negative": dep(func(d *appsv1.Deployment) {
			c0(d).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: -5}}}
		}),
		"preStop sleep 5 ok": dep(func(d *appsv1.Deployment) {
			c0(d).Lifecycle = &corev1.Lifecycle{PreStop: &corev1.LifecycleHandler{Sleep: &corev1.SleepAction{Seconds: 5}}}
		}),
		"recursiveReadOnly writable": dep(func(d *appsv1.Deployment) {
			c0(d).VolumeMounts[0].RecursiveReadOnly = ptr.To(corev1.RecursiveReadOnlyEnabled)
		}),
		"resourceFieldRef divisor 3": dep(func(d *appsv1.Deployment) {
			c0(d).Env = append(c0(d).Env, corev1.EnvVar{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("3")}}})
		}),
		"resourceFieldRef 1Mi ok": dep(func(d *appsv1.Deployment) {
			c0(d).Env = append(c0(d).Env, corev1.EnvVar{Name: "MEM", ValueFrom: &corev1.EnvVarSource{ResourceFieldRef: &corev1.ResourceFieldSelector{Resource: "limits.memory", Divisor: resource.MustParse("1Mi")}}})
		}),
		"node affinity In without values": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Affinity = &corev1.Affinity{NodeAffinity: &corev1.NodeAffinity{RequiredDuringSchedulingIgnoredDuringExecution: &corev1.NodeSelector{
				NodeSelectorTerms: []corev1.NodeSelectorTerm{{MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "zone", Operator: corev1.NodeSelectorOpIn}}}}}}}
		}),
		"overhead negative": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.Overhead = corev1.ResourceList{corev1.ResourceCPU: resource.MustParse("-1")}
		}),
		"readiness gate bad": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "not a condition!"}}
		}),
		"readiness gate ok": dep(func(d *appsv1.Deployment) {
			d.Spec.Template.Spec.ReadinessGates = []corev1.PodReadinessGate{{ConditionType: "example.com/ready"}}
		}),
		"claim not in pod":    dep(func(d *appsv1.Deployment) { c0(d).Resources.Claims = []corev1.ResourceClaim{{Name: "gpu"}} }),
		"job OnFailure + pfp": job(func(j *batchv1.Job) { j.Spec.Template.Spec.RestartPolicy = corev1.RestartPolicyOnFailure }),
		"job successPolicy nonindexed": job(func(j *batchv1.Job) {
			j.Spec.SuccessPolicy = &batchv1.SuccessPolicy{Rules: []batchv1.SuccessPolicyRule{{SucceededCount: ptr.To[int32](1)}}}
		}),
		"job managedBy bad": job(func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("not a domain/x") }),
		"job managedBy ok":  job(func(j *batchv1.Job) { j.Spec.ManagedBy = ptr.To("example.com/controller") }),
		"cron name 53":      cron(func(c *batchv1.CronJob) { c.Name = "c" + strings.Repeat("a", 52) }),
		"svc ExternalName":  svc(func(s *corev1.Service) { s.Spec.Type = corev1.ServiceTypeExternalName }),
		"svc ExternalName ok": svc(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.ExternalName = corev1.ServiceTypeExternalName, "db.example.com"
		}),
		"svc LB range /40": svc(func(s *corev1.Service) {
			s.Spec.Type, s.Spec.LoadBalancerSourceRanges = corev1.ServiceTypeLoadBalancer, []string{"10.0.0.0/40"}
		}),
		"svc ClientIP timeout 0": svc(func(s *corev1.Service) {
			s.Spec.SessionAffinity = corev1.ServiceAffinityClientIP
			s.Spec.SessionAffinityConfig = &corev1.SessionAffinityConfig{ClientIP: &corev1.ClientIPConfig{TimeoutSeconds: ptr.To[int32](0)}}
		}),
		"ingress class bad":         ing(func(i *networkingv1.Ingress) { i.Spec.IngressClassName = ptr.To("Nginx_Class") }),
		"ingress backend port both": ing(func(i *networkingv1.Ingress) { i.Spec.Rules[0].HTTP.Paths[0].Backend.Service.Port.Number = 80 }),
	} {
		muts["round 3: "+name] = m
	}
	silent, refused, fine, falseRefusal := 0, 0, 0, 0
	for name, m := range muts {
		app := cdk8s.NewApp(nil)
		p := stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("t"), nil), "p", stagecraft.PipelineProps{})
		s := stagecraft.NewProcessorStage(p, "s", stagecraft.ProcessorStageProps{Workload: stagecraft.Workload{Image: "ghcr.io/acme/worker:1.0.0"}, Ports: []stagecraft.Port{{Name: "http", ContainerPort: 8080}}, Ingress: &stagecraft.Ingress{Host: "a.example.com"}})
		b := stagecraft.NewBatchStage(p, "b", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: "ghcr.io/acme/worker:1.0.0"}})
		c := stagecraft.NewScheduledStage(p, "c", stagecraft.ScheduledStageProps{Workload: stagecraft.Workload{Image: "ghcr.io/acme/worker:1.0.0"}, Schedule: "@daily"})
		var changed []runtime.Object
		rec := func(o runtime.Object) {
			before, _ := yaml.Marshal(o)
			m(o)
			after, _ := yaml.Marshal(o)
			if string(before) != string(after) {
				changed = append(changed, o)
			}
		}
		s.Override(rec)
		b.Override(rec)
		c.Override(rec)
		_, err := stagecraft.Synthesize(app)
		var verr *stagecraft.ValidationError
		ours := errors.As(err, &verr)
		if err != nil && !ours {
			t.Errorf("%s: %v", name, err)
			continue
		}
		var docs []string
		for _, o := range changed {
			y, _ := yaml.Marshal(o)
			docs = append(docs, string(y))
		}
		_, findings := oracle(t).CheckFolder(map[string][]byte{"all.yaml": []byte(strings.Join(docs, "---\n"))})
		switch {
		case ours && len(findings) > 0:
			refused++
			t.Logf("%-35s refused: %s", name, firstLine(verr.Error()))
		case ours:
			falseRefusal++
			t.Errorf("%s: the library refuses it, the API server accepts it: %s", name, firstLine(verr.Error()))
		case len(findings) > 0:
			silent++
			t.Errorf("%s: silently invalid: %s", name, findings[0])
		default:
			fine++
			t.Logf("%-35s fine", name)
		}
	}
	t.Logf("refused %d, silently invalid %d, fine %d, false refusals %d", refused, silent, fine, falseRefusal)
	if silent > 0 || falseRefusal > 0 {
		t.Errorf("%d silently invalid outputs and %d false refusals (see the log)", silent, falseRefusal)
	}
}

// firstLine returns the first problem of a ValidationError's text.
func firstLine(s string) string {
	lines := strings.Split(s, "\n")
	if len(lines) > 1 {
		return strings.TrimSpace(lines[1])
	}
	return s
}

func intstrZero() intstr.IntOrString { return intstr.FromInt32(0) }
