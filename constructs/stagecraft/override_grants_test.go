package stagecraft

import (
	"errors"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	admissionv1 "k8s.io/api/admissionregistration/v1"
	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	networkingv1 "k8s.io/api/networking/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/intstr"
	"k8s.io/utils/ptr"
)

// grantRow is an Override of the pipeline "p" or of one of its stages (up,
// a BatchStage that down and web wait for; down, a held BatchStage; web, a
// ProcessorStage that waits in an init container) and the one problem it
// must cause: of construct test/p/<on>, on field Override[0], holding
// each of want. No want: no problem.
type grantRow struct {
	name       string
	on         string // "p", "up", "down" or "web"
	widen      bool   // PipelineProps.AllowWideningOverride
	privileged bool   // Security.AllowPrivilegedOverride on web
	override   func(runtime.Object)
	want       []string
	count      int // problems of the construct, if more than one
}

// on is an override that changes the object of type T named name.
func on[T interface {
	runtime.Object
	GetName() string
}](name string, f func(T)) func(runtime.Object) {
	return func(o runtime.Object) {
		if t, ok := o.(T); ok && t.GetName() == name {
			f(t)
		}
	}
}

var webPod = func(f func(*corev1.PodSpec, *metav1.ObjectMeta)) func(runtime.Object) {
	return on("web", func(d *appsv1.Deployment) { f(&d.Spec.Template.Spec, &d.Spec.Template.ObjectMeta) })
}

const optOut = "AllowWideningOverride"

var grantRows = []grantRow{
	// Roles and bindings.
	{name: "a Role with a verb more", on: "web", override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules[0].Verbs = append(r.Rules[0].Verbs, "delete")
	}), want: []string{"Role p/web-wait", "rules[0]", "delete jobs.batch", "no rule allowed", optOut}},
	{name: "a Role with a wildcard rule", on: "web", override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules = append(r.Rules, rbacv1.PolicyRule{APIGroups: []string{"*"}, Resources: []string{"*"}, Verbs: []string{"*"}})
	}), want: []string{"rules[1]", "* *.*", optOut}},
	{name: "a Role with a rule less", on: "web", override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules[0].Verbs = r.Rules[0].Verbs[:1]
	})},
	{name: "a Role with a rule less, widening allowed", on: "web", widen: true, override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules[0].Verbs = append(r.Rules[0].Verbs, "delete")
	})},
	{name: "a Role's rule for any Job name", on: "web", override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules[0].ResourceNames = nil
	}), want: []string{"rules[0]", "get jobs.batch", optOut}},
	{name: "a Role's rule for another Job too", on: "web", override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules[0].ResourceNames = append(r.Rules[0].ResourceNames, "other")
	}), want: []string{"rules[0]", "get jobs.batch", optOut}},
	{name: "a Role's rule for any API group", on: "web", override: on("web-wait", func(r *rbacv1.Role) {
		r.Rules[0].APIGroups = []string{"*"}
	}), want: []string{"rules[0]", "get jobs.*", optOut}},
	{name: "a RoleBinding to the account of another namespace", on: "web", override: on("web-wait", func(b *rbacv1.RoleBinding) {
		b.Subjects[0].Namespace = "other"
	}), want: []string{"subjects[0]", "ServiceAccount other/web", optOut}},
	{name: "a RoleBinding moved to kube-system", on: "web", override: on("web-wait", func(b *rbacv1.RoleBinding) {
		b.Namespace = "kube-system"
	}), want: []string{"RoleBinding kube-system/web-wait", "metadata.namespace", "another namespace than p", optOut}},
	{name: "a NetworkPolicy renamed", on: "p", override: on("default-deny", func(np *networkingv1.NetworkPolicy) {
		np.Name = "deny"
	}), want: []string{"metadata.name", "deny", "NetworkPolicy default-deny is replaced", optOut}},
	{name: "a RoleBinding to the default account", on: "web", override: on("web-wait", func(b *rbacv1.RoleBinding) {
		b.Subjects = append(b.Subjects, rbacv1.Subject{Kind: "ServiceAccount", Name: "default", Namespace: "p"})
	}), want: []string{"RoleBinding p/web-wait", "subjects[1]", "ServiceAccount p/default", optOut}},
	{name: "a RoleBinding to ClusterRole admin", on: "web", override: on("web-wait", func(b *rbacv1.RoleBinding) {
		b.RoleRef = rbacv1.RoleRef{APIGroup: rbacv1.GroupName, Kind: "ClusterRole", Name: "admin"}
	}), want: []string{"roleRef", "ClusterRole admin", "another role than Role web-wait", optOut}},
	// The gates' admission policy.
	{name: "the gate policy fails open", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.FailurePolicy = ptr.To(admissionv1.Ignore)
	}), want: []string{"ValidatingAdmissionPolicy stagecraft-gate.p.down-gate", "spec.failurePolicy", "Ignore", "fails open", optOut}},
	{name: "the gate policy without validations", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.Validations = nil
	}), want: []string{"spec.validations[0]", "may only release the pods of its own stage", optOut}, count: 3},
	{name: "the gate policy with a validation changed", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.Validations[1].Expression = "true"
	}), want: []string{"spec.validations[1]", "may only remove the scheduling gate", "expression changed"}},
	{name: "the gate policy with a new message only", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.Validations[0].Message = "not yours"
	})},
	{name: "the gate policy in a namespace of one label more", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.MatchConstraints.NamespaceSelector.MatchLabels["team"] = "a"
	}), want: []string{"spec.matchConstraints.namespaceSelector", "fewer namespaces", optOut}},
	{name: "the gate policy on pods/status only", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.MatchConstraints.ResourceRules[0].Resources = []string{"pods/status"}
	}), want: []string{"spec.matchConstraints.resourceRules[0]", "pods", optOut}},
	{name: "the gate policy on every pod operation", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.MatchConstraints.ResourceRules[0].Operations = []admissionv1.OperationType{admissionv1.OperationAll}
	})},
	{name: "the gate policy excluding pods", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.MatchConstraints.ExcludeResourceRules = s.MatchConstraints.ResourceRules
	}), want: []string{"spec.matchConstraints.excludeResourceRules[0]", "excludes requests", optOut}},
	{name: "the gate policy's binding audits only", on: "p", override: on("stagecraft-gate.p.down-gate", func(b *admissionv1.ValidatingAdmissionPolicyBinding) {
		b.Spec.ValidationActions = []admissionv1.ValidationAction{admissionv1.Audit}
	}), want: []string{"ValidatingAdmissionPolicyBinding stagecraft-gate.p.down-gate", "spec.validationActions", "must keep Deny", optOut}},
	{name: "the gate policy fails open, widening allowed", on: "p", widen: true, override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.FailurePolicy = ptr.To(admissionv1.Ignore)
	})},
	// Network policies.
	{name: "an allow-all egress rule", on: "web", override: on("web", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress = append(np.Spec.Egress, networkingv1.NetworkPolicyEgressRule{})
	}), want: []string{"NetworkPolicy p/web", "spec.egress[1]", "traffic on every port with every address", optOut}},
	{name: "a wider address block", on: "web", override: on("web", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].To[0].IPBlock.CIDR = "::/0"
	}), want: []string{"spec.egress[0]", "no rule allowed"}},
	{name: "another port", on: "web", override: on("web", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].Ports[0].Port = ptr.To(intstr.FromInt32(22))
	}), want: []string{"spec.egress[0]", "no rule allowed"}},
	{name: "a port range", on: "web", override: on("web", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].Ports[0].EndPort = ptr.To[int32](1024)
	}), want: []string{"spec.egress[0]"}},
	{name: "a narrower rule", on: "web", override: on("web", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].Ports = np.Spec.Egress[0].Ports[:1]
		np.Spec.Egress[0].To[0].IPBlock = &networkingv1.IPBlock{CIDR: "192.0.2.10/32"}
	})},
	{name: "a peer of every namespace", on: "p", override: on("allow-dns", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].To[0].NamespaceSelector = &metav1.LabelSelector{}
	}), want: []string{"NetworkPolicy p/allow-dns", "spec.egress[0]", optOut}},
	{name: "an address peer made every pod of the namespace", on: "web", override: on("web", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].To[0] = networkingv1.NetworkPolicyPeer{PodSelector: &metav1.LabelSelector{}}
	}), want: []string{"NetworkPolicy p/web", "spec.egress[0]", optOut}},
	{name: "the gate policy matching no account", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.MatchConditions[0].Expression = "false"
	}), want: []string{"spec.matchConditions[gate-account]", "false", "lets requests it does not match through", optOut}},
	{name: "the gate policy with one validation more", on: "p", override: onPolicy(func(s *admissionv1.ValidatingAdmissionPolicySpec) {
		s.Validations = append(s.Validations, admissionv1.Validation{Expression: "true", Message: "always"})
	})},
	{name: "the wait container's upstream changed", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.InitContainers[0].Args = []string{"wait", "--namespace=p", "--upstream=other", "--timeout=1s"}
	}), want: []string{"initContainers[wait-upstream]", "must stay as stagecraft wrote it"}},
	{name: "the default deny without Egress", on: "p", override: on("default-deny", func(np *networkingv1.NetworkPolicy) {
		np.Spec.PolicyTypes = []networkingv1.PolicyType{networkingv1.PolicyTypeIngress}
	}), want: []string{"NetworkPolicy p/default-deny", "spec.policyTypes", "Egress traffic is no longer isolated", optOut}},
	{name: "the default deny on some pods", on: "p", override: on("default-deny", func(np *networkingv1.NetworkPolicy) {
		np.Spec.PodSelector.MatchLabels = map[string]string{"team": "a"}
	}), want: []string{"spec.podSelector", "other pods", optOut}},
	{name: "DNS from any namespace", on: "p", override: on("allow-dns", func(np *networkingv1.NetworkPolicy) {
		np.Spec.Egress[0].To = nil
	}), want: []string{"NetworkPolicy p/allow-dns", "spec.egress[0]", "traffic on its ports with every address", optOut}},
	// Accounts and tokens.
	{name: "the account's token mounted", on: "web", override: on("web", func(sa *corev1.ServiceAccount) {
		sa.AutomountServiceAccountToken = nil
	}), want: []string{"ServiceAccount p/web", "automountServiceAccountToken", "token is mounted", optOut}},
	{name: "the pod's token mounted", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.AutomountServiceAccountToken = ptr.To(true)
	}), want: []string{"Deployment p/web", "spec.template.spec.automountServiceAccountToken", "set Workload.ServiceAccountToken instead"}},
	{name: "the pods run as the gate's account", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.ServiceAccountName = "down-gate"
	}), want: []string{"spec.template.spec.serviceAccountName", "down-gate", "the gate of stage test/p/down", "which a stage may not run as"}},
	{name: "the main container borrows the wait's token", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.Containers[0].VolumeMounts = append(s.Containers[0].VolumeMounts, corev1.VolumeMount{Name: tokenVolume, MountPath: "/token", ReadOnly: true})
	}), want: []string{"spec.template.spec.containers[0].volumeMounts[1]", "mounts a service-account token into container web", "only stagecraft's wait container"}},
	{name: "a token projected for the main container", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.Volumes = append(s.Volumes, corev1.Volume{Name: "tok", VolumeSource: corev1.VolumeSource{Projected: &corev1.ProjectedVolumeSource{
			Sources: []corev1.VolumeProjection{{ServiceAccountToken: &corev1.ServiceAccountTokenProjection{Path: "t"}}}}}})
	}), want: []string{"spec.template.spec.volumes[2]", "projects a service-account token", "only stagecraft's wait container"}},
	{name: "an env var from a token Secret", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "T", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "nightly-executor.service-account-token"}, Key: "token"}}})
	}), want: []string{"spec.template.spec", "read the service account token Secret nightly-executor.service-account-token", optOut}},
	{name: "an env var from a Secret of the user's", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.Containers[0].Env = append(s.Containers[0].Env, corev1.EnvVar{Name: "T", ValueFrom: &corev1.EnvVarSource{SecretKeyRef: &corev1.SecretKeySelector{
			LocalObjectReference: corev1.LocalObjectReference{Name: "db"}, Key: "password"}}})
	})},
	{name: "the pods' name label changed", on: "web", override: webPod(func(_ *corev1.PodSpec, m *metav1.ObjectMeta) {
		m.Labels[labelName] = "down"
	}), want: []string{"spec.template.metadata.labels[app.kubernetes.io/name]", "select them by", `must stay "web"`, optOut}, count: 2},
	{name: "a label of the pods' own added", on: "web", override: webPod(func(_ *corev1.PodSpec, m *metav1.ObjectMeta) {
		m.Labels["team"] = "a"
	})},
	{name: "the pods' component label changed: nothing selects by it", on: "web", override: webPod(func(_ *corev1.PodSpec, m *metav1.ObjectMeta) {
		m.Labels[labelComponent] = "api"
	})},
	{name: "the pods labelled as an Argo workflow's", on: "web", override: webPod(func(_ *corev1.PodSpec, m *metav1.ObjectMeta) {
		m.Labels[workflowLabel] = "x"
	}), want: []string{"labels[workflows.argoproj.io/workflow]", "must stay unset", optOut}},
	{name: "the namespace without enforcement", on: "p", override: func(o runtime.Object) {
		if ns, ok := o.(*corev1.Namespace); ok {
			ns.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
		}
	}, want: []string{"Namespace p", "metadata.labels[pod-security.kubernetes.io/enforce]", "privileged", "AllowPrivilegedOverride", optOut}},
	{name: "the namespace without enforcement, for a privileged stage", on: "p", privileged: true, override: func(o runtime.Object) {
		if ns, ok := o.(*corev1.Namespace); ok {
			ns.Labels["pod-security.kubernetes.io/enforce"] = "privileged"
		}
	}},
	// What the waits need.
	{name: "an init container before the wait", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.InitContainers = append([]corev1.Container{initLike(s.InitContainers[0], "first")}, s.InitContainers...)
	}), want: []string{"spec.template.spec.initContainers[0]", "first", "before the upstream Jobs complete"}},
	{name: "an init container after the wait", on: "web", override: webPod(func(s *corev1.PodSpec, _ *metav1.ObjectMeta) {
		s.InitContainers = append(s.InitContainers, initLike(s.InitContainers[0], "after"))
	})},
	{name: "the Job others wait for suspended", on: "up", override: onJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) }),
		want: []string{"Job p/up", "spec.suspend", "never completes", "Queue"}},
	{name: "the Job others wait for with no pods", on: "up", override: onJob(func(j *batchv1.Job) { j.Spec.Parallelism = ptr.To[int32](0) }),
		want: []string{"spec.parallelism", "starts no pod"}},
	{name: "a held Job suspended: none waits for it", on: "down", override: onJob(func(j *batchv1.Job) { j.Spec.Suspend = ptr.To(true) })},
	{name: "a TTL on a Job none waits for", on: "down", override: onJob(func(j *batchv1.Job) { j.Spec.TTLSecondsAfterFinished = ptr.To[int32](60) }),
		want: []string{"after the override, spec.ttlSecondsAfterFinished:", "every deploy tool applies the whole output again"}},
}

func onPolicy(f func(*admissionv1.ValidatingAdmissionPolicySpec)) func(runtime.Object) {
	return on("stagecraft-gate.p.down-gate", func(p *admissionv1.ValidatingAdmissionPolicy) { f(&p.Spec) })
}

func onJob(f func(*batchv1.Job)) func(runtime.Object) {
	return func(o runtime.Object) {
		if j, ok := o.(*batchv1.Job); ok {
			f(j)
		}
	}
}

// initLike is an init container like c, named name, that needs no token.
func initLike(c corev1.Container, name string) corev1.Container {
	c.Name, c.Args, c.VolumeMounts = name, []string{"prepare"}, nil
	return c
}

// TestOverridesGrantNoMore: after its overrides, an object grants no more
// than it did as rendered, unless the pipeline allows it; and it keeps
// what the waits need.
func TestOverridesGrantNoMore(t *testing.T) {
	for _, row := range grantRows {
		t.Run(row.name, func(t *testing.T) {
			app := cdk8s.NewApp(nil)
			p := NewPipeline(cdk8s.NewChart(app, jsii.String("test"), nil), "p", PipelineProps{AllowWideningOverride: row.widen, Network: testAPI})
			up := NewBatchStage(p, "up", muBatch())
			down := NewBatchStage(p, "down", muBatch())
			props := muProc("http")
			props.Security.AllowPrivilegedOverride = row.privileged
			web := NewProcessorStage(p, "web", props)
			down.RunsAfter(up)
			web.RunsAfter(up)
			map[string]func(func(runtime.Object)){"p": p.Override, "up": up.Override, "down": down.Override, "web": web.Override}[row.on](row.override)
			_, err := Synthesize(app)
			if len(row.want) == 0 {
				if err != nil {
					t.Fatalf("want no problem, got %v", err)
				}
				if !row.widen && !row.privileged {
					vtExportApp(t, app)
				}
				return
			}
			var verr *ValidationError
			if !errors.As(err, &verr) {
				t.Fatalf("want a problem, got %v", err)
			}
			probs := verr.For("test/p/" + row.on)
			if row.on == "p" {
				probs = verr.For("test/p")
			}
			if n := max(row.count, 1); len(verr.Problems) != n || len(probs) != n {
				t.Fatalf("want %d problems of %s, got %v", n, row.on, verr)
			}
			for _, pr := range verr.Problems {
				text, ok := pr.String(), true
				for _, w := range append([]string{": Override"}, row.want...) {
					ok = ok && strings.Contains(text, w)
				}
				if ok {
					t.Log(text)
					return
				}
			}
			t.Errorf("no problem holds %q:\n%v", row.want, verr)
		})
	}
}
