package node

import (
	"context"
	"fmt"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/apimachinery/pkg/watch"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// podWatch follows every version of the pods of a run's namespaces, from
// before the apply: what a pod looked like when it was created and while
// it carried the gate's scheduling gate, which its final state no longer
// shows.
type podWatch struct {
	mu   sync.Mutex
	pods map[types.UID]*podHistory
	err  error
	stop func()
}

// podHistory is what the watch saw of one pod. Times are the suite's clock
// when the version arrived (the API server runs on the same machine).
type podHistory struct {
	name, job string
	// created: the watch delivered the pod's creation (ADDED after the
	// watch began), so first is the pod as created.
	created   bool
	firstSeen time.Time
	// createdGated: the pod was created with the gate's scheduling gate.
	createdGated bool
	// gatedOnNode names a node a version with the gate was bound to
	// (must never happen).
	gatedOnNode string
	// schedulingGated: the scheduler reported it unschedulable because
	// of its scheduling gates (PodScheduled=False, SchedulingGated).
	schedulingGated bool
	// ungatedSeen is when a version without the gate first arrived.
	ungatedSeen time.Time
	// accelerators its containers request (held while gated on no node).
	accelerators int64
}

// watchPods starts following the pods of namespaces.
func (c *cluster) watchPods(ctx context.Context, namespaces []string) (*podWatch, error) {
	in := map[string]bool{}
	for _, ns := range namespaces {
		in[ns] = true
	}
	list, err := c.client.CoreV1().Pods("").List(ctx, metav1.ListOptions{})
	if err != nil {
		return nil, err
	}
	ctx, cancel := context.WithCancel(ctx)
	w := &podWatch{pods: map[types.UID]*podHistory{}}
	for i := range list.Items {
		if p := &list.Items[i]; in[p.Namespace] {
			w.see(p, false)
		}
	}
	var wg sync.WaitGroup
	wg.Add(1)
	w.stop = func() { cancel(); wg.Wait() }
	go func() {
		defer wg.Done()
		rv := list.ResourceVersion
		for ctx.Err() == nil {
			wi, err := c.client.CoreV1().Pods("").Watch(ctx, metav1.ListOptions{ResourceVersion: rv, AllowWatchBookmarks: true})
			if err != nil {
				w.fail(fmt.Errorf("watch pods: %w", err))
				return
			}
			for ev := range wi.ResultChan() {
				switch ev.Type {
				case watch.Error:
					w.fail(fmt.Errorf("watch pods: %v", ev.Object))
					wi.Stop()
					return
				case watch.Added, watch.Modified, watch.Deleted, watch.Bookmark:
					p, ok := ev.Object.(*corev1.Pod)
					if !ok {
						continue
					}
					rv = p.ResourceVersion
					if ev.Type != watch.Bookmark && in[p.Namespace] {
						w.see(p, ev.Type == watch.Added)
					}
				}
			}
			wi.Stop()
		}
	}()
	return w, nil
}

func (w *podWatch) fail(err error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.err == nil {
		w.err = err
	}
}

func (w *podWatch) see(p *corev1.Pod, added bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	now := time.Now()
	h := w.pods[p.UID]
	gated := false
	for _, g := range p.Spec.SchedulingGates {
		gated = gated || g.Name == gate.SchedulingGate
	}
	if h == nil {
		h = &podHistory{name: p.Name, job: p.Labels["batch.kubernetes.io/job-name"], created: added, firstSeen: now,
			createdGated: added && gated, accelerators: podAccelerators(p)}
		w.pods[p.UID] = h
	}
	if gated {
		if p.Spec.NodeName != "" {
			h.gatedOnNode = p.Spec.NodeName
		}
		for _, c := range p.Status.Conditions {
			if c.Type == corev1.PodScheduled && c.Status == corev1.ConditionFalse && c.Reason == corev1.PodReasonSchedulingGated {
				h.schedulingGated = true
			}
		}
	} else if h.ungatedSeen.IsZero() {
		h.ungatedSeen = now
	}
}

// of returns a copy of the history of the pod named name (nil if the
// watch did not see it), and the watch's error, if it failed.
func (w *podWatch) of(name string) (*podHistory, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, h := range w.pods {
		if h.name == name {
			c := *h
			return &c, w.err
		}
	}
	return nil, w.err
}

// podAccelerators sums the extended resources (anything but CPU, memory,
// ephemeral storage and huge pages) the pod's containers ask for.
func podAccelerators(p *corev1.Pod) int64 {
	var n int64
	for _, c := range append(append([]corev1.Container{}, p.Spec.InitContainers...), p.Spec.Containers...) {
		for name, q := range c.Resources.Limits {
			switch s := string(name); {
			case s == "cpu", s == "memory", s == "ephemeral-storage", len(s) > 9 && s[:9] == "hugepages":
			default:
				n += q.Value()
			}
		}
	}
	return n
}
