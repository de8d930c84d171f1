package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os/exec"
	"slices"
	"sort"
	"strings"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// Gates. A BatchStage that waits for upstream Jobs is held: its Job's pod
// template carries the scheduling gate gate.SchedulingGate, and a gate Job
// runs stagecraft's gate program ("gate release"), which removes the
// scheduling gate from the held Job's pods once the upstream Jobs have
// completed. Other stages that wait run the program's wait mode in an init
// container (proof_test.go, proveWaits). The program runs here from its own
// image, built from this tree, with the manifests' arguments; the proofs
// read what it did from the pods' status, the container runtime, the pod
// watch and the API server's audit log.

// upstream is a Job some stage waits for.
type upstream struct {
	complete time.Time // the Job's completionTime (1 s)
	lastEnd  time.Time // the last "end" report of its pods (ns)
}

// upstreamOf returns what is known of upstream Job ns/name.
func (r *run) upstreamOf(ctx context.Context, t reporter, ns, name string) (*upstream, error) {
	job, err := r.c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
	if err != nil {
		return nil, err
	}
	if job.Status.CompletionTime == nil {
		return nil, fmt.Errorf("Job %s/%s has no completionTime", ns, name)
	}
	u := &upstream{complete: job.Status.CompletionTime.Time}
	for _, rp := range r.reports(ctx, t) {
		if rp.pod.Namespace == ns && rp.pod.Labels["batch.kubernetes.io/job-name"] == name {
			if end := rp.first("end"); end != nil && end.at().After(u.lastEnd) {
				u.lastEnd = end.at()
			}
		}
	}
	if u.lastEnd.IsZero() {
		return nil, fmt.Errorf("no pod of Job %s/%s reported its end", ns, name)
	}
	return u, nil
}

// ociSpec is the part of a container's OCI runtime spec (as containerd
// gave it to runc) that the proofs read.
type ociSpec struct {
	Process struct {
		Args []string `json:"args"`
		User struct {
			UID            int64   `json:"uid"`
			GID            int64   `json:"gid"`
			AdditionalGids []int64 `json:"additionalGids"`
		} `json:"user"`
		Capabilities *struct {
			Bounding    []string `json:"bounding"`
			Effective   []string `json:"effective"`
			Permitted   []string `json:"permitted"`
			Inheritable []string `json:"inheritable"`
			Ambient     []string `json:"ambient"`
		} `json:"capabilities"`
		NoNewPrivileges bool `json:"noNewPrivileges"`
	} `json:"process"`
	Root struct {
		Readonly bool `json:"readonly"`
	} `json:"root"`
	Mounts []struct {
		Destination string `json:"destination"`
	} `json:"mounts"`
	Linux struct {
		Seccomp *struct {
			DefaultAction string `json:"defaultAction"`
		} `json:"seccomp"`
	} `json:"linux"`
}

// runtimeSpec reads the OCI spec of a container from containerd.
func (c *cluster) runtimeSpec(containerID string) (*ociSpec, error) {
	id := strings.TrimPrefix(containerID, "containerd://")
	cmd := exec.Command(c.bins["ctr"], "--address=/run/containerd/containerd.sock", "--namespace=k8s.io", "containers", "info", "--spec", id)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output() // stdout only: ctr warns about cgroup v1 on stderr
	if err != nil {
		return nil, fmt.Errorf("ctr containers info --spec %s: %v: %s", id, err, stderr.String())
	}
	var s ociSpec
	if err := json.Unmarshal(out, &s); err != nil {
		return nil, fmt.Errorf("the OCI spec of container %s: %v", id, err)
	}
	return &s, nil
}

func (s *ociSpec) capabilities() []string {
	if s.Process.Capabilities == nil {
		return nil
	}
	cp := s.Process.Capabilities
	var all []string
	for _, l := range [][]string{cp.Bounding, cp.Effective, cp.Permitted, cp.Inheritable, cp.Ambient} {
		all = append(all, l...)
	}
	sort.Strings(all)
	return slices.Compact(all)
}

// gateRun is what one container of the gate program did, as the node and
// the API server saw it.
type gateRun struct {
	pod     *corev1.Pod
	name    string // container
	state   *corev1.ContainerStateTerminated
	spec    *ociSpec
	account string
	audit   []auditEvent
}

func (g *gateRun) String() string {
	return fmt.Sprintf("pod %s container %s", g.pod.Name, g.name)
}

// inspectGate gathers and checks what is common to every container of the
// gate program: it ran stagecraft's gate image with the manifest's
// arguments under the Pod Security "restricted" settings its manifest asks
// for (as runc was told to run it: user, capabilities, no new privileges,
// seccomp, read-only root), it has terminated, and every request it made
// came with its pod's own token, as the pod's ServiceAccount, from the
// pod's address, by the gate program, and was allowed. It returns the
// problems found; the run is returned as far as it could be read.
func (r *run) inspectGate(ctx context.Context, tm *template, pod *corev1.Pod, g gateProgram) (*gateRun, []string) {
	gr := &gateRun{pod: pod, name: g.container, account: pod.Spec.ServiceAccountName}
	var problems []string
	bad := func(format string, args ...any) { problems = append(problems, fmt.Sprintf(format, args...)) }
	var st *corev1.ContainerStatus
	for _, s := range append(append([]corev1.ContainerStatus{}, pod.Status.InitContainerStatuses...), pod.Status.ContainerStatuses...) {
		if s.Name == g.container {
			st = &s
		}
	}
	if st == nil || st.State.Terminated == nil {
		bad("%s has not terminated (%s)", gr, podProblem(pod))
		return gr, problems
	}
	gr.state = st.State.Terminated
	if !strings.HasSuffix(st.ImageID, r.c.gateImageID) {
		bad("%s ran image %s (ID %s), not the gate image built here (ID %s)", gr, st.Image, st.ImageID, r.c.gateImageID)
	}
	ctr := containerNamed(tm.spec, g.container)
	spec, err := r.c.runtimeSpec(st.ContainerID)
	if err != nil {
		bad("%s: %v", gr, err)
	} else {
		gr.spec = spec
		want := append([]string{"/gate"}, ctr.Args...)
		if !slices.Equal(spec.Process.Args, want) {
			bad("%s ran %q, want the gate program with the manifest's arguments %q", gr, spec.Process.Args, want)
		}
		uid, gid, _ := effectiveIDs(&tm.spec.Spec, &ctr)
		switch {
		case spec.Process.User.UID == 0:
			bad("%s ran as root", gr)
		case uid != nil && spec.Process.User.UID != *uid, gid != nil && spec.Process.User.GID != *gid:
			bad("%s ran as %d:%d, the manifest sets %v:%v", gr, spec.Process.User.UID, spec.Process.User.GID, deref(uid), deref(gid))
		}
		if caps := spec.capabilities(); len(caps) > 0 {
			bad("%s kept capabilities %v", gr, caps)
		}
		if !spec.Process.NoNewPrivileges {
			bad("%s may gain privileges (noNewPrivileges is not set)", gr)
		}
		if spec.Linux.Seccomp == nil {
			bad("%s ran without a seccomp profile", gr)
		}
		if sc := ctr.SecurityContext; sc != nil && sc.ReadOnlyRootFilesystem != nil && *sc.ReadOnlyRootFilesystem && !spec.Root.Readonly {
			bad("%s ran with a writable root file system", gr)
		}
	}
	evs, err := r.c.auditOf(pod.Namespace, pod.Name)
	if err != nil {
		bad("%s: audit log: %v", gr, err)
	}
	gr.audit = evs
	if len(evs) == 0 {
		bad("%s: the API server recorded no request made with its pod's token", gr)
	}
	user := "system:serviceaccount:" + pod.Namespace + ":" + gr.account
	for i := range evs {
		e := &evs[i]
		switch {
		case e.User.Username != user:
			bad("%s: request %s as %s, want %s", gr, e.what(), e.User.Username, user)
		case e.extra("pod-uid") != string(pod.UID) || e.extra("node-name") != nodeName:
			bad("%s: request %s with the token of pod %s (UID %s) on node %s, want this pod (UID %s) on %s", gr, e.what(), e.podName(), e.extra("pod-uid"), e.extra("node-name"), pod.UID, nodeName)
		case len(e.SourceIPs) == 0 || e.SourceIPs[0] != pod.Status.PodIP:
			bad("%s: request %s from %v, not from its pod's address %s", gr, e.what(), e.SourceIPs, pod.Status.PodIP)
		case !strings.HasPrefix(e.UserAgent, "stagecraft-gate"):
			bad("%s: request %s by %q, not the gate program", gr, e.what(), e.UserAgent)
		case e.code() >= 400 && e.code() != 404:
			bad("%s: request %s was refused: %d", gr, e.what(), e.code())
		}
	}
	return gr, problems
}

func deref(p *int64) any {
	if p == nil {
		return "unset"
	}
	return *p
}

// tokenProblems checks that the pod's ServiceAccount token reaches the
// gate program's containers only: no other container mounts a volume that
// projects it (the pod spec, as admitted), and the workload of each app
// container found no token at the usual path (the container as it ran).
func (r *run) tokenProblems(ctx context.Context, t reporter, tm *template, pod *corev1.Pod) []string {
	tokenVols := map[string]bool{}
	for _, v := range pod.Spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				tokenVols[v.Name] = true
			}
		}
	}
	holders := map[string]string{}
	for _, ctr := range append(append([]corev1.Container{}, pod.Spec.InitContainers...), pod.Spec.Containers...) {
		for _, m := range ctr.VolumeMounts {
			if tokenVols[m.Name] && !isGateProgram(ctr) {
				holders[ctr.Name] = "mounts volume " + m.Name
			}
		}
	}
	for _, rp := range r.reports(ctx, t) {
		if rp.pod.UID != pod.UID {
			continue
		}
		for _, res := range rp.results {
			if res.Check == "absent" && !res.OK {
				holders[rp.ctr.Name] = strings.TrimPrefix(holders[rp.ctr.Name]+"; ", "; ") + "its workload found it: " + res.Detail
			}
		}
	}
	var out []string
	for _, name := range sortedKeys(holders) {
		out = append(out, fmt.Sprintf("%s pod %s: the ServiceAccount token reaches container %s, which does not run the gate program (%s); want the gate program's containers only", tm, pod.Name, name, holders[name]))
	}
	return out
}

// proveGates proves every gate Job of the app and the Job it holds.
func (r *run) proveGates(ctx context.Context, t reporter) {
	released := map[string]bool{}
	var lines []string
	total, ok := 0, 0
	for _, tm := range r.tmpls {
		g, isGate := releaseOf(tm)
		if !isGate || tm.kind != batchJob {
			continue
		}
		total++
		released[tm.ns()+"/"+g.cmd.Job] = true
		line, problems := r.proveGateJob(ctx, t, tm, g)
		for _, p := range problems {
			t.Errorf("%s", p)
		}
		if len(problems) == 0 {
			ok++
			lines = append(lines, line)
			t.Logf("gate: %s", line)
		}
	}
	for _, tm := range r.tmpls {
		if isHeld(tm) && !released[tm.ns()+"/"+tm.obj.u.GetName()] {
			t.Errorf("%s is held by the scheduling gate %s, but no gate Job of the app releases it", tm, gate.SchedulingGate)
		}
	}
	if total == 0 {
		r.summary = append(r.summary, "gates: none (no held Job)")
		return
	}
	r.summary = append(r.summary, fmt.Sprintf("gates: %d/%d proven [%s]", ok, total, strings.Join(lines, "; ")))
}

// proveGateJob proves one gate Job and the Job it holds; it returns the
// summary and the problems found.
func (r *run) proveGateJob(ctx context.Context, t reporter, tm *template, g gateProgram) (string, []string) {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: ", tm)+fmt.Sprintf(format, args...))
	}
	ns, cmd := tm.ns(), g.cmd
	pods, err := r.podsOf(ctx, tm)
	if err != nil || len(pods) == 0 {
		return "", []string{fmt.Sprintf("%s (a gate Job): no pod (%v)", tm, err)}
	}
	pod := &pods[len(pods)-1]
	gr, ps := r.inspectGate(ctx, tm, pod, g)
	for _, p := range ps {
		bad("%s", p)
	}
	problems = append(problems, r.tokenProblems(ctx, t, tm, pod)...)
	if len(pods) > 1 {
		bad("%d pods ran the gate, want 1 (the first ones failed: %s)", len(pods), podProblem(&pods[0]))
	}
	heldTm := r.template(ns, batchJob, cmd.Job)
	if heldTm == nil || !isHeld(heldTm) {
		bad("releases Job %s, which is not a Job of the app held by the scheduling gate", cmd.Job)
		return "", problems
	}
	held, err := r.c.client.BatchV1().Jobs(ns).Get(ctx, cmd.Job, metav1.GetOptions{})
	if err != nil {
		bad("%v", err)
		return "", problems
	}
	var last time.Time // when the last upstream's last pod ended
	var complete time.Time
	for _, name := range cmd.Upstream {
		u, err := r.upstreamOf(ctx, t, ns, name)
		if err != nil {
			bad("upstream: %v", err)
			return "", problems
		}
		if u.lastEnd.After(last) {
			last = u.lastEnd
		}
		if u.complete.After(complete) {
			complete = u.complete
		}
		if _, ok := firstRequest(gr.audit, "get", "jobs", name); !ok {
			bad("the gate never read upstream Job %s (audit log)", name)
		}
	}
	hp, heldLine := r.proveHeld(ctx, t, heldTm, held, gr, last, complete)
	problems = append(problems, hp...)
	// The gate ends when the held Job has finished, and says so.
	want := "Job " + cmd.Job + " completed"
	if held.Status.CompletionTime == nil {
		bad("held Job %s has not completed", cmd.Job)
		return "", problems
	}
	heldDone := held.Status.CompletionTime.Time
	lag := time.Duration(0)
	if st := gr.state; st != nil {
		if st.ExitCode != 0 || strings.TrimSpace(st.Message) != want {
			bad("%s ended with exit status %d and termination message %q, want 0 and %q", gr, st.ExitCode, st.Message, want)
		}
		if st.FinishedAt.Time.Before(heldDone) {
			bad("%s finished at %s, before held Job %s completed (%s)", gr, st.FinishedAt.UTC().Format(time.TimeOnly), cmd.Job, heldDone.UTC().Format(time.TimeOnly))
		}
		lag = st.FinishedAt.Sub(heldDone)
	}
	gateJob, err := r.c.client.BatchV1().Jobs(ns).Get(ctx, tm.obj.u.GetName(), metav1.GetOptions{})
	if err != nil || gateJob.Status.CompletionTime == nil || gateJob.Status.CompletionTime.Before(held.Status.CompletionTime) {
		bad("the gate Job did not complete after the held Job %s (%v)", cmd.Job, err)
	}
	uid := int64(-1)
	if gr.spec != nil {
		uid = gr.spec.Process.User.UID
	}
	line := fmt.Sprintf("%s (pod %s as ServiceAccount %s from %s, token in container %s only, uid %d, no capabilities, read-only root, seccomp; %d requests, all allowed) released Job %s after %s: %s; the gate completed %.0fs after it, saying %q",
		tm.obj.u.GetName(), pod.Name, gr.account, pod.Status.PodIP, g.container, uid, len(gr.audit), cmd.Job, strings.Join(cmd.Upstream, ", "), heldLine, lag.Seconds(), want)
	return line, problems
}

// template finds the app's template of kind and name in ns.
func (r *run) template(ns string, kind workloadKind, name string) *template {
	for _, tm := range r.tmpls {
		if tm.kind == kind && tm.ns() == ns && tm.obj.u.GetName() == name {
			return tm
		}
	}
	return nil
}

// proveHeld proves that the held Job's pods were created with the
// scheduling gate, were on no node while they had it, and were released by
// the gate's pod, scheduled and started only after the upstream Jobs
// completed (last: when their last pod ended, by the workloads' clocks;
// complete: the latest completionTime). A queued Job (Kueue) is held twice:
// suspended (by the stand-in for Kueue's webhook) until the gate created
// its run's LocalQueue, and its pods are then created gated.
func (r *run) proveHeld(ctx context.Context, t reporter, tm *template, held *batchv1.Job, gr *gateRun, last, complete time.Time) ([]string, string) {
	var problems []string
	bad := func(format string, args ...any) {
		problems = append(problems, fmt.Sprintf("%s: ", tm)+fmt.Sprintf(format, args...))
	}
	pods, err := r.podsOf(ctx, tm)
	if err != nil || len(pods) == 0 {
		bad("no pod (%v)", err)
		return problems, ""
	}
	if !held.CreationTimestamp.Time.Before(last) {
		bad("the Job was created at %s, after its upstream's last pod ended (%s): the hold was not exercised", held.CreationTimestamp.UTC().Format(time.TimeOnly), last.UTC().Format(time.TimeOnly+".000"))
	}
	var parts []string
	q := r.queued(tm.ns(), held.Name)
	if q != nil {
		lq, ok := firstRequest(gr.audit, "create", "localqueues", q.queue)
		switch {
		case !q.suspended:
			bad("queued with Kueue, but it was not suspended at creation")
		case !ok:
			bad("queued in LocalQueue %s, which the gate's pod did not create (audit log)", q.queue)
		case !auditTime(lq).After(last):
			bad("the gate created LocalQueue %s at %s, before its upstream's last pod ended (%s)", q.queue, auditTime(lq).UTC().Format(time.TimeOnly+".000"), last.UTC().Format(time.TimeOnly+".000"))
		case q.admitted.IsZero():
			bad("never admitted by the stand-in for Kueue")
		default:
			parts = append(parts, fmt.Sprintf("queued: suspended at creation (stand-in for Kueue's webhook) until the gate's pod created LocalQueue %s at %s, then resumed (stand-in for Kueue's admission)",
				q.queue, auditTime(lq).UTC().Format(time.TimeOnly+".000")))
		}
	}
	var gatedFor []string
	var accelerators int64
	seenGated := 0
	var firstRelease, firstStart time.Time
	for i := range pods {
		p := &pods[i]
		h, err := r.watch.of(p.Name)
		if err != nil || h == nil || !h.created {
			bad("pod %s: its creation was not seen (pod watch: %v)", p.Name, err)
			continue
		}
		if !h.createdGated {
			bad("pod %s was created without the scheduling gate %s", p.Name, gate.SchedulingGate)
		}
		if h.gatedOnNode != "" {
			bad("pod %s was bound to node %s while it had the scheduling gate", p.Name, h.gatedOnNode)
		}
		if h.schedulingGated {
			seenGated++
		}
		if q == nil && i == 0 && !h.firstSeen.Before(last) {
			bad("pod %s was created at %s, after its upstream's last pod ended (%s): the hold was not exercised", p.Name, h.firstSeen.UTC().Format(time.TimeOnly+".000"), last.UTC().Format(time.TimeOnly+".000"))
		}
		ungate, ok := firstRequest(gr.audit, "patch", "pods", p.Name)
		if !ok {
			bad("pod %s: the gate's pod never released it (no patch of it in the audit log)", p.Name)
			continue
		}
		rel := auditTime(ungate)
		if !rel.After(last) {
			bad("pod %s was released at %s, before its upstream's last pod ended (%s)", p.Name, rel.UTC().Format(time.TimeOnly+".000"), last.UTC().Format(time.TimeOnly+".000"))
		}
		if !h.ungatedSeen.IsZero() && h.ungatedSeen.Before(rel) {
			bad("pod %s lost its scheduling gate before the gate released it", p.Name)
		}
		scheduled := podCondition(p, corev1.PodScheduled)
		if scheduled.IsZero() || scheduled.Before(complete) {
			bad("pod %s was scheduled at %s, before its upstream completed (%s)", p.Name, scheduled.UTC().Format(time.TimeOnly), complete.UTC().Format(time.TimeOnly))
		}
		for _, rp := range r.reports(ctx, t) {
			if rp.pod.UID != p.UID {
				continue
			}
			start := rp.first("start")
			started := containerStarted(p, rp.ctr.Name)
			if start == nil || started.IsZero() || !start.at().After(last) || started.Before(complete) {
				bad("pod %s container %s started before its upstream completed (or did not start): workload start %v, upstream's last pod ended %s; startedAt %s, completionTime %s",
					p.Name, rp.ctr.Name, start, last.Format(time.RFC3339Nano), started.Format(time.RFC3339), complete.Format(time.RFC3339))
				continue
			}
			if firstStart.IsZero() || start.at().Before(firstStart) {
				firstStart = start.at()
			}
		}
		if firstRelease.IsZero() || rel.Before(firstRelease) {
			firstRelease = rel
		}
		gatedFor = append(gatedFor, fmt.Sprintf("%.1fs", rel.Sub(h.firstSeen).Seconds()))
		accelerators += h.accelerators
	}
	parts = append(parts, fmt.Sprintf("%d pod(s) created gated, on no node (asking for %d accelerators; %d reported SchedulingGated by the scheduler) for %s; the upstream's last pod ended %s, its Job completed %s; released by the gate's pod from %s, first app container started %s",
		len(pods), accelerators, seenGated, strings.Join(gatedFor, ", "), last.UTC().Format(time.TimeOnly+".000"), complete.UTC().Format(time.TimeOnly),
		firstRelease.UTC().Format(time.TimeOnly+".000"), firstStart.UTC().Format(time.TimeOnly+".000")))
	return problems, strings.Join(parts, "; ")
}

// podCondition returns when the pod's condition became true (zero if it
// is not).
func podCondition(p *corev1.Pod, ct corev1.PodConditionType) time.Time {
	for _, c := range p.Status.Conditions {
		if c.Type == ct && c.Status == corev1.ConditionTrue {
			return c.LastTransitionTime.Time
		}
	}
	return time.Time{}
}
