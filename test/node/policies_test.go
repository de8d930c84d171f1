package node

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"sort"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// probeLabel marks the pods the suite adds to test the policies of a Job's
// or CronJob's pods, which have ended by then.
const probeLabel = "stagecraft.test/policy-probe"

// source is a pod from which the suite makes calls through its /probe.
type source struct {
	tm    *template
	pod   *corev1.Pod
	port  int32
	probe bool // a pod the suite made with the template's labels
}

func (s source) String() string {
	if s.probe {
		return fmt.Sprintf("%s (probe pod %s with its pod labels)", s.tm, s.pod.Name)
	}
	return fmt.Sprintf("%s (pod %s)", s.tm, s.pod.Name)
}

// expectation is one connection and whether the app's declarations allow it.
type expectation struct {
	target  string
	allowed bool
	why     string
	callee  string // for declared calls: the pod must be this Service's
}

// provePolicies makes, from a pod of every stage (under its policies, as
// enforced by the NetworkPolicy engine on the node), each call the stage
// declares, which must connect and be answered by the callee, and a call to
// every other Service port of the app, which must be refused. Stages that
// wait must reach the Kubernetes API. Before that, each source's call to a
// sentinel outside the app must be refused: proof that its policies are in
// force (the engine learns a new pod's address a moment after it starts).
func (r *run) provePolicies(ctx context.Context, t reporter) {
	if len(policies(r.objs)) == 0 {
		t.Skipf("NOT PROVEN (not a failure): %s has no NetworkPolicy", r.unit.name)
	}
	if err := r.c.policyErr; err != nil {
		r.summary = append(r.summary, "policies NOT PROVEN (no engine)")
		t.Skipf("NOT PROVEN (not a failure): no NetworkPolicy engine runs on this node: %v", err)
	}
	sources, err := r.sources(ctx, t)
	if err != nil {
		t.Fatalf("%v", err)
	}
	svcs := services(r.objs)
	var mu sync.Mutex
	allowed, allowedOK, refused, refusedOK := 0, 0, 0, 0
	var wg sync.WaitGroup
	for _, src := range sources {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if err := r.inForce(ctx, src); err != nil {
				t.Errorf("%s: %v", src, err)
				return
			}
			for _, e := range r.expectations(src, svcs) {
				res, err := probe(ctx, src, e.target, 2*time.Second)
				if err != nil {
					t.Errorf("%s: probe %s: %v", src, e.target, err)
					continue
				}
				mu.Lock()
				if e.allowed {
					allowed++
				} else {
					refused++
				}
				mu.Unlock()
				if e.allowed {
					switch {
					case !res.Connected:
						t.Errorf("%s: %s (%s) was refused, want allowed: %s (addresses %v)", src, e.target, e.why, res.Error, res.Addresses)
					case e.callee != "" && res.Answer == nil:
						t.Errorf("%s: %s (%s) connected but was not answered by the workload: %s", src, e.target, e.why, res.Error)
					case e.callee != "" && r.isCallee(ctx, e.target, res.Answer.Pod) != nil:
						t.Errorf("%s: %s (%s): %v", src, e.target, e.why, r.isCallee(ctx, e.target, res.Answer.Pod))
					default:
						mu.Lock()
						allowedOK++
						mu.Unlock()
						t.Logf("%s: %s allowed (%s)", src, e.target, e.why)
					}
					continue
				}
				if res.Connected {
					t.Errorf("%s: %s (%s) connected, want refused by the policies", src, e.target, e.why)
				} else {
					mu.Lock()
					refusedOK++
					mu.Unlock()
				}
			}
		}()
	}
	wg.Wait()
	r.summary = append(r.summary, fmt.Sprintf("policies (kube-router on the node, %d sources): declared allowed %d/%d, undeclared refused %d/%d",
		len(sources), allowedOK, allowed, refusedOK, refused))
}

// expectations lists what src may and may not reach.
func (r *run) expectations(src source, svcs []*corev1.Service) []expectation {
	var exps []expectation
	declared := map[string]bool{}
	for _, ctr := range src.tm.spec.Spec.Containers {
		for _, cl := range callsOf(ctr) {
			declared[canonical(cl.target)] = true
			exps = append(exps, expectation{target: cl.target, allowed: true, why: "declared by " + cl.env, callee: cl.target})
		}
	}
	if len(gatesOf(src.tm)) > 0 {
		exps = append(exps, expectation{target: "kubernetes.default.svc:443", allowed: true, why: "the stage waits for Jobs through the API"})
	}
	for _, svc := range svcs {
		if labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(src.tm.spec.Labels)) && len(svc.Spec.Selector) > 0 {
			continue // its own Service
		}
		for _, p := range svc.Spec.Ports {
			if p.Protocol != "" && p.Protocol != corev1.ProtocolTCP {
				continue
			}
			target := fmt.Sprintf("%s.%s.svc:%d", svc.Name, svc.Namespace, p.Port)
			if declared[canonical(target)] {
				continue
			}
			exps = append(exps, expectation{target: target, why: "no declared call to " + svc.Name + ":" + p.Name})
		}
	}
	sort.Slice(exps, func(i, j int) bool { return exps[i].target < exps[j].target })
	return exps
}

// canonical turns host:port into <service>.<namespace>:port.
func canonical(target string) string {
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		return target
	}
	parts := strings.Split(host, ".")
	if len(parts) >= 2 {
		host = parts[0] + "." + parts[1]
	}
	return host + ":" + port
}

// inForce waits until the source's policies are in force. Normally its
// call to the sentinel, which no policy allows, must be refused. When the
// source's own egress rules may allow the sentinel (a rule open to every
// destination, say), that proves nothing, and the suite waits instead for a
// full sync of kube-router's rules that started after the pod was Ready.
func (r *run) inForce(ctx context.Context, src source) error {
	sentinel, err := r.c.client.CoreV1().Pods(sentinelNamespace).Get(ctx, "sentinel", metav1.GetOptions{})
	if err != nil {
		return err
	}
	if r.mayReachSentinel(src, sentinel) {
		ready := readySince(src.pod)
		return waitFor(60*time.Second, time.Second, r.c.procs, func() (bool, error) {
			return r.c.policySyncedAfter(ready), fmt.Errorf("no full sync of kube-router's rules since %s", ready.Format(time.RFC3339))
		})
	}
	var last callResult
	err = waitFor(30*time.Second, time.Second, r.c.procs, func() (bool, error) {
		res, err := probe(ctx, src, sentinelTarget, 2*time.Second)
		if err != nil {
			return false, err
		}
		last = res
		return !res.Connected && strings.HasPrefix(res.Error, "connect:"), fmt.Errorf("sentinel %s: connected=%v %s", sentinelTarget, res.Connected, res.Error)
	})
	if err != nil {
		return fmt.Errorf("its policies are not in force: a call to %s, which no policy allows, still got through (or failed otherwise: %s): %v", sentinelTarget, last.Error, err)
	}
	return nil
}

// readySince is when the pod last became Ready.
func readySince(p *corev1.Pod) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == corev1.PodReady {
			return c.LastTransitionTime.Time
		}
	}
	return p.CreationTimestamp.Time
}

// mayReachSentinel tells whether an egress rule of a policy selecting the
// source could allow a connection to the sentinel pod.
func (r *run) mayReachSentinel(src source, sentinel *corev1.Pod) bool {
	sentinelIP := net.ParseIP(sentinel.Status.PodIP)
	nsLabels := labels.Set{"kubernetes.io/metadata.name": sentinelNamespace}
	for _, p := range policies(r.objs) {
		if p.Namespace != src.pod.Namespace {
			continue
		}
		sel, err := metav1.LabelSelectorAsSelector(&p.Spec.PodSelector)
		if err != nil || !sel.Matches(labels.Set(src.pod.Labels)) {
			continue
		}
		for _, rule := range p.Spec.Egress {
			portOK := len(rule.Ports) == 0
			for _, port := range rule.Ports {
				if port.Port == nil || (port.Port.Type == intstr.Int && port.Port.IntVal == sentinelPort) ||
					(port.EndPort != nil && port.Port.Type == intstr.Int && port.Port.IntVal <= sentinelPort && *port.EndPort >= sentinelPort) {
					portOK = true
				}
			}
			if !portOK {
				continue
			}
			if len(rule.To) == 0 {
				return true
			}
			for _, peer := range rule.To {
				if b := peer.IPBlock; b != nil && sentinelIP != nil {
					if _, cidr, err := net.ParseCIDR(b.CIDR); err == nil && cidr.Contains(sentinelIP) {
						excluded := false
						for _, ex := range b.Except {
							if _, e, err := net.ParseCIDR(ex); err == nil && e.Contains(sentinelIP) {
								excluded = true
							}
						}
						if !excluded {
							return true
						}
					}
				}
				if peer.NamespaceSelector != nil {
					if ns, err := metav1.LabelSelectorAsSelector(peer.NamespaceSelector); err == nil && ns.Matches(nsLabels) {
						return true
					}
				}
			}
		}
	}
	return false
}

// probe asks the workload of src to call target and returns its result.
// The request comes from the node as root, which the engine lets through
// (as kubelet's probes); the call itself leaves the pod under its policies.
func probe(ctx context.Context, src source, target string, timeout time.Duration) (callResult, error) {
	u := fmt.Sprintf("http://%s/probe?target=%s&timeout=%s", net.JoinHostPort(src.pod.Status.PodIP, fmt.Sprint(src.port)), url.QueryEscape(target), timeout)
	ctx, cancel := context.WithTimeout(ctx, timeout+5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, u, nil)
	if err != nil {
		return callResult{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return callResult{}, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	var res callResult
	if err := json.Unmarshal(body, &res); err != nil {
		return callResult{}, fmt.Errorf("%s: %q: %v", u, body, err)
	}
	return res, nil
}

// sources picks a Ready pod of each long-running stage, and makes a probe
// pod for each Job and CronJob stage: its template's namespace, labels,
// service account and security context, running the workload's server.
func (r *run) sources(ctx context.Context, t reporter) ([]source, error) {
	var out []source
	for _, tm := range r.tmpls {
		switch tm.kind {
		case longRunning, barePod:
			pods, err := r.podsOf(ctx, tm)
			if err != nil {
				return nil, err
			}
			port := servedPort(tm)
			for i := range pods {
				if podReady(&pods[i]) && port > 0 {
					out = append(out, source{tm: tm, pod: &pods[i], port: port})
					break
				}
			}
			if port == 0 {
				r.note("NOT PROVEN (not a failure): %s serves no TCP port; its policies were not probed", tm)
			}
		case batchJob, cronJob:
			pod, err := r.probePod(ctx, tm)
			if err != nil {
				return nil, fmt.Errorf("%s: probe pod: %w", tm, err)
			}
			out = append(out, source{tm: tm, pod: pod, port: 8080, probe: true})
		}
	}
	return out, nil
}

func servedPort(tm *template) int32 {
	for _, c := range tm.spec.Spec.Containers {
		for _, p := range c.Ports {
			if p.Protocol == "" || p.Protocol == corev1.ProtocolTCP {
				return p.ContainerPort
			}
		}
	}
	return 0
}

func (r *run) probePod(ctx context.Context, tm *template) (*corev1.Pod, error) {
	spec := tm.spec.Spec
	// The security context of its app container (a gate Job has only the
	// gate's container).
	app := spec.Containers[0]
	for _, c := range spec.Containers {
		if !isGateProgram(c) {
			app = c
			break
		}
	}
	lbls := map[string]string{probeLabel: "true"}
	for k, v := range tm.spec.Labels {
		lbls[k] = v
	}
	name := "policy-probe-" + tm.obj.u.GetName()
	if len(name) > 63 {
		name = name[:63]
	}
	no := false
	pod := &corev1.Pod{
		ObjectMeta: metav1.ObjectMeta{Name: name, Namespace: tm.ns(), Labels: lbls},
		Spec: corev1.PodSpec{
			ServiceAccountName:           spec.ServiceAccountName,
			AutomountServiceAccountToken: &no,
			SecurityContext:              spec.SecurityContext,
			NodeSelector:                 spec.NodeSelector,
			Tolerations:                  spec.Tolerations,
			EnableServiceLinks:           &no,
			Containers: []corev1.Container{{
				Name: "probe", Image: sentinelImage, ImagePullPolicy: corev1.PullNever,
				Command:         []string{workloadPath, "-serve", "8080"},
				SecurityContext: app.SecurityContext,
				ReadinessProbe:  &corev1.Probe{ProbeHandler: corev1.ProbeHandler{TCPSocket: &corev1.TCPSocketAction{Port: intstr.FromInt32(8080)}}, PeriodSeconds: 1},
			}},
		},
	}
	if _, err := r.c.client.CoreV1().Pods(tm.ns()).Create(ctx, pod, metav1.CreateOptions{}); err != nil {
		return nil, err
	}
	if err := r.c.waitReady(ctx, tm.ns(), probeLabel+"=true,"+labels.SelectorFromSet(tm.spec.Labels).String(), 1, 90*time.Second); err != nil {
		return nil, err
	}
	return r.c.client.CoreV1().Pods(tm.ns()).Get(ctx, name, metav1.GetOptions{})
}
