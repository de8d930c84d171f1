package node

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/meta"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/labels"
	"k8s.io/apimachinery/pkg/runtime/schema"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/discovery/cached/memory"
	"k8s.io/client-go/restmapper"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

const fieldManager = "stagecraft-node"

func runTimeout() time.Duration {
	if d, err := time.ParseDuration(os.Getenv("STAGECRAFT_NODE_APP_TIMEOUT")); err == nil {
		return d
	}
	return 4 * time.Minute
}

// TestApps proves every app of dist/ on the real node, one after the other
// (each removed before the next, so that each has the node to itself).
func TestApps(t *testing.T) {
	units, err := discoverUnits(distDir())
	if err != nil {
		t.Fatal(err)
	}
	if len(units) == 0 {
		t.Skipf("no app in %s", distDir())
	}
	c, err := requireNode()
	if err != nil {
		t.Fatalf("start the node: %v", err)
	}
	for _, u := range units {
		t.Run(u.name, func(t *testing.T) { c.proveApp(t, u) })
	}
}

// run is one app on the node: its objects as applied and what happened.
type run struct {
	c         *cluster
	unit      unit
	objs      []*object
	tmpls     []*template
	plans     map[*template][]containerPlan
	fromCron  map[*template]string // CronJob template -> name of the Job made from it
	notes     []string             // NOT PROVEN / ASSUMED lines
	pvs       []string             // PersistentVolumes the suite created
	summary   []string
	namespace []string
	collected []*report
	// fail names the Jobs the failure run fails (override).
	fail  map[string]bool
	watch *podWatch
	kueue *kueueStandIn
	// stops stop what the run started (provisioner, stand-in for Kueue,
	// pod watch), in cleanup.
	stops []func()
}

func (r *run) note(format string, args ...any) {
	r.notes = append(r.notes, fmt.Sprintf(format, args...))
}

func (c *cluster) newRun(u unit) (*run, error) {
	objs, err := readObjects(u.dir)
	if err != nil {
		return nil, err
	}
	tmpls, err := templates(objs)
	if err != nil {
		return nil, err
	}
	return &run{c: c, unit: u, objs: objs, tmpls: tmpls, plans: map[*template][]containerPlan{}, fromCron: map[*template]string{}, namespace: namespacesOf(objs)}, nil
}

func (c *cluster) proveApp(t *testing.T, u unit) {
	r, err := c.newRun(u)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), runTimeout()+5*time.Minute)
	defer cancel()
	defer r.cleanup(t)

	ok := t.Run("run", func(t *testing.T) { r.start(ctx, t) })
	if !ok {
		r.printSummary(t, false)
		return
	}
	t.Run("security", func(t *testing.T) { r.proveSecurity(ctx, t) })
	t.Run("writes", func(t *testing.T) { r.proveWrites(ctx, t) })
	t.Run("waits", func(t *testing.T) { r.proveWaits(ctx, t) })
	t.Run("gates", func(t *testing.T) { r.proveGates(ctx, t) })
	t.Run("calls", func(t *testing.T) { r.proveCalls(ctx, t) })
	t.Run("policies", func(t *testing.T) { r.provePolicies(ctx, t) })
	r.printSummary(t, !t.Failed())
}

func (r *run) printSummary(t reporter, ok bool) {
	for _, n := range r.notes {
		fmt.Printf("node-note: %s: %s\n", r.unit.name, n)
	}
	verdict := "PASS"
	if !ok || t.Failed() {
		verdict = "FAIL"
	}
	fmt.Printf("node-summary: %s %s: %s\n", verdict, r.unit.name, strings.Join(r.summary, "; "))
}

// start applies the app with the test override and waits until every
// long-running workload is Ready and every Job (and one Job made from each
// CronJob) has completed.
func (r *run) start(ctx context.Context, t reporter) {
	applied := r.deploy(ctx, t)
	t.Logf("applied %d objects of %s, waiting for the workloads", applied, r.unit.dir)
	t0 := time.Now()
	err := waitFor(runTimeout(), time.Second, r.c.procs, func() (bool, error) { return r.settled(ctx) })
	if err != nil {
		t.Fatalf("workloads of %s: %v", r.unit.name, err)
	}
	ready, succeeded := 0, 0
	for _, ns := range r.namespace {
		pods, err := r.c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err != nil {
			t.Fatalf("%v", err)
		}
		for i := range pods.Items {
			switch p := &pods.Items[i]; {
			case p.Status.Phase == corev1.PodSucceeded:
				succeeded++
			case podReady(p):
				ready++
			}
		}
	}
	jobs, cron := r.jobs(), 0
	for _, j := range jobs {
		if j.cron {
			cron++
		}
	}
	r.summary = append(r.summary, fmt.Sprintf("pods Ready %d, Succeeded %d; Jobs complete %d/%d (%d made from CronJobs); all %.0fs after the apply",
		ready, succeeded, len(jobs), len(jobs), cron, time.Since(t0).Seconds()))
}

// deploy imports the app's images, applies its objects with the test
// override, starts the stand-ins (provisioner, Kueue) and makes a Job from
// each CronJob. It returns the number of objects applied.
func (r *run) deploy(ctx context.Context, t reporter) int {
	c := r.c
	waited := map[string]bool{}
	var workloadImages []string
	seenImage := map[string]bool{}
	for _, tm := range r.tmpls {
		for _, g := range gatesOf(tm) {
			for _, j := range g.cmd.Upstream {
				waited[j] = true
			}
		}
		for _, ctr := range append(append([]corev1.Container{}, tm.spec.Spec.InitContainers...), tm.spec.Spec.Containers...) {
			if isGateProgram(ctr) {
				if ctr.Image != gate.Image {
					t.Fatalf("%s: container %s runs the gate program from image %s; the suite has stagecraft's gate image %s only (built from this tree)", tm, ctr.Name, ctr.Image, gate.Image)
				}
				continue
			}
			if !seenImage[ctr.Image] {
				seenImage[ctr.Image] = true
				workloadImages = append(workloadImages, ctr.Image)
			}
		}
	}
	if err := c.importAppImages(workloadImages); err != nil {
		t.Fatalf("import images: %v", err)
	}
	t.Logf("images: the workload as %s; the gate program as %s (image ID %s)", strings.Join(workloadImages, ", "), gate.Image, c.gateImageID)
	if err := c.labelNode(ctx, r.tmpls); err != nil {
		t.Fatalf("label the node: %v", err)
	}
	for _, tm := range r.tmpls {
		plans, err := override(tm, overrideOptions{waited: waited, fail: r.fail})
		if err != nil {
			t.Fatalf("%s: override: %v", tm, err)
		}
		r.plans[tm] = plans
		for _, p := range plans {
			t.Logf("override %s %s", tm, p)
		}
	}
	r.substituteVolumes(t)
	r.substituteAPIServer(t)

	for _, ns := range r.namespace {
		if err := waitFor(3*time.Minute, time.Second, c.procs, func() (bool, error) {
			got, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
			if apierrors.IsNotFound(err) {
				return true, nil
			}
			if err != nil {
				return false, err
			}
			return got.Status.Phase != corev1.NamespaceTerminating, fmt.Errorf("namespace %s is still terminating", ns)
		}); err != nil {
			t.Fatalf("%v", err)
		}
	}
	r.planKueue()
	r.kueueNotes()
	w, err := c.watchPods(ctx, r.namespace)
	if err != nil {
		t.Fatalf("watch the pods: %v", err)
	}
	r.watch = w
	r.stops = append(r.stops, w.stop)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.client.Discovery()))
	applied := 0
	standIns := false
	skip := r.skipped()
	for _, o := range r.objs {
		if skip[o] {
			continue
		}
		if !standIns && o.u.GetKind() != "Namespace" {
			// Everything the namespaces hold comes after them.
			if err := r.createStandIns(ctx); err != nil {
				t.Fatalf("stand-ins: %v", err)
			}
			if err := r.createChosenQueues(ctx); err != nil {
				t.Fatalf("stand-ins: %v", err)
			}
			standIns = true
		}
		if err := apply(ctx, c, mapper, o.u); err != nil {
			t.Fatalf("apply %s (%s#%d): %v", o, o.file, o.doc, err)
		}
		applied++
	}
	for _, ns := range r.namespace {
		got, err := c.client.CoreV1().Namespaces().Get(ctx, ns, metav1.GetOptions{})
		if err != nil {
			t.Fatalf("namespace %s: %v", ns, err)
		}
		if got.Labels["pod-security.kubernetes.io/enforce"] != "restricted" {
			t.Errorf("namespace %s: Pod Security enforce label is %q, want restricted", ns, got.Labels["pod-security.kubernetes.io/enforce"])
		}
	}
	r.stops = append(r.stops, r.provision(ctx))
	r.startKueue(ctx)
	r.stops = append(r.stops, r.kueue.stop)
	// Jobs from CronJobs at once, as a schedule that fires now: their
	// waits gate them like any other.
	for _, tm := range r.tmpls {
		if tm.kind != cronJob || (r.fail != nil && len(gatesOf(tm)) == 0) {
			continue
		}
		name, err := r.jobFromCronJob(ctx, tm)
		if err != nil {
			t.Fatalf("%s: create a Job from it: %v", tm, err)
		}
		r.fromCron[tm] = name
	}
	return applied
}

// skipped lists the objects the run does not apply: in the failure run,
// the long-running workloads, which play no part in a failure of Jobs (a
// stage that waits for Jobs is a Job, a CronJob or, with a wait-upstream
// init container, any kind: those are kept).
func (r *run) skipped() map[*object]bool {
	skip := map[*object]bool{}
	if r.fail == nil {
		return skip
	}
	for _, tm := range r.tmpls {
		if (tm.kind == longRunning || tm.kind == barePod) && len(gatesOf(tm)) == 0 {
			skip[tm.obj] = true
		}
	}
	return skip
}

// apply server-side applies one object.
func apply(ctx context.Context, c *cluster, mapper meta.RESTMapper, u *unstructured.Unstructured) error {
	gvk := u.GroupVersionKind()
	m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version)
	if err != nil {
		return err
	}
	data, err := json.Marshal(u.Object)
	if err != nil {
		return err
	}
	force := true
	opts := metav1.PatchOptions{FieldManager: fieldManager, Force: &force}
	if m.Scope.Name() == meta.RESTScopeNameNamespace {
		_, err = c.dynamic.Resource(m.Resource).Namespace(u.GetNamespace()).Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	} else {
		_, err = c.dynamic.Resource(m.Resource).Patch(ctx, u.GetName(), types.ApplyPatchType, data, opts)
	}
	return err
}

// installCRDs applies the CRDs the target cluster is expected to have (as
// test/e2e does), so that an app's custom resources apply.
func (c *cluster) installCRDs() error {
	dirs := filepath.SplitList(os.Getenv("STAGECRAFT_CRDS"))
	if len(dirs) == 0 {
		dirs = []string{filepath.Join("..", "..", "imports", "crds")}
	}
	// Kueue's LocalQueue, which gates create (see kueue_test.go).
	dirs = append(dirs, kueueCRDs)
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(c.client.Discovery()))
	ctx := context.Background()
	var names []string
	for _, d := range dirs {
		objs, err := readObjects(d)
		if err != nil {
			return err
		}
		for _, o := range objs {
			if o.u.GetKind() != "CustomResourceDefinition" {
				continue
			}
			if err := apply(ctx, c, mapper, o.u); err != nil {
				return fmt.Errorf("%s: %w", o, err)
			}
			names = append(names, o.u.GetName())
		}
	}
	crds := c.dynamic.Resource(crdResource)
	return waitFor(60*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
		for _, n := range names {
			u, err := crds.Get(ctx, n, metav1.GetOptions{})
			if err != nil {
				return false, err
			}
			conds, _, _ := unstructured.NestedSlice(u.Object, "status", "conditions")
			est := false
			for _, cond := range conds {
				m, _ := cond.(map[string]any)
				if m["type"] == "Established" && m["status"] == "True" {
					est = true
				}
			}
			if !est {
				return false, fmt.Errorf("CRD %s not Established", n)
			}
		}
		return true, nil
	})
}

// labelNode gives the node every label the app's pods select nodes by.
func (c *cluster) labelNode(ctx context.Context, tmpls []*template) error {
	lbls := map[string]string{"topology.kubernetes.io/zone": "zone-a"}
	for _, tm := range tmpls {
		for k, v := range tm.spec.Spec.NodeSelector {
			lbls[k] = v
		}
	}
	return patchJSON(ctx, c.client.CoreV1().RESTClient().Patch(types.MergePatchType).Resource("nodes").Name(nodeName),
		map[string]any{"metadata": map[string]any{"labels": lbls}})
}

// substituteVolumes replaces the source of each PersistentVolume the app
// ships that this node cannot mount (NFS, CSI without a driver, ...) by a
// local directory, keeping its name, capacity, access modes, class and
// claim, so that the pods using it run; the mount itself is NOT PROVEN.
func (r *run) substituteVolumes(t reporter) {
	for _, o := range r.objs {
		if o.u.GetKind() != "PersistentVolume" {
			continue
		}
		spec, _, _ := unstructured.NestedMap(o.u.Object, "spec")
		if _, ok := spec["local"]; ok {
			continue
		}
		var source string
		for _, k := range []string{"nfs", "csi", "iscsi", "cephfs", "rbd", "fc", "azureFile", "awsElasticBlockStore", "gcePersistentDisk", "hostPath", "glusterfs"} {
			if v, ok := spec[k]; ok {
				source = fmt.Sprintf("%s %v", k, v)
				delete(spec, k)
			}
		}
		dir, err := r.volumeDir(o.u.GetName())
		if err != nil {
			t.Fatalf("%v", err)
		}
		spec["local"] = map[string]any{"path": dir}
		spec["nodeAffinity"] = localAffinity()
		delete(spec, "mountOptions")
		_ = unstructured.SetNestedMap(o.u.Object, spec, "spec")
		r.note("NOT PROVEN (not a failure): PersistentVolume %s: its source (%s) cannot be mounted on this node (no such server or driver here; the kernel has no nfs); replaced by a local directory so that its pods run", o.u.GetName(), source)
	}
}

func localAffinity() map[string]any {
	return map[string]any{"required": map[string]any{"nodeSelectorTerms": []any{map[string]any{
		"matchExpressions": []any{map[string]any{"key": "kubernetes.io/hostname", "operator": "In", "values": []any{nodeName}}},
	}}}}
}

// volumeDir makes a directory for a local volume: owned by root, mode 0755,
// as a fresh file system is; only fsGroup lets the pods' user write it.
func (r *run) volumeDir(name string) (string, error) {
	dir := filepath.Join(scratchRoot, "volumes", name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return "", err
	}
	return dir, os.Chmod(dir, 0o755)
}

// provision stands in for a storage provisioner: each claim of the app that
// is pending without a volume gets a local PersistentVolume bound to it.
func (r *run) provision(ctx context.Context) (stop func()) {
	ctx, cancel := context.WithCancel(ctx)
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		for ctx.Err() == nil {
			for _, ns := range r.namespace {
				claims, err := r.c.client.CoreV1().PersistentVolumeClaims(ns).List(ctx, metav1.ListOptions{})
				if err != nil {
					continue
				}
				for _, pvc := range claims.Items {
					if pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending {
						continue
					}
					if err := r.bindLocal(ctx, &pvc); err != nil && !apierrors.IsAlreadyExists(err) {
						fmt.Printf("node: provision %s/%s: %v\n", pvc.Namespace, pvc.Name, err)
					}
				}
			}
			select {
			case <-ctx.Done():
			case <-time.After(500 * time.Millisecond):
			}
		}
	}()
	return func() { cancel(); wg.Wait() }
}

func (r *run) bindLocal(ctx context.Context, pvc *corev1.PersistentVolumeClaim) error {
	name := "stagecraft-node-" + pvc.Namespace + "-" + pvc.Name
	if len(name) > 253 {
		name = name[:253]
	}
	dir, err := r.volumeDir(name)
	if err != nil {
		return err
	}
	class := ""
	if pvc.Spec.StorageClassName != nil {
		class = *pvc.Spec.StorageClassName
	}
	pv := &corev1.PersistentVolume{
		ObjectMeta: metav1.ObjectMeta{Name: name},
		Spec: corev1.PersistentVolumeSpec{
			Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
			AccessModes:                   pvc.Spec.AccessModes,
			PersistentVolumeReclaimPolicy: corev1.PersistentVolumeReclaimRetain,
			StorageClassName:              class,
			VolumeMode:                    pvc.Spec.VolumeMode,
			ClaimRef:                      &corev1.ObjectReference{Kind: "PersistentVolumeClaim", APIVersion: "v1", Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID},
			PersistentVolumeSource:        corev1.PersistentVolumeSource{Local: &corev1.LocalVolumeSource{Path: dir}},
			NodeAffinity: &corev1.VolumeNodeAffinity{Required: &corev1.NodeSelector{NodeSelectorTerms: []corev1.NodeSelectorTerm{{
				MatchExpressions: []corev1.NodeSelectorRequirement{{Key: "kubernetes.io/hostname", Operator: corev1.NodeSelectorOpIn, Values: []string{nodeName}}},
			}}}},
		},
	}
	if _, err := r.c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{}); err != nil {
		return err
	}
	r.pvs = append(r.pvs, name)
	return nil
}

// createStandIns creates the Secrets and ConfigMaps the app's pods refer to
// but does not ship (the target cluster must provide them: ASSUMED), with a
// placeholder under every key referred to.
func (r *run) createStandIns(ctx context.Context) error {
	shipped := map[string]bool{}
	for _, o := range r.objs {
		shipped[o.u.GetKind()+"/"+o.u.GetNamespace()+"/"+o.u.GetName()] = true
	}
	want := map[string]map[string]bool{} // kind/ns/name -> keys
	add := func(kind, ns, name, key string) {
		id := kind + "/" + ns + "/" + name
		if shipped[id] || (kind == "ConfigMap" && name == "kube-root-ca.crt") {
			return
		}
		if want[id] == nil {
			want[id] = map[string]bool{}
		}
		if key != "" {
			want[id][key] = true
		}
	}
	for _, tm := range r.tmpls {
		ns := tm.ns()
		for _, ctr := range append(append([]corev1.Container{}, tm.spec.Spec.InitContainers...), tm.spec.Spec.Containers...) {
			for _, e := range ctr.Env {
				if e.ValueFrom == nil {
					continue
				}
				if s := e.ValueFrom.SecretKeyRef; s != nil && (s.Optional == nil || !*s.Optional) {
					add("Secret", ns, s.Name, s.Key)
				}
				if s := e.ValueFrom.ConfigMapKeyRef; s != nil && (s.Optional == nil || !*s.Optional) {
					add("ConfigMap", ns, s.Name, s.Key)
				}
			}
			for _, e := range ctr.EnvFrom {
				if s := e.SecretRef; s != nil && (s.Optional == nil || !*s.Optional) {
					add("Secret", ns, s.Name, "")
				}
				if s := e.ConfigMapRef; s != nil && (s.Optional == nil || !*s.Optional) {
					add("ConfigMap", ns, s.Name, "")
				}
			}
		}
		for _, v := range tm.spec.Spec.Volumes {
			if s := v.Secret; s != nil && (s.Optional == nil || !*s.Optional) {
				add("Secret", ns, s.SecretName, "")
				for _, it := range s.Items {
					add("Secret", ns, s.SecretName, it.Key)
				}
			}
			if s := v.ConfigMap; s != nil && (s.Optional == nil || !*s.Optional) {
				add("ConfigMap", ns, s.Name, "")
				for _, it := range s.Items {
					add("ConfigMap", ns, s.Name, it.Key)
				}
			}
		}
	}
	for _, id := range sortedKeys(want) {
		parts := strings.SplitN(id, "/", 3)
		data := map[string]string{}
		for k := range want[id] {
			data[k] = "stagecraft-node stand-in"
		}
		meta := metav1.ObjectMeta{Name: parts[2], Namespace: parts[1], Labels: map[string]string{"app.kubernetes.io/managed-by": "stagecraft-node"}}
		var err error
		if parts[0] == "Secret" {
			_, err = r.c.client.CoreV1().Secrets(parts[1]).Create(ctx, &corev1.Secret{ObjectMeta: meta, StringData: data}, metav1.CreateOptions{})
		} else {
			_, err = r.c.client.CoreV1().ConfigMaps(parts[1]).Create(ctx, &corev1.ConfigMap{ObjectMeta: meta, Data: data}, metav1.CreateOptions{})
		}
		if err := ensure(err); err != nil {
			return err
		}
		r.note("ASSUMED: %s %s/%s is referred to but not shipped: the target cluster must provide it (a stand-in with keys %s was created)", parts[0], parts[1], parts[2], strings.Join(sortedKeys(want[id]), ","))
	}
	return nil
}

// jobFromCronJob creates a Job from a CronJob's template, like kubectl
// create job --from=cronjob/<name>.
func (r *run) jobFromCronJob(ctx context.Context, tm *template) (string, error) {
	var cj batchv1.CronJob
	if err := fromUnstructured(tm.obj.u.Object, &cj); err != nil {
		return "", err
	}
	name := cj.Name + "-node"
	if len(name) > 52 {
		name = name[:52]
	}
	annotations := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		annotations[k] = v
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name: name, Namespace: cj.Namespace, Labels: cj.Spec.JobTemplate.Labels, Annotations: annotations,
			OwnerReferences: []metav1.OwnerReference{},
		},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	_, err := r.c.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{})
	return name, err
}

// jobs lists the Jobs of the run: the app's and those made from CronJobs.
func (r *run) jobs() []jobRef {
	var out []jobRef
	for _, tm := range r.tmpls {
		switch tm.kind {
		case batchJob:
			if s, _, _ := unstructured.NestedBool(tm.obj.u.Object, "spec", "suspend"); s && tm.obj.u.GetLabels()["kueue.x-k8s.io/queue-name"] == "" {
				continue
			}
			out = append(out, jobRef{tm: tm, ns: tm.ns(), name: tm.obj.u.GetName()})
		case cronJob:
			if n := r.fromCron[tm]; n != "" {
				out = append(out, jobRef{tm: tm, ns: tm.ns(), name: n, cron: true})
			}
		}
	}
	return out
}

type jobRef struct {
	tm       *template
	ns, name string
	cron     bool
}

// settled reports whether every workload is Ready and every Job complete;
// a failed Job or a pod that cannot start ends the wait.
func (r *run) settled(ctx context.Context) (bool, error) {
	cs := r.c.client
	var pending []string
	for _, j := range r.jobs() {
		job, err := cs.BatchV1().Jobs(j.ns).Get(ctx, j.name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		if cond(job.Status.Conditions, batchv1.JobFailed) {
			return false, permanent{Err: fmt.Errorf("Job %s/%s failed: %s", j.ns, j.name, r.podProblems(ctx, j.ns, "batch.kubernetes.io/job-name="+j.name))}
		}
		if !cond(job.Status.Conditions, batchv1.JobComplete) {
			pending = append(pending, fmt.Sprintf("Job %s/%s not complete (%s)", j.ns, j.name, r.podProblems(ctx, j.ns, "batch.kubernetes.io/job-name="+j.name)))
		}
	}
	for _, tm := range r.tmpls {
		if tm.kind != longRunning && tm.kind != barePod {
			continue
		}
		pods, err := r.podsOf(ctx, tm)
		if err != nil {
			return false, err
		}
		ready := 0
		for i := range pods {
			if podReady(&pods[i]) {
				ready++
			}
		}
		if int32(ready) < tm.replicas {
			pending = append(pending, fmt.Sprintf("%s: %d/%d pods Ready (%s)", tm, ready, tm.replicas, r.podProblems(ctx, tm.ns(), labels.SelectorFromSet(tm.spec.Labels).String())))
		}
	}
	if len(pending) > 0 {
		return false, fmt.Errorf("%s", strings.Join(pending, "; "))
	}
	return true, nil
}

func cond(conds []batchv1.JobCondition, t batchv1.JobConditionType) bool {
	for _, c := range conds {
		if c.Type == t && c.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}

func (r *run) podProblems(ctx context.Context, ns, selector string) string {
	pods, err := r.c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{LabelSelector: selector})
	if err != nil {
		return err.Error()
	}
	if len(pods.Items) == 0 {
		return "no pods"
	}
	var out []string
	for _, p := range pods.Items {
		out = append(out, p.Name+": "+podProblem(&p))
	}
	sort.Strings(out)
	return strings.Join(out, ", ")
}

// podsOf lists the pods a template's controller made (for a CronJob: those
// of the Job made from it).
func (r *run) podsOf(ctx context.Context, tm *template) ([]corev1.Pod, error) {
	sel := labels.SelectorFromSet(tm.spec.Labels).String()
	switch tm.kind {
	case batchJob:
		sel = "batch.kubernetes.io/job-name=" + tm.obj.u.GetName()
	case cronJob:
		sel = "batch.kubernetes.io/job-name=" + r.fromCron[tm]
	case barePod:
		p, err := r.c.client.CoreV1().Pods(tm.ns()).Get(ctx, tm.obj.u.GetName(), metav1.GetOptions{})
		if err != nil {
			return nil, err
		}
		return []corev1.Pod{*p}, nil
	}
	list, err := r.c.client.CoreV1().Pods(tm.ns()).List(ctx, metav1.ListOptions{LabelSelector: sel})
	if err != nil {
		return nil, err
	}
	var out []corev1.Pod
	for _, p := range list.Items {
		if p.Labels[probeLabel] == "" {
			out = append(out, p)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i].CreationTimestamp.Before(&out[j].CreationTimestamp) })
	return out, nil
}

// cleanup removes the app: its namespaces (and so its pods), the volumes
// the suite made, the app's PersistentVolumes and other cluster-scoped
// objects.
func (r *run) cleanup(t reporter) {
	for i := len(r.stops) - 1; i >= 0; i-- {
		r.stops[i]()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	cs := r.c.client
	zero := int64(0)
	removeStart := time.Now()
	// Controllers first, or they make new pods for the deleted ones.
	background := metav1.DeletePropagationBackground
	for _, tm := range r.tmpls {
		if tm.kind == barePod {
			continue
		}
		gvk := tm.obj.u.GroupVersionKind()
		res := schema.GroupVersionResource{Group: gvk.Group, Version: gvk.Version, Resource: strings.ToLower(gvk.Kind) + "s"}
		_ = r.c.dynamic.Resource(res).Namespace(tm.ns()).Delete(ctx, tm.obj.u.GetName(), metav1.DeleteOptions{PropagationPolicy: &background})
		if n := r.fromCron[tm]; n != "" {
			_ = cs.BatchV1().Jobs(tm.ns()).Delete(ctx, n, metav1.DeleteOptions{PropagationPolicy: &background})
		}
	}
	for _, ns := range r.namespace {
		// The workload stops at SIGTERM; no need for the grace period.
		_ = cs.CoreV1().Pods(ns).DeleteCollection(ctx, metav1.DeleteOptions{GracePeriodSeconds: &zero}, metav1.ListOptions{})
		if err := cs.CoreV1().Namespaces().Delete(ctx, ns, metav1.DeleteOptions{}); err != nil && !apierrors.IsNotFound(err) {
			t.Errorf("delete namespace %s: %v", ns, err)
		}
	}
	// The next app needs the node's resources, not the namespace gone:
	// wait until the pods have stopped and let the namespace controller
	// finish in the background (start waits for a namespace it reuses).
	slow := false
	err := waitFor(2*time.Minute, time.Second, r.c.procs, func() (bool, error) {
		for _, ns := range r.namespace {
			pods, err := cs.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
			if err != nil {
				return false, err
			}
			if n := len(pods.Items); n > 0 {
				var left []string
				for i := range pods.Items {
					left = append(left, pods.Items[i].Name+": "+podProblem(&pods.Items[i]))
				}
				if time.Since(removeStart) > 10*time.Second && !slow {
					slow = true
					t.Logf("still removing the pods of %s after 10s: %s", r.unit.name, strings.Join(left, ", "))
				}
				return false, fmt.Errorf("%d pods left in %s: %s", n, ns, strings.Join(left, ", "))
			}
		}
		return true, nil
	})
	if err != nil {
		t.Errorf("remove the app: %v", err)
	}
	t.Logf("removed the pods of %s in %.1fs", r.unit.name, time.Since(removeStart).Seconds())
	mapper := restmapper.NewDeferredDiscoveryRESTMapper(memory.NewMemCacheClient(cs.Discovery()))
	for _, o := range r.objs {
		if o.u.GetNamespace() != "" || o.u.GetKind() == "Namespace" {
			continue
		}
		gvk := o.u.GroupVersionKind()
		if m, err := mapper.RESTMapping(gvk.GroupKind(), gvk.Version); err == nil && m.Scope.Name() == meta.RESTScopeNameRoot {
			_ = r.c.dynamic.Resource(m.Resource).Delete(ctx, o.u.GetName(), metav1.DeleteOptions{})
		}
	}
	for _, pv := range r.pvs {
		_ = cs.CoreV1().PersistentVolumes().Delete(ctx, pv, metav1.DeleteOptions{})
	}
}
