package e2e

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	authv1 "k8s.io/api/authorization/v1"
	corev1 "k8s.io/api/core/v1"
	rbacv1 "k8s.io/api/rbac/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	batchv1ac "k8s.io/client-go/applyconfigurations/batch/v1"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// Order, as stagecraft declares it: every object carries an Argo CD sync
// wave (its stage's depth in the pipeline graph). A BatchStage after
// upstream Jobs is held by a scheduling gate and released by its gate Job;
// another stage after a BatchStage waits in an init container running the
// gate's wait mode, as a ServiceAccount that may only get those Jobs.
//
// kwok runs no container. The harness runs the gate programs in-process
// (gate_test.go), and plays Argo CD for the other Jobs (waveRelease): Jobs
// of later waves are held suspended and released one wave at a time, each
// once the Jobs of the wave before have completed. Held Jobs are left to
// their gates, so that the gates, not the harness, order them. The order
// phase (checkOrder) then proves that the recorded runs and the declared
// waits agree.

const (
	syncWaveAnnotation = "argocd.argoproj.io/sync-wave"
	// waveFieldManager owns spec.suspend of the Jobs the harness holds back
	// until their sync wave is released.
	waveFieldManager = "stagecraft-e2e-waves"
	waitContainer    = "wait-upstream"
	saTokenPath      = "/var/run/secrets/kubernetes.io/serviceaccount"
)

// syncWave returns an object's Argo CD sync wave; without the annotation it
// is 0, as in Argo CD.
func syncWave(o *unstructured.Unstructured) (int, error) {
	v, ok := o.GetAnnotations()[syncWaveAnnotation]
	if !ok {
		return 0, nil
	}
	n, err := strconv.Atoi(strings.TrimSpace(v))
	if err != nil {
		return 0, fmt.Errorf("annotation %s=%q is not an integer", syncWaveAnnotation, v)
	}
	return n, nil
}

// waveJob is a Job of the app that runs in the pipeline phase.
type waveJob struct {
	ns, name string
	wave     int
	queue    string // queued with Kueue: the stand-in for Kueue holds and admits it
	held     bool   // the harness suspended it until its wave is released
}

func (j *waveJob) key() string { return j.ns + "/" + j.name }

// syncWaveRun is one sync wave of Jobs and when the harness released it.
type syncWaveRun struct {
	wave      int
	jobs      []*waveJob
	released  time.Time
	completed time.Time // when the harness saw its last Job complete
}

// waveRelease plays Argo CD's sync waves for the app's Jobs.
type waveRelease struct {
	t     *testing.T
	c     *cluster
	jobs  *jobWatch
	waves []*syncWaveRun // lowest wave first
	next  int            // index of the first wave not yet complete
	wave  map[string]int // namespace/name -> wave, for every Job in waves
}

// planWaves groups the Jobs the pipeline phase runs by sync wave. Jobs that
// cannot run here (suspended, or mounting a claim that cannot bind) are left
// out: runPipeline reports them NOT PROVEN. So are Jobs held by a scheduling
// gate (their gates release them) and gate Jobs (the harness runs their
// program). An invalid wave annotation is an error of the app; the Job is
// put in wave 0.
func planWaves(t *testing.T, c *cluster, w *jobWatch, ap *app, plan storagePlan) (*waveRelease, error) {
	r := &waveRelease{t: t, c: c, jobs: w, wave: map[string]int{}}
	var errs []error
	byWave := map[int]*syncWaveRun{}
	for _, m := range ap.manifests {
		o := m.obj
		if o.GroupVersionKind().GroupKind().String() != "Job.batch" {
			continue
		}
		spec, ok := podSpecOf(o)
		if ok && (plan.blockedBy(o, spec) != "" || heldByGate(spec)) || o.GetLabels()[componentLabel] == "gate" {
			continue
		}
		if suspend, _, _ := unstructured.NestedBool(o.Object, "spec", "suspend"); suspend {
			continue
		}
		queue := o.GetLabels()[kueueQueueLabel]
		n, err := syncWave(o)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", m, err))
		}
		if byWave[n] == nil {
			byWave[n] = &syncWaveRun{wave: n}
			r.waves = append(r.waves, byWave[n])
		}
		j := &waveJob{ns: nsOrDefault(o.GetNamespace()), name: o.GetName(), wave: n, queue: queue}
		byWave[n].jobs = append(byWave[n].jobs, j)
		r.wave[j.key()] = n
	}
	sort.Slice(r.waves, func(i, j int) bool { return r.waves[i].wave < r.waves[j].wave })
	return r, errors.Join(errs...)
}

// hold suspends, before the controllers start, every Job above the lowest
// wave, with a field manager of its own (server-side apply of spec.suspend
// alone). Jobs queued with Kueue are the stand-in for Kueue's: it admits
// them once their wave is released.
func (r *waveRelease) hold(ctx context.Context) error {
	held := 0
	for i, w := range r.waves {
		var names []string
		for _, j := range w.jobs {
			switch {
			case j.queue != "":
				names = append(names, j.name+" (queued: held by the stand-in for Kueue, queue "+j.queue+")")
				continue
			case i == 0:
				names = append(names, j.name)
				continue
			}
			cfg := batchv1ac.Job(j.name, j.ns).WithSpec(batchv1ac.JobSpec().WithSuspend(true))
			if _, err := r.c.client.BatchV1().Jobs(j.ns).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: waveFieldManager}); err != nil {
				return fmt.Errorf("hold Job %s until wave %d: %w", j.key(), w.wave, err)
			}
			j.held = true
			held++
			names = append(names, j.name+" (held)")
		}
		r.t.Logf("sync wave %d: Jobs %s", w.wave, strings.Join(names, ", "))
	}
	if len(r.waves) > 1 {
		r.t.Logf("each wave is released once every Job of the wave before has completed, as Argo CD syncs waves; %d Job(s) held with spec.suspend=true (field manager %s) until then", held, waveFieldManager)
	}
	return nil
}

// release resumes the Jobs of one wave that the harness held; the stand-in
// for Kueue admits the queued ones.
func (r *waveRelease) release(ctx context.Context, w *syncWaveRun) error {
	for _, j := range w.jobs {
		switch {
		case j.held:
			cfg := batchv1ac.Job(j.name, j.ns).WithSpec(batchv1ac.JobSpec().WithSuspend(false))
			if _, err := r.c.client.BatchV1().Jobs(j.ns).Apply(ctx, cfg, metav1.ApplyOptions{FieldManager: waveFieldManager}); err != nil {
				return fmt.Errorf("Job %s: release it (wave %d): %w", j.key(), w.wave, err)
			}
		}
	}
	w.released = time.Now()
	return nil
}

// releasedKey reports whether the Job namespace/name may run as far as the
// waves go: it is in no wave, or its wave has been released.
func (r *waveRelease) releasedKey(key string) bool {
	n, ok := r.wave[key]
	if !ok {
		return true
	}
	for _, w := range r.waves {
		if w.wave == n {
			return !w.released.IsZero()
		}
	}
	return true
}

// heldByGate reports whether a pod template carries the gate's scheduling
// gate.
func heldByGate(spec *corev1.PodSpec) bool {
	for _, g := range spec.SchedulingGates {
		if g.Name == gate.SchedulingGate {
			return true
		}
	}
	return false
}

// done reports whether every wave has completed.
func (r *waveRelease) done() bool { return r.next >= len(r.waves) }

// expectation releases the waves in order, each once the one before has
// completed, and holds when every wave has. A failed Job stops the release.
func (r *waveRelease) expectation() expectation {
	return expectation{what: "Jobs released wave by wave (Argo CD sync waves)", check: func(ctx context.Context) (bool, string, error) {
		for !r.done() {
			w := r.waves[r.next]
			if w.released.IsZero() {
				if err := r.release(ctx, w); err != nil {
					return false, "", permanent{Err: err}
				}
			}
			var waiting []string
			for _, j := range w.jobs {
				job, _ := r.jobs.get(j.key())
				if job == nil {
					waiting = append(waiting, j.key())
					continue
				}
				if complete, _, msg := jobFinished(job); !complete {
					return false, "", permanent{Err: fmt.Errorf("wave %d: Job %s failed (%s), so later waves were not released", w.wave, j.key(), msg)}
				}
			}
			if len(waiting) > 0 {
				return false, fmt.Sprintf("wave %d released, waiting for %s; %d later wave(s) held", w.wave, strings.Join(waiting, ", "), len(r.waves)-r.next-1), nil
			}
			w.completed = time.Now()
			r.t.Logf("sync wave %d complete (%d Job(s), %v after its release)", w.wave, len(w.jobs), w.completed.Sub(w.released).Round(10*time.Millisecond))
			r.next++
		}
		return true, fmt.Sprintf("%d wave(s) in order", len(r.waves)), nil
	}}
}

// report lists the waves for the pipeline report.
func (r *waveRelease) report() []WaveRun {
	var out []WaveRun
	for _, w := range r.waves {
		wr := WaveRun{Wave: w.wave, Released: w.released, Completed: w.completed}
		for _, j := range w.jobs {
			wr.Jobs = append(wr.Jobs, j.key())
		}
		out = append(out, wr)
	}
	return out
}

// waiter is a pod template with a wait-upstream init container.
type waiter struct {
	m        *manifest
	ns, name string
	kind     string
	wave     int
	spec     *corev1.PodSpec
	init     corev1.Container
	upstream []string // Job names
	job      string   // the Job that runs this template here, if any
}

func (w *waiter) String() string { return w.kind + " " + w.ns + "/" + w.name }

// parseWait reads the arguments of a wait-upstream container, which runs
// the gate's wait mode from the gate's image.
func parseWait(c corev1.Container, ns string) ([]string, error) {
	var errs []error
	if c.Image != gate.Image {
		errs = append(errs, fmt.Errorf("image %q is not the gate's, %s", c.Image, gate.Image))
	}
	if len(c.Command) > 0 {
		errs = append(errs, fmt.Errorf("command %q overrides the gate's entrypoint", c.Command))
	}
	cmd, err := gate.ParseArgs(c.Args)
	switch {
	case err != nil:
		errs = append(errs, err)
	case cmd.Mode != "wait":
		errs = append(errs, fmt.Errorf("args %q do not start with \"wait\"", c.Args))
	case cmd.Namespace != ns:
		errs = append(errs, fmt.Errorf("waits in namespace %q, not its own (%q)", cmd.Namespace, ns))
	case cmd.Timeout <= 0:
		errs = append(errs, errors.New("no --timeout"))
	}
	return cmd.Upstream, errors.Join(errs...)
}

// OrderResult is what checkOrder proved, for the log.
type OrderResult struct {
	Summary   string
	NotProven []string
}

// checkOrder proves that the app's Jobs ran in the order its pipeline
// declares, and that each declared wait can work and only that:
//
//  1. every job/X a wait-upstream init container waits for is a Job of the
//     app in the same namespace, in a strictly lower sync wave, and (when the
//     waiting template is a Job's or a CronJob's) completed before the
//     waiting Job started;
//  2. the Role <stage>-wait (the stage's app.kubernetes.io/name label) grants
//     exactly get on those Jobs
//     (resourceNames), a RoleBinding binds it to the template's
//     ServiceAccount alone; the wait container alone mounts a projected
//     service-account token (automountServiceAccountToken: false), also in
//     the pods the controllers made; and SubjectAccessReviews against the
//     API server agree: the ServiceAccount may get the
//     upstream Jobs, and may not watch or delete them, get another Job, list
//     all Jobs or list pods;
//  3. the Jobs of each sync wave started after every Job of the lower waves
//     had completed.
//
// "Started after completed" holds when both the API server's times
// (startTime not before completionTime; 1 s resolution) and the order of the
// harness's single Job watch (the event with the upstream complete comes
// before the first with the downstream's startTime) say so.
func checkOrder(ctx context.Context, c *cluster, ap *app, rep *PipelineReport, pipelineOK bool) (OrderResult, error) {
	var res OrderResult
	var errs []error
	fail := func(format string, a ...any) { errs = append(errs, fmt.Errorf(format, a...)) }

	jobs := map[string]int{}    // namespace/name of each Job of the app -> its sync wave
	runs := map[string]JobRun{} // namespace/name -> its run
	for _, r := range rep.Jobs {
		runs[r.Namespace+"/"+r.Name] = r
	}
	objects := map[string]*manifest{} // kind/namespace/name
	var waiters []*waiter
	for _, m := range ap.manifests {
		o := m.obj
		ns := nsOrDefault(o.GetNamespace())
		wave, err := syncWave(o)
		if err != nil {
			fail("%s: %v", m, err)
		}
		objects[o.GetKind()+"/"+ns+"/"+o.GetName()] = m
		if o.GroupVersionKind().GroupKind().String() == "Job.batch" {
			jobs[ns+"/"+o.GetName()] = wave
		}
		spec, ok := podSpecOf(o)
		if !ok {
			continue
		}
		for _, ic := range spec.InitContainers {
			if ic.Name != waitContainer {
				continue
			}
			w := &waiter{m: m, ns: ns, name: o.GetName(), kind: o.GetKind(), wave: wave, spec: spec, init: ic}
			switch o.GroupVersionKind().GroupKind().String() {
			case "Job.batch":
				w.job = o.GetName()
			case "CronJob.batch":
				w.job = cronJobRunName(o.GetName())
			}
			w.upstream, err = parseWait(ic, ns)
			if err != nil {
				fail("%s: init container %s: %v", m, waitContainer, err)
			}
			waiters = append(waiters, w)
		}
	}

	// ranBefore says why upstream u did not complete before downstream d
	// started, or "" if it did.
	ranBefore := func(u, d JobRun) string {
		switch {
		case u.CompletedEvent == 0 || d.StartedEvent == 0:
			return "the Job watch did not see both (upstream complete, downstream started)"
		case d.Started.Before(u.Completed):
			return fmt.Sprintf("startTime %s is before completionTime %s", d.Started.Format(time.TimeOnly), u.Completed.Format(time.TimeOnly))
		case d.StartedEvent < u.CompletedEvent:
			return fmt.Sprintf("the Job watch saw it started (event #%d) before the upstream complete (event #%d)", d.StartedEvent, u.CompletedEvent)
		}
		return ""
	}
	// runOf finds the run of a Job, or notes why there is none.
	runOf := func(key, why string) (JobRun, bool) {
		r, ok := runs[key]
		if ok {
			return r, true
		}
		for _, np := range rep.NotProven {
			if strings.Contains(np, " "+key+":") {
				res.NotProven = append(res.NotProven, fmt.Sprintf("order of Job %s: %s (it did not run here)", key, why))
				return r, false
			}
		}
		if pipelineOK {
			fail("Job %s: no completed run recorded (%s)", key, why)
		}
		return r, false
	}

	// 1 and 2: each declared wait.
	sars, denied, pods := 0, 0, 0
	var waitDescs []string
	for _, w := range waiters {
		waitDescs = append(waitDescs, fmt.Sprintf("%s %s(%d) -> %s", w.kind, w.name, w.wave, strings.Join(w.upstream, ",")))
		for _, u := range w.upstream {
			key := w.ns + "/" + u
			uwave, ok := jobs[key]
			if !ok {
				fail("%s waits for job/%s, which is not a Job of the app in namespace %s", w, u, w.ns)
				continue
			}
			if uwave >= w.wave {
				fail("%s (sync wave %d) waits for Job %s in sync wave %d: the upstream's wave must be lower, or Argo CD syncs them together", w, w.wave, key, uwave)
			}
			if w.job == "" {
				continue
			}
			dkey := w.ns + "/" + w.job
			ur, uok := runOf(key, "upstream of "+w.String())
			dr, dok := runOf(dkey, "waits for "+key)
			if uok && dok {
				if why := ranBefore(ur, dr); why != "" {
					fail("%s: its Job %s started before upstream Job %s completed: %s", w, dkey, key, why)
				}
			}
		}
		accessErrs, optedIn := checkWaitAccess(w, objects)
		errs = append(errs, accessErrs...)
		n, d, err := checkWaitSAR(ctx, c, w, jobs)
		sars += n
		denied += d
		if err != nil {
			errs = append(errs, err)
		}
		if !optedIn {
			n, err := checkWaitPods(ctx, c, w)
			pods += n
			if err != nil {
				errs = append(errs, err)
			}
		}
	}

	// Held Jobs and their gates.
	gateSummary, gateErrs := checkGates(ctx, c, ap, runs, objects)
	errs = append(errs, gateErrs...)

	// 3: waves in order.
	type waved struct {
		key string
		run JobRun
	}
	var inWaves []waved
	for _, r := range rep.Jobs {
		if r.Wave != nil {
			inWaves = append(inWaves, waved{r.Namespace + "/" + r.Name, r})
		}
	}
	for _, d := range inWaves {
		for _, u := range inWaves {
			if *u.run.Wave >= *d.run.Wave {
				continue
			}
			if why := ranBefore(u.run, d.run); why != "" {
				fail("Job %s (sync wave %d) started before Job %s (sync wave %d) completed: %s", d.key, *d.run.Wave, u.key, *u.run.Wave, why)
			}
		}
	}

	// The summary: Jobs by wave, then the Jobs made from CronJobs.
	waitsOf := map[string][]string{}
	for _, w := range waiters {
		if w.job != "" {
			waitsOf[w.ns+"/"+w.job] = w.upstream
		}
	}
	label := func(r JobRun) string {
		s := r.Name
		if r.Wave != nil {
			s += fmt.Sprintf("(%d)", *r.Wave)
		}
		if up := waitsOf[r.Namespace+"/"+r.Name]; len(up) > 0 {
			s += " [waits for " + strings.Join(up, ", ") + "]"
		}
		return s
	}
	var chain []string
	for _, wr := range rep.Waves {
		var names []string
		for _, k := range wr.Jobs {
			if r, ok := runs[k]; ok {
				names = append(names, label(r))
			}
		}
		if len(names) > 0 {
			chain = append(chain, strings.Join(names, ", "))
		}
	}
	var crons []string
	for _, r := range rep.Jobs {
		if r.FromCronJob != "" {
			crons = append(crons, label(r))
		}
	}
	sort.Strings(crons)
	if len(chain) == 0 {
		chain = []string{"no Jobs"}
	}
	s := "order: " + strings.Join(chain, " -> ")
	if len(crons) > 0 {
		s += "; then from CronJobs: " + strings.Join(crons, ", ")
	}
	s += fmt.Sprintf("; %d wait(s) checked", len(waiters))
	if len(waitDescs) > 0 {
		s += " (" + strings.Join(waitDescs, "; ") + ")"
	}
	if sars > 0 {
		s += fmt.Sprintf(", RBAC verified by SubjectAccessReview (%d reviews, %d denied as expected)", sars, denied)
	}
	if len(waiters) > 0 {
		s += fmt.Sprintf(", API token in wait-upstream alone (%d live pod(s) checked)", pods)
	}
	if gateSummary != "" {
		s += "; " + gateSummary
	}
	res.Summary = s
	return res, errors.Join(errs...)
}

// checkWaitAccess checks the wait's ServiceAccount, Role, RoleBinding and
// token in the app's manifests. optedIn: the pod template asks for an API
// token in every container (automountServiceAccountToken: true), which the
// wait container then uses.
func checkWaitAccess(w *waiter, objects map[string]*manifest) (errs []error, optedIn bool) {
	fail := func(format string, a ...any) {
		errs = append(errs, fmt.Errorf("%s: "+format, append([]any{w}, a...)...))
	}
	sa := w.spec.ServiceAccountName
	switch {
	case sa == "" || sa == "default":
		fail("waits as the namespace's default ServiceAccount; the wait needs a ServiceAccount of its own")
	case objects["ServiceAccount/"+w.ns+"/"+sa] == nil:
		fail("ServiceAccount %s is not part of the app", sa)
	}

	// The Role is named after the stage (its app.kubernetes.io/name label),
	// which a Job's name extends with the digest of its run.
	stage := w.m.obj.GetLabels()["app.kubernetes.io/name"]
	if stage == "" {
		stage = w.name
	}
	roleName := stage + "-wait"
	want := map[string]bool{}
	for _, u := range w.upstream {
		want[u] = true
	}
	if m := objects["Role/"+w.ns+"/"+roleName]; m == nil {
		fail("no Role %s/%s", w.ns, roleName)
	} else if role, err := convert[rbacv1.Role](m.obj); err != nil {
		fail("Role %s: %v", roleName, err)
	} else {
		names := map[string]bool{}
		for i, r := range role.Rules {
			ok := len(r.NonResourceURLs) == 0 && len(r.ResourceNames) > 0 &&
				sameSet(r.APIGroups, "batch") && sameSet(r.Resources, "jobs") && sameSet(r.Verbs, "get")
			if !ok {
				fail("Role %s rule %d grants %s on %s/%s names %q; want exactly get on batch/jobs by resourceNames",
					roleName, i, r.Verbs, r.APIGroups, r.Resources, r.ResourceNames)
			}
			for _, n := range r.ResourceNames {
				names[n] = true
			}
		}
		if !sameKeys(names, want) {
			fail("Role %s grants Jobs %s; the wait is for %s", roleName, keys(names), keys(want))
		}
	}

	bound := false
	for k, m := range objects {
		if !strings.HasPrefix(k, "RoleBinding/"+w.ns+"/") {
			continue
		}
		rb, err := convert[rbacv1.RoleBinding](m.obj)
		if err != nil || rb.RoleRef.Kind != "Role" || rb.RoleRef.Name != roleName {
			continue
		}
		for _, s := range rb.Subjects {
			if s.Kind == rbacv1.ServiceAccountKind && s.Name == sa && nsOrDefault(s.Namespace) == w.ns {
				bound = true
			} else {
				fail("RoleBinding %s also grants Role %s to %s %s/%s", rb.Name, roleName, s.Kind, s.Namespace, s.Name)
			}
		}
	}
	if !bound {
		fail("no RoleBinding binds Role %s to ServiceAccount %s", roleName, sa)
	}

	// The token: in the wait container alone.
	tokenVolumes := map[string]bool{}
	for _, v := range w.spec.Volumes {
		if v.Projected == nil {
			continue
		}
		for _, s := range v.Projected.Sources {
			if s.ServiceAccountToken != nil {
				tokenVolumes[v.Name] = true
			}
		}
	}
	var waitToken bool
	for _, vm := range w.init.VolumeMounts {
		if vm.MountPath == saTokenPath && tokenVolumes[vm.Name] {
			waitToken = true
			if !vm.ReadOnly {
				fail("init container %s mounts the token read-write", waitContainer)
			}
		}
	}
	// Whether admission mounts a token into every container: the pod's
	// automountServiceAccountToken, else its ServiceAccount's, else true.
	podAuto := w.spec.AutomountServiceAccountToken
	auto := true
	if podAuto != nil {
		auto = *podAuto
	} else if m := objects["ServiceAccount/"+w.ns+"/"+sa]; m != nil {
		if v, found, _ := unstructured.NestedBool(m.obj.Object, "automountServiceAccountToken"); found {
			auto = v
		}
	}
	optedIn = podAuto != nil && *podAuto
	switch {
	case waitToken && auto:
		fail("automountServiceAccountToken is not false (pod template or ServiceAccount %s): every container gets an API token, not only %s", sa, waitContainer)
	case !waitToken && !auto:
		fail("init container %s mounts no projected service-account token at %s and the pod gets none: the wait cannot authenticate", waitContainer, saTokenPath)
	case !waitToken && !optedIn:
		fail("every container gets an API token only by default; set automountServiceAccountToken: false and mount a projected token into %s alone", waitContainer)
	}
	if waitToken {
		for _, ctr := range otherContainers(w.spec) {
			for _, vm := range ctr.VolumeMounts {
				if tokenVolumes[vm.Name] || vm.MountPath == saTokenPath {
					fail("container %s mounts the API token (%s at %s); only %s may", ctr.Name, vm.Name, vm.MountPath, waitContainer)
				}
			}
		}
	}
	return errs, optedIn
}

// otherContainers returns every container of a pod spec but wait-upstream.
func otherContainers(spec *corev1.PodSpec) []corev1.Container {
	var out []corev1.Container
	for _, c := range append(append([]corev1.Container{}, spec.InitContainers...), spec.Containers...) {
		if c.Name != waitContainer {
			out = append(out, c)
		}
	}
	return out
}

// checkWaitSAR asks the API server (SubjectAccessReview) what the wait's
// ServiceAccount may do: get each upstream Job, and not watch or delete
// one, get a Job it does not wait for, list all Jobs or list pods. It
// returns how many reviews it made and how many were denials as expected.
func checkWaitSAR(ctx context.Context, c *cluster, w *waiter, jobs map[string]int) (int, int, error) {
	sa := w.spec.ServiceAccountName
	if sa == "" || len(w.upstream) == 0 {
		return 0, 0, nil
	}
	type q struct {
		verb, resource, name string
		allow                bool
	}
	var qs []q
	for _, u := range w.upstream {
		qs = append(qs, q{"get", "jobs", u, true}, q{"watch", "jobs", u, false})
	}
	other := "e2e-not-an-upstream"
	var names []string
	for k := range jobs {
		if ns, n, _ := strings.Cut(k, "/"); ns == w.ns && !slices.Contains(w.upstream, n) {
			names = append(names, n)
		}
	}
	if sort.Strings(names); len(names) > 0 {
		other = names[0]
	}
	qs = append(qs, q{"delete", "jobs", w.upstream[0], false}, q{"get", "jobs", other, false},
		q{"list", "jobs", "", false}, q{"list", "pods", "", false})
	var errs []error
	denied := 0
	for _, x := range qs {
		group := "batch"
		if x.resource == "pods" {
			group = ""
		}
		sar := &authv1.SubjectAccessReview{Spec: authv1.SubjectAccessReviewSpec{
			User:   "system:serviceaccount:" + w.ns + ":" + sa,
			Groups: []string{"system:serviceaccounts", "system:serviceaccounts:" + w.ns, "system:authenticated"},
			ResourceAttributes: &authv1.ResourceAttributes{
				Namespace: w.ns, Verb: x.verb, Group: group, Resource: x.resource, Name: x.name,
			},
		}}
		got, err := c.client.AuthorizationV1().SubjectAccessReviews().Create(ctx, sar, metav1.CreateOptions{})
		if err != nil {
			return 0, 0, fmt.Errorf("%s: SubjectAccessReview: %w", w, err) // harness or cluster problem
		}
		what := x.verb + " " + x.resource
		if x.name != "" {
			what += "/" + x.name
		}
		why := strings.TrimSpace(got.Status.Reason + " " + got.Status.EvaluationError)
		if why == "" {
			why = "no rule allows it"
		}
		switch {
		case got.Status.Allowed && !x.allow:
			errs = append(errs, fmt.Errorf("%s: ServiceAccount %s may %s in %s (SubjectAccessReview: %s); it should only read the Jobs it waits for", w, sa, what, w.ns, why))
		case !got.Status.Allowed && x.allow:
			errs = append(errs, fmt.Errorf("%s: ServiceAccount %s may not %s in %s (SubjectAccessReview: %s), so the wait would fail", w, sa, what, w.ns, why))
		case !x.allow:
			denied++
		}
	}
	return len(qs), denied, errors.Join(errs...)
}

// checkWaitPods checks the pods the controllers made from a waiting template
// (those still there): admission gave no container but wait-upstream an API
// token. It returns how many pods it checked.
func checkWaitPods(ctx context.Context, c *cluster, w *waiter) (int, error) {
	var tmpl map[string]string
	switch w.kind {
	case "CronJob":
		tmpl, _, _ = unstructured.NestedStringMap(w.m.obj.Object, "spec", "jobTemplate", "spec", "template", "metadata", "labels")
	case "Pod":
		tmpl = w.m.obj.GetLabels()
	default:
		tmpl, _, _ = unstructured.NestedStringMap(w.m.obj.Object, "spec", "template", "metadata", "labels")
	}
	if len(tmpl) == 0 {
		return 0, nil
	}
	pods, err := c.client.CoreV1().Pods(w.ns).List(ctx, metav1.ListOptions{LabelSelector: labels.SelectorFromSet(tmpl).String()})
	if err != nil {
		return 0, fmt.Errorf("%s: list its pods: %w", w, err)
	}
	var errs []error
	for _, p := range pods.Items {
		tokens := map[string]bool{}
		for _, v := range p.Spec.Volumes {
			if v.Projected != nil {
				for _, s := range v.Projected.Sources {
					if s.ServiceAccountToken != nil {
						tokens[v.Name] = true
					}
				}
			}
		}
		for _, ctr := range otherContainers(&p.Spec) {
			for _, vm := range ctr.VolumeMounts {
				if tokens[vm.Name] || vm.MountPath == saTokenPath {
					errs = append(errs, fmt.Errorf("%s: pod %s: container %s got an API token (%s at %s)", w, p.Name, ctr.Name, vm.Name, vm.MountPath))
				}
			}
		}
	}
	return len(pods.Items), errors.Join(errs...)
}

func sameSet(got []string, want ...string) bool {
	g, w := map[string]bool{}, map[string]bool{}
	for _, s := range got {
		g[s] = true
	}
	for _, s := range want {
		w[s] = true
	}
	return sameKeys(g, w)
}

func sameKeys(a, b map[string]bool) bool {
	if len(a) != len(b) {
		return false
	}
	for k := range a {
		if !b[k] {
			return false
		}
	}
	return true
}

func keys(m map[string]bool) string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	sort.Strings(out)
	return "[" + strings.Join(out, ", ") + "]"
}
