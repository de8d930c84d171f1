package gate

import (
	"context"
	"fmt"

	batchv1 "k8s.io/api/batch/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/client-go/dynamic"
)

// localQueueVersions are the API versions of Kueue's LocalQueue, newest
// first: Kueue serves v1beta2 since v0.15 and v1beta1 before and since.
var localQueueVersions = []string{"v1beta2", "v1beta1"}

// Queues creates Kueue LocalQueues through the API.
type Queues struct {
	Client dynamic.Interface
}

// Ensure creates LocalQueue name on the ClusterQueue of LocalQueue like,
// with an owner reference to owner, so that the garbage collector deletes
// it with the Job. It returns nil if name exists already.
func (q Queues) Ensure(ctx context.Context, namespace, name, like string, owner *batchv1.Job) error {
	var lastErr error
	for _, v := range localQueueVersions {
		res := q.Client.Resource(schema.GroupVersionResource{Group: "kueue.x-k8s.io", Version: v, Resource: "localqueues"}).Namespace(namespace)
		chosen, err := res.Get(ctx, like, metav1.GetOptions{})
		if apierrors.IsNotFound(err) && isMissingResource(err) {
			lastErr = err
			continue // this version is not served
		}
		if err != nil {
			return fmt.Errorf("read LocalQueue %s: %w", like, err)
		}
		cq, _, _ := unstructured.NestedString(chosen.Object, "spec", "clusterQueue")
		if cq == "" {
			return fmt.Errorf("LocalQueue %s names no ClusterQueue", like)
		}
		lq := &unstructured.Unstructured{Object: map[string]any{
			"apiVersion": "kueue.x-k8s.io/" + v,
			"kind":       "LocalQueue",
			"metadata": map[string]any{
				"name": name, "namespace": namespace,
				"annotations": map[string]any{QueueAnnotation: like},
				"ownerReferences": []any{map[string]any{
					"apiVersion": "batch/v1", "kind": "Job", "name": owner.Name, "uid": string(owner.UID),
				}},
			},
			"spec": map[string]any{"clusterQueue": cq},
		}}
		_, err = res.Create(ctx, lq, metav1.CreateOptions{})
		if apierrors.IsAlreadyExists(err) {
			return nil
		}
		return err
	}
	return fmt.Errorf("the LocalQueue API of Kueue is not served (is Kueue installed?): %w", lastErr)
}

// isMissingResource tells a NotFound for an API that is not served from
// one for an object that does not exist.
func isMissingResource(err error) bool {
	var st apierrors.APIStatus
	if s, ok := err.(apierrors.APIStatus); ok {
		st = s
	}
	if st == nil {
		return false
	}
	d := st.Status().Details
	return d == nil || d.Name == ""
}
