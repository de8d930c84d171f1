package argo

import (
	"context"
	"testing"

	appsv1 "k8s.io/api/apps/v1"
	networkingv1 "k8s.io/api/networking/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime"
)

// checkPolicies proves that every NetworkPolicy of the app selects pods
// that ran: the pods the controller created for the Workflow, or those of
// the app's Deployments and StatefulSets. kube-score cannot see the pods a
// WorkflowTemplate makes, so `make kube-score` leaves that check to this
// test for apps with a WorkflowTemplate.
func checkPolicies(ctx context.Context, t *testing.T, c *cluster, a chainApp) {
	t.Helper()
	pods, err := c.client.CoreV1().Pods(a.namespace).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	var sets []labels.Set
	for _, p := range pods.Items {
		sets = append(sets, p.Labels)
	}
	var policies []networkingv1.NetworkPolicy
	for _, d := range a.docs {
		switch d.obj.GetKind() {
		case "Deployment", "StatefulSet":
			var w appsv1.Deployment // the pod template sits at the same path in both
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(d.obj.Object, &w); err != nil {
				t.Fatalf("%s %s: %v", d.obj.GetKind(), d.obj.GetName(), err)
			}
			sets = append(sets, w.Spec.Template.Labels)
		case "NetworkPolicy":
			var np networkingv1.NetworkPolicy
			if err := runtime.DefaultUnstructuredConverter.FromUnstructured(d.obj.Object, &np); err != nil {
				t.Fatalf("NetworkPolicy %s: %v", d.obj.GetName(), err)
			}
			policies = append(policies, np)
		}
	}
	for _, np := range policies {
		sel, err := metav1.LabelSelectorAsSelector(&np.Spec.PodSelector)
		if err != nil {
			t.Errorf("NetworkPolicy %s: %v", np.Name, err)
			continue
		}
		matched := false
		for _, s := range sets {
			matched = matched || sel.Matches(s)
		}
		if !matched {
			t.Errorf("NetworkPolicy %s/%s (podSelector %s) selects none of the %d pods that ran, nor a Deployment's or StatefulSet's", a.namespace, np.Name, sel, len(pods.Items))
		}
	}
	t.Logf("network policies: each of %d selects pods that ran (%d pods in %s)", len(policies), len(pods.Items), a.namespace)
}
