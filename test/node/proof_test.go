package node

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"net"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
)

var crdResource = schema.GroupVersionResource{Group: "apiextensions.k8s.io", Version: "v1", Resource: "customresourcedefinitions"}

// result is one line of a workload's report (see workload/main.go).
type result struct {
	Check  string `json:"check"`
	Target string `json:"target"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail"`
	Time   string `json:"time"`
}

func (r result) at() time.Time {
	t, _ := time.Parse(time.RFC3339Nano, r.Time)
	return t
}

type identity struct {
	Pod    string  `json:"pod"`
	UID    int64   `json:"uid"`
	GID    int64   `json:"gid"`
	Groups []int64 `json:"groups"`
}

type callResult struct {
	Target    string    `json:"target"`
	Addresses []string  `json:"addresses"`
	Connected bool      `json:"connected"`
	Answer    *identity `json:"answer"`
	Error     string    `json:"error"`
}

// report is what one app container of one pod reported.
type report struct {
	tm      *template
	pod     *corev1.Pod
	ctr     corev1.Container
	results []result
}

func (rp *report) first(check string) *result {
	for i := range rp.results {
		if rp.results[i].Check == check {
			return &rp.results[i]
		}
	}
	return nil
}

func (rp *report) String() string {
	return fmt.Sprintf("%s pod %s container %s", rp.tm, rp.pod.Name, rp.ctr.Name)
}

var collectMu sync.Mutex

// reports reads the workload reports of every app container of every pod
// of the run (once).
func (r *run) reports(ctx context.Context, t reporter) []*report {
	collectMu.Lock()
	defer collectMu.Unlock()
	if r.collected != nil {
		return r.collected
	}
	r.collected = []*report{}
	for _, tm := range r.tmpls {
		if tm.kind == cronJob && r.fromCron[tm] == "" {
			continue
		}
		pods, err := r.podsOf(ctx, tm)
		if err != nil {
			t.Fatalf("%s: pods: %v", tm, err)
		}
		for i := range pods {
			pod := &pods[i]
			if pod.Status.Phase == corev1.PodFailed {
				continue
			}
			for _, plan := range r.plans[tm] {
				if plan.gate {
					continue
				}
				ctr := containerNamed(tm.spec, plan.name)
				rp := &report{tm: tm, pod: pod, ctr: ctr}
				// A running workload may still be calling a callee that
				// became ready late: read until it has said "checked".
				err := waitFor(90*time.Second, time.Second, r.c.procs, func() (bool, error) {
					raw, err := r.c.client.CoreV1().Pods(pod.Namespace).GetLogs(pod.Name, &corev1.PodLogOptions{Container: ctr.Name}).DoRaw(ctx)
					if err != nil {
						return false, fmt.Errorf("read its log through the API server and kubelet: %w", err)
					}
					rp.results = parseResults(string(raw))
					return rp.first("checked") != nil, fmt.Errorf("its workload has not finished its checks")
				})
				if err != nil {
					t.Errorf("%s pod %s container %s: %v", tm, pod.Name, ctr.Name, err)
				}
				r.collected = append(r.collected, rp)
			}
		}
	}
	return r.collected
}

func containerNamed(spec *corev1.PodTemplateSpec, name string) corev1.Container {
	for _, c := range append(append([]corev1.Container{}, spec.Spec.InitContainers...), spec.Spec.Containers...) {
		if c.Name == name {
			return c
		}
	}
	return corev1.Container{Name: name}
}

// proveSecurity: every app container ran as the user, group and
// supplementary group (fsGroup) its manifest sets, not as root, and could
// not create a file in its read-only root file system.
func (r *run) proveSecurity(ctx context.Context, t reporter) {
	rps := r.reports(ctx, t)
	ok, rootfs := 0, 0
	uids := map[int64]bool{}
	for _, rp := range rps {
		start := rp.first("start")
		if start == nil {
			t.Errorf("%s: no report from the workload (it did not run)", rp)
			continue
		}
		var id identity
		if err := json.Unmarshal([]byte(start.Detail), &id); err != nil {
			t.Errorf("%s: start report %q: %v", rp, start.Detail, err)
			continue
		}
		uid, gid, fsGroup := effectiveIDs(&rp.tm.spec.Spec, &rp.ctr)
		good := true
		if id.UID == 0 {
			t.Errorf("%s: ran as root (uid 0)", rp)
			good = false
		}
		if uid != nil && id.UID != *uid {
			t.Errorf("%s: ran as uid %d, the manifest sets runAsUser %d", rp, id.UID, *uid)
			good = false
		}
		if gid != nil && id.GID != *gid {
			t.Errorf("%s: ran as gid %d, the manifest sets runAsGroup %d", rp, id.GID, *gid)
			good = false
		}
		if fsGroup != nil && !contains(id.Groups, *fsGroup) {
			t.Errorf("%s: supplementary groups %v lack fsGroup %d", rp, id.Groups, *fsGroup)
			good = false
		}
		if good {
			ok++
			uids[id.UID] = true
		}
		if res := rp.first("rootfs"); res != nil {
			if res.OK {
				rootfs++
			} else {
				t.Errorf("%s: root file system is writable: %s", rp, res.Detail)
			}
		} else if sc := rp.ctr.SecurityContext; sc == nil || sc.ReadOnlyRootFilesystem == nil || !*sc.ReadOnlyRootFilesystem {
			r.note("%s: readOnlyRootFilesystem is not set; the root file system was not checked", rp)
		}
	}
	var us []string
	for u := range uids {
		us = append(us, fmt.Sprint(u))
	}
	r.summary = append(r.summary, fmt.Sprintf("%d containers started under Pod Security restricted as uid %s (%d/%d as declared), root fs read-only %d/%d",
		len(rps), strings.Join(us, ","), ok, len(rps), rootfs, len(rps)))
}

func contains(xs []int64, x int64) bool {
	for _, v := range xs {
		if v == x {
			return true
		}
	}
	return false
}

// proveWrites: each container wrote where stagecraft says it may write
// (its /tmp, scratch, memory-backed and claimed volumes) and could not
// write its read-only mounts.
func (r *run) proveWrites(ctx context.Context, t reporter) {
	writes, wrote, ro, roOK := 0, 0, 0, 0
	claims := map[string]bool{}
	for _, rp := range r.reports(ctx, t) {
		vols := map[string]corev1.Volume{}
		for _, v := range rp.tm.spec.Spec.Volumes {
			vols[v.Name] = v
		}
		byPath := map[string]string{}
		for _, m := range rp.ctr.VolumeMounts {
			if v := vols[m.Name]; v.PersistentVolumeClaim != nil {
				byPath[m.MountPath] = v.PersistentVolumeClaim.ClaimName
			} else if rp.tm.claimTemplates[m.Name] {
				byPath[m.MountPath] = m.Name + "-" + rp.pod.Name
			}
		}
		for _, res := range rp.results {
			switch res.Check {
			case "write":
				writes++
				if res.OK {
					wrote++
					if c := byPath[res.Target]; c != "" {
						claims[c] = true
					}
				} else {
					t.Errorf("%s: could not write in %s: %s", rp, res.Target, res.Detail)
				}
			case "readonly":
				ro++
				if res.OK {
					roOK++
				} else {
					t.Errorf("%s: read-only mount %s was writable: %s", rp, res.Target, res.Detail)
				}
			}
		}
	}
	if writes == 0 {
		t.Errorf("no container of %s declared a writable mount (not even /tmp)", r.unit.name)
	}
	r.summary = append(r.summary, fmt.Sprintf("writes %d/%d (claims through fsGroup: %s), read-only mounts refused %d/%d", wrote, writes, strings.Join(sortedKeys(claims), ","), roOK, ro))
}

// proveWaits: for each pod template with a wait (the gate program's wait
// mode in the init container wait-upstream), every pod's wait container ran
// the gate program (inspectGate: its image, its arguments, restricted, its
// requests as the pod's ServiceAccount with the pod's own token), read each
// upstream Job, ended with exit status 0 saying the upstream completed, and
// finished after it completed; the token reached no other container; and
// the pod's first app container started after each upstream Job completed,
// by the API server's times (1 s) and the workloads' own clocks (ns). The
// first such pod existed before the upstream completed, so the wait really
// held it.
func (r *run) proveWaits(ctx context.Context, t reporter) {
	ups := map[string]*upstream{}
	getUp := func(ns, name string) (*upstream, error) {
		if u := ups[ns+"/"+name]; u != nil {
			return u, nil
		}
		u, err := r.upstreamOf(ctx, t, ns, name)
		if err == nil {
			ups[ns+"/"+name] = u
		}
		return u, err
	}
	total, gated := 0, 0
	var lines []string
	for _, tm := range r.tmpls {
		waits := waitsOf(tm)
		if len(waits) == 0 {
			continue
		}
		var rps []*report
		for _, rp := range r.reports(ctx, t) {
			if rp.tm == tm {
				rps = append(rps, rp)
			}
		}
		if len(rps) == 0 {
			t.Errorf("%s waits for %v but none of its pods reported", tm, waits[0].cmd.Upstream)
			continue
		}
		pods, err := r.podsOf(ctx, tm)
		if err != nil {
			t.Errorf("%s: %v", tm, err)
			continue
		}
		for _, w := range waits {
			for _, job := range w.cmd.Upstream {
				total++
				up, err := getUp(w.cmd.Namespace, job)
				if err != nil {
					t.Errorf("%s waits for job/%s: %v", tm, job, err)
					continue
				}
				good := r.proveWaitContainers(ctx, t, tm, pods, w, job, up)
				held := time.Duration(0)
				for i, rp := range rps {
					start := rp.first("start")
					started := containerStarted(rp.pod, rp.ctr.Name)
					if start == nil || started.IsZero() {
						t.Errorf("%s: no start time", rp)
						good = false
						continue
					}
					if !start.at().After(up.lastEnd) || started.Before(up.complete) {
						t.Errorf("%s started before job/%s completed: workload start %s, upstream's last pod ended %s; container startedAt %s, Job completionTime %s",
							rp, job, start.Time, up.lastEnd.Format(time.RFC3339Nano), started.Format(time.RFC3339), up.complete.Format(time.RFC3339))
						good = false
					}
					if i == 0 {
						created := rp.pod.CreationTimestamp.Time
						if !created.Before(up.complete) {
							t.Errorf("%s: the pod was created at %s, after job/%s completed (%s): the wait was not exercised", rp, created.Format(time.RFC3339), job, up.complete.Format(time.RFC3339))
							good = false
						}
						held = start.at().Sub(created)
					}
				}
				if good {
					gated++
					lines = append(lines, fmt.Sprintf("%s after %s (the gate's wait as ServiceAccount %s; created %s, held %.1fs, upstream ended %s, started %s)",
						tm.obj.u.GetName(), job, rps[0].pod.Spec.ServiceAccountName, rps[0].pod.CreationTimestamp.UTC().Format("15:04:05"), held.Seconds(),
						up.lastEnd.UTC().Format("15:04:05.000"), rps[0].first("start").at().UTC().Format("15:04:05.000")))
				}
			}
		}
		for i := range pods {
			for _, p := range r.tokenProblems(ctx, t, tm, &pods[i]) {
				t.Errorf("%s", p)
			}
		}
	}
	for _, l := range lines {
		t.Logf("gated: %s", l)
	}
	s := fmt.Sprintf("waits gated %d/%d", gated, total)
	if len(lines) > 0 {
		s += " [" + strings.Join(lines, "; ") + "]"
	}
	r.summary = append(r.summary, s)
}

// proveWaitContainers checks the wait container of every pod of tm for
// upstream job: it ran the gate program (inspectGate), read the Job with
// its pod's token, ended with exit status 0 saying the upstream completed,
// after it completed.
func (r *run) proveWaitContainers(ctx context.Context, t reporter, tm *template, pods []corev1.Pod, w gateProgram, job string, up *upstream) bool {
	good := true
	for i := range pods {
		p := &pods[i]
		gr, problems := r.inspectGate(ctx, tm, p, w)
		for _, pr := range problems {
			t.Errorf("%s: %s", tm, pr)
			good = false
		}
		if gr.state == nil {
			continue
		}
		msg := strings.TrimSpace(gr.state.Message)
		if gr.state.ExitCode != 0 || !strings.Contains(msg, job) || !strings.HasSuffix(msg, " completed") {
			t.Errorf("%s %s ended with exit status %d and termination message %q, want 0 and \"Job ... %s ... completed\"", tm, gr, gr.state.ExitCode, gr.state.Message, job)
			good = false
		}
		if gr.state.FinishedAt.Time.Before(up.complete) {
			t.Errorf("%s %s finished at %s, before job/%s completed (%s)", tm, gr, gr.state.FinishedAt.UTC().Format(time.RFC3339), job, up.complete.UTC().Format(time.RFC3339))
			good = false
		}
		if _, ok := firstRequest(gr.audit, "get", "jobs", job); !ok {
			t.Errorf("%s %s never read job/%s (audit log)", tm, gr, job)
			good = false
		}
	}
	return good
}

// containerStarted is when a container started (running or terminated).
func containerStarted(p *corev1.Pod, name string) time.Time {
	for _, s := range append(append([]corev1.ContainerStatus{}, p.Status.InitContainerStatuses...), p.Status.ContainerStatuses...) {
		if s.Name != name {
			continue
		}
		if s.State.Running != nil {
			return s.State.Running.StartedAt.Time
		}
		if s.State.Terminated != nil {
			return s.State.Terminated.StartedAt.Time
		}
	}
	return time.Time{}
}

// proveCalls: each declared call was answered by a pod of the callee's
// Service, reached through <CALLEE>_ENDPOINT by its DNS name.
func (r *run) proveCalls(ctx context.Context, t reporter) {
	total, answered := 0, 0
	for _, rp := range r.reports(ctx, t) {
		for _, res := range rp.results {
			if res.Check != "call" {
				continue
			}
			total++
			var d struct {
				Name   string     `json:"name"`
				Result callResult `json:"result"`
			}
			if err := json.Unmarshal([]byte(res.Detail), &d); err != nil {
				t.Errorf("%s: call %s: %q: %v", rp, res.Target, res.Detail, err)
				continue
			}
			if !res.OK {
				t.Errorf("%s: %s=%s was not answered: %s (addresses %v)", rp, d.Name, res.Target, d.Result.Error, d.Result.Addresses)
				continue
			}
			if err := r.isCallee(ctx, res.Target, d.Result.Answer.Pod); err != nil {
				t.Errorf("%s: %s=%s: %v", rp, d.Name, res.Target, err)
				continue
			}
			answered++
		}
	}
	r.summary = append(r.summary, fmt.Sprintf("calls answered by DNS name %d/%d", answered, total))
}

// isCallee checks that pod (in the target's namespace) is selected by the
// Service the target names (<service>.<namespace>.svc[.cluster.local]:port).
func (r *run) isCallee(ctx context.Context, target, pod string) error {
	host, _, err := net.SplitHostPort(target)
	if err != nil {
		return err
	}
	parts := strings.Split(host, ".")
	if len(parts) < 2 {
		return fmt.Errorf("%s names no namespace", host)
	}
	svc, err := r.c.client.CoreV1().Services(parts[1]).Get(ctx, parts[0], metav1.GetOptions{})
	if err != nil {
		return err
	}
	p, err := r.c.client.CoreV1().Pods(parts[1]).Get(ctx, pod, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("answered by %q, not a pod of %s: %v", pod, parts[1], err)
	}
	if !labels.SelectorFromSet(svc.Spec.Selector).Matches(labels.Set(p.Labels)) {
		return fmt.Errorf("answered by pod %s, which Service %s/%s does not select", pod, svc.Namespace, svc.Name)
	}
	return nil
}

// parseResults reads the workload's report lines from a log.
func parseResults(log string) []result {
	var out []result
	sc := bufio.NewScanner(strings.NewReader(log))
	for sc.Scan() {
		line, ok := strings.CutPrefix(sc.Text(), "STAGECRAFT ")
		if !ok {
			continue
		}
		var res result
		if err := json.Unmarshal([]byte(line), &res); err == nil {
			out = append(out, res)
		}
	}
	return out
}
