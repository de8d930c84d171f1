package node

import (
	"context"
	"fmt"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

const (
	sentinelImage     = "stagecraft.test/workload:v1"
	sentinelNamespace = "stagecraft-node-probe"
	sentinelPort      = 7777
	// sentinelTarget is an address no app declares: a pod that reaches
	// it is not under its policies (yet).
	sentinelTarget = "sentinel." + sentinelNamespace + ".svc:7777"
)

// corefile serves the cluster's names and nothing else: there is no
// upstream resolver to forward to, and nothing may leave the node.
const corefile = `.:53 {
    errors
    health :8080
    ready :8181
    kubernetes cluster.local in-addr.arpa ip6.arpa {
        pods insecure
        fallthrough in-addr.arpa ip6.arpa
    }
    cache 5
    loadbalance
}
`

func restrictedContext() (*corev1.PodSecurityContext, *corev1.SecurityContext) {
	uid := int64(65532)
	no, yes := false, true
	return &corev1.PodSecurityContext{
			RunAsUser: &uid, RunAsGroup: &uid, RunAsNonRoot: &yes,
			SeccompProfile: &corev1.SeccompProfile{Type: corev1.SeccompProfileTypeRuntimeDefault},
		}, &corev1.SecurityContext{
			AllowPrivilegeEscalation: &no, ReadOnlyRootFilesystem: &yes,
			Capabilities: &corev1.Capabilities{Drop: []corev1.Capability{"ALL"}},
		}
}

// startDNS runs CoreDNS (built from its module) as the cluster DNS: a
// Deployment in kube-system behind the Service kube-dns at the address
// kubelet gives pods, as kubeadm sets it up, so that the apps' policy
// "allow DNS to kube-system" is what lets their lookups through.
func (c *cluster) startDNS() error {
	ctx := context.Background()
	ns := "kube-system"
	labels := map[string]string{"k8s-app": "kube-dns"}
	cs := c.client
	if err := ensure(create(cs.CoreV1().ServiceAccounts(ns).Create(ctx, &corev1.ServiceAccount{ObjectMeta: metav1.ObjectMeta{Name: "coredns"}}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	if err := ensure(create(cs.RbacV1().ClusterRoles().Create(ctx, &rbacv1.ClusterRole{
		ObjectMeta: metav1.ObjectMeta{Name: "stagecraft-node:coredns"},
		Rules: []rbacv1.PolicyRule{
			{APIGroups: []string{""}, Resources: []string{"endpoints", "services", "pods", "namespaces"}, Verbs: []string{"list", "watch"}},
			{APIGroups: []string{"discovery.k8s.io"}, Resources: []string{"endpointslices"}, Verbs: []string{"list", "watch"}},
		},
	}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	if err := ensure(create(cs.RbacV1().ClusterRoleBindings().Create(ctx, &rbacv1.ClusterRoleBinding{
		ObjectMeta: metav1.ObjectMeta{Name: "stagecraft-node:coredns"},
		RoleRef:    rbacv1.RoleRef{APIGroup: "rbac.authorization.k8s.io", Kind: "ClusterRole", Name: "stagecraft-node:coredns"},
		Subjects:   []rbacv1.Subject{{Kind: "ServiceAccount", Name: "coredns", Namespace: ns}},
	}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	if err := ensure(create(cs.CoreV1().ConfigMaps(ns).Create(ctx, &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns"}, Data: map[string]string{"Corefile": corefile},
	}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	podSC, sc := restrictedContext()
	one := int32(1)
	dep := &appsv1.Deployment{
		ObjectMeta: metav1.ObjectMeta{Name: "coredns", Labels: labels},
		Spec: appsv1.DeploymentSpec{
			Replicas: &one,
			Selector: &metav1.LabelSelector{MatchLabels: labels},
			Template: corev1.PodTemplateSpec{
				ObjectMeta: metav1.ObjectMeta{Labels: labels},
				Spec: corev1.PodSpec{
					ServiceAccountName: "coredns",
					DNSPolicy:          corev1.DNSDefault,
					SecurityContext:    podSC,
					Containers: []corev1.Container{{
						Name: "coredns", Image: corednsImage, ImagePullPolicy: corev1.PullNever,
						Args:            []string{"-conf", "/etc/coredns/Corefile"},
						SecurityContext: sc,
						Ports: []corev1.ContainerPort{
							{Name: "dns", ContainerPort: 53, Protocol: corev1.ProtocolUDP},
							{Name: "dns-tcp", ContainerPort: 53, Protocol: corev1.ProtocolTCP},
						},
						ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{HTTPGet: &corev1.HTTPGetAction{Path: "/ready", Port: intstr.FromInt32(8181)}}, PeriodSeconds: 2},
						VolumeMounts:   []corev1.VolumeMount{{Name: "config", MountPath: "/etc/coredns", ReadOnly: true}},
					}},
					Volumes: []corev1.Volume{{Name: "config", VolumeSource: corev1.VolumeSource{ConfigMap: &corev1.ConfigMapVolumeSource{LocalObjectReference: corev1.LocalObjectReference{Name: "coredns"}}}}},
				},
			},
		},
	}
	if err := ensure(create(cs.AppsV1().Deployments(ns).Create(ctx, dep, metav1.CreateOptions{}))); err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "kube-dns", Labels: labels},
		Spec: corev1.ServiceSpec{
			ClusterIP: dnsService,
			Selector:  labels,
			Ports: []corev1.ServicePort{
				{Name: "dns", Port: 53, Protocol: corev1.ProtocolUDP, TargetPort: intstr.FromInt32(53)},
				{Name: "dns-tcp", Port: 53, Protocol: corev1.ProtocolTCP, TargetPort: intstr.FromInt32(53)},
			},
		},
	}
	if err := ensure(create(cs.CoreV1().Services(ns).Create(ctx, svc, metav1.CreateOptions{}))); err != nil {
		return err
	}
	return c.waitReady(ctx, ns, "k8s-app=kube-dns", 1, 120*time.Second)
}

// startSentinel runs a pod that answers HTTP in a namespace of its own,
// with no policy: every app pod's egress to it must be refused once the
// app's policies are in force (see policies in apps_test.go).
func (c *cluster) startSentinel() error {
	ctx := context.Background()
	cs := c.client
	if err := ensure(create(cs.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: sentinelNamespace}}, metav1.CreateOptions{}))); err != nil {
		return err
	}
	labels := map[string]string{"app": "sentinel"}
	podSC, sc := restrictedContext()
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: "sentinel", Labels: labels},
		Spec: corev1.PodSpec{
			AutomountServiceAccountToken: new(bool),
			SecurityContext:              podSC,
			Containers: []corev1.Container{{
				Name: "sentinel", Image: sentinelImage, ImagePullPolicy: corev1.PullNever,
				Command:         []string{workloadPath, "-serve", fmt.Sprint(sentinelPort)},
				SecurityContext: sc,
				// Unnamed: no policy's named port may match it by accident.
				Ports:          []corev1.ContainerPort{{ContainerPort: sentinelPort}},
				ReadinessProbe: &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(sentinelPort)}}, PeriodSeconds: 1},
			}},
		},
	}
	if err := ensure(create(cs.CoreV1().Pods(sentinelNamespace).Create(ctx, pod, metav1.CreateOptions{}))); err != nil {
		return err
	}
	svc := &corev1.Service{
		ObjectMeta: metav1.ObjectMeta{Name: "sentinel"},
		Spec:       corev1.ServiceSpec{Selector: labels, Ports: []corev1.ServicePort{{Port: sentinelPort, TargetPort: intstr.FromInt32(sentinelPort)}}},
	}
	if err := ensure(create(cs.CoreV1().Services(sentinelNamespace).Create(ctx, svc, metav1.CreateOptions{}))); err != nil {
		return err
	}
	return c.waitReady(ctx, sentinelNamespace, "app=sentinel", 1, 60*time.Second)
}

// create drops the object a Create returns, keeping its error.
func create[T any](_ T, err error) error { return err }

// waitReady waits until n pods matching selector in ns are Ready.
func (c *cluster) waitReady(ctx context.Context, ns, selector string, n int, timeout time.Duration) error {
	return waitFor(timeout, 500*time.Millisecond, c.procs, func() (bool, error) {
		pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
		if err != nil {
			return false, err
		}
		ready := 0
		var why []string
		for _, p := range pods.Items {
			if podReady(&p) {
				ready++
			} else {
				why = append(why, p.Name+": "+podProblem(&p))
			}
		}
		return ready >= n, fmt.Errorf("%d/%d pods %s in %s ready; %v", ready, n, selector, ns, why)
	})
}

func podReady(p *corev1.Pod) bool {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.Status == corev1.ConditionTrue
		}
	}
	return false
}

// podProblem says in a few words why a pod is not running yet.
func podProblem(p *corev1.Pod) string {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodScheduled && c.Status != corev1.ConditionTrue {
			return "unscheduled: " + c.Message
		}
	}
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if w := s.State.Waiting; w != nil && w.Reason != "" && w.Reason != "PodInitializing" {
			return fmt.Sprintf("%s: %s %s", s.Name, w.Reason, w.Message)
		}
		if t := s.State.Terminated; t != nil && t.ExitCode != 0 {
			return fmt.Sprintf("%s: exited %d (%s) %s", s.Name, t.ExitCode, t.Reason, t.Message)
		}
	}
	return string(p.Status.Phase)
}
