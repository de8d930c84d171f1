package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"
	"time"

	appsv1 "k8s.io/api/apps/v1"
	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	k8sruntime "k8s.io/apimachinery/pkg/runtime"
	"k8s.io/client-go/informers"
	"k8s.io/client-go/tools/cache"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

const (
	kwokNodeAnnotation = "kwok.x-k8s.io/node"
	// kwokStorageClass is the default StorageClass shipped with kwok's volume
	// stages (testdata/kwok/volume-fast.yaml); kwok provisions and binds its
	// claims.
	kwokStorageClass = "kwok-volume"
	noProvisioner    = "kubernetes.io/no-provisioner"
	selectedNodeAnn  = "volume.kubernetes.io/selected-node"
	// kueueQueueLabel marks a Job that Kueue admits by resuming it (Kueue's
	// webhook suspends it when it is created).
	kueueQueueLabel = "kueue.x-k8s.io/queue-name"
)

// JobRun is when one Job of an app ran in the simulated cluster.
type JobRun struct {
	Namespace   string    `json:"namespace"`
	Name        string    `json:"name"`
	FromCronJob string    `json:"fromCronJob,omitempty"`
	Created     time.Time `json:"created"`
	Started     time.Time `json:"started"`
	Completed   time.Time `json:"completed"` // status.completionTime (1 s resolution)
	// Observed is when the harness first saw the Job complete (sub-second).
	Observed time.Time `json:"observed"`
	// Wave is the Job's Argo CD sync wave, for Jobs released by wave (not
	// those made from CronJobs, which run after every wave).
	Wave *int `json:"wave,omitempty"`
	// StartedEvent and CompletedEvent number the events of the harness's
	// one Job watch (in etcd order) in which it first saw the Job with a
	// startTime, and complete: finer than the API server's 1 s timestamps.
	StartedEvent   uint64 `json:"startedEvent,omitempty"`
	CompletedEvent uint64 `json:"completedEvent,omitempty"`
}

// WaveRun is one Argo CD sync wave of Jobs and when the harness released it.
type WaveRun struct {
	Wave      int       `json:"wave"`
	Jobs      []string  `json:"jobs"` // namespace/name
	Released  time.Time `json:"released"`
	Completed time.Time `json:"completed"` // when the harness saw its last Job complete
}

// PipelineReport is what the pipeline phase of one app observed. Reports are
// kept in pipelineReports (by app name) so later tests in this package can
// check, e.g., the order in which Jobs completed; with
// STAGECRAFT_E2E_REPORT_DIR set each is also written there as <app>.json.
type PipelineReport struct {
	App       string    `json:"app"`
	Jobs      []JobRun  `json:"jobs"` // in the order they were seen complete
	Waves     []WaveRun `json:"waves,omitempty"`
	NotProven []string  `json:"notProven,omitempty"`
	// AssumedStorageClasses are used by the app but not shipped with it; the
	// harness created them, as the target cluster must.
	AssumedStorageClasses []string `json:"assumedStorageClasses,omitempty"`
	// Gates are the gate programs the harness ran in place of their pods.
	Gates []GateReport `json:"gates,omitempty"`
	// Accelerators says how many accelerators waiting pods held, sampled.
	Accelerators string `json:"accelerators,omitempty"`
}

// GateReport is how one gate program ended.
type GateReport struct {
	Where   string    `json:"where"`
	Mode    string    `json:"mode"`
	Job     string    `json:"job,omitempty"`
	Message string    `json:"message"`
	Started time.Time `json:"started"`
	Ended   time.Time `json:"ended"`
}

var (
	reportsMu       sync.Mutex
	pipelineReports = map[string]*PipelineReport{}
)

// pipelineTimeout bounds the wait for an app's workloads.
func pipelineTimeout() time.Duration {
	if v := os.Getenv("STAGECRAFT_E2E_PIPELINE_TIMEOUT"); v != "" {
		if d, err := time.ParseDuration(v); err == nil {
			return d
		}
	}
	return 3 * time.Minute
}

// podSpecOf returns the pod spec inside a workload object, if it has one.
func podSpecOf(o *unstructured.Unstructured) (*corev1.PodSpec, bool) {
	var path []string
	switch o.GroupVersionKind().GroupKind().String() {
	case "Pod":
		path = []string{"spec"}
	case "Deployment.apps", "StatefulSet.apps", "DaemonSet.apps", "ReplicaSet.apps", "Job.batch", "ReplicationController":
		path = []string{"spec", "template", "spec"}
	case "CronJob.batch":
		path = []string{"spec", "jobTemplate", "spec", "template", "spec"}
	default:
		return nil, false
	}
	m, found, err := unstructured.NestedMap(o.Object, path...)
	if err != nil || !found {
		return nil, false
	}
	var spec corev1.PodSpec
	if err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(m, &spec); err != nil {
		return nil, false
	}
	return &spec, true
}

func convert[T any](o *unstructured.Unstructured) (*T, error) {
	var v T
	err := k8sruntime.DefaultUnstructuredConverter.FromUnstructured(o.Object, &v)
	return &v, err
}

// fakeNodes builds the kwok-managed nodes for an app: three nodes in three
// zones, plus, for each distinct nodeSelector in the app's pod templates that
// they do not satisfy, two more nodes that carry its labels. Every node has
// room for GPU work (nvidia.com/gpu: 8).
func fakeNodes(ap *app) []*corev1.Node {
	base := func(name, zone string) *corev1.Node {
		capacity := corev1.ResourceList{
			corev1.ResourceCPU:              resource.MustParse("64"),
			corev1.ResourceMemory:           resource.MustParse("512Gi"),
			corev1.ResourcePods:             resource.MustParse("110"),
			corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
			"nvidia.com/gpu":                resource.MustParse("8"),
		}
		return &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{
				Name:        name,
				Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"},
				Labels: map[string]string{
					"kubernetes.io/hostname":        name,
					"kubernetes.io/os":              "linux",
					"kubernetes.io/arch":            "amd64",
					"topology.kubernetes.io/zone":   zone,
					"topology.kubernetes.io/region": "e2e",
					"type":                          "kwok",
				},
			},
			Status: corev1.NodeStatus{Capacity: capacity, Allocatable: capacity.DeepCopy()},
		}
	}
	zones := []string{"e2e-a", "e2e-b", "e2e-c"}
	var nodes []*corev1.Node
	for i, z := range zones {
		nodes = append(nodes, base(fmt.Sprintf("kwok-node-%d", i), z))
	}
	satisfied := func(sel map[string]string) bool {
		for _, n := range nodes {
			ok := true
			for k, v := range sel {
				if n.Labels[k] != v {
					ok = false
					break
				}
			}
			if ok {
				return true
			}
		}
		return false
	}
	for _, m := range ap.manifests {
		spec, ok := podSpecOf(m.obj)
		if !ok || len(spec.NodeSelector) == 0 || satisfied(spec.NodeSelector) {
			continue
		}
		for i := 0; i < 2; i++ {
			n := base(fmt.Sprintf("kwok-node-%d", len(nodes)), zones[i%len(zones)])
			for k, v := range spec.NodeSelector {
				n.Labels[k] = v
			}
			nodes = append(nodes, n)
		}
	}
	return nodes
}

// storagePlan says which claims of an app can be bound in this cluster.
type storagePlan struct {
	// standIn: StorageClasses whose (external) provisioner the harness stands
	// in for: it creates a PV for each of their claims.
	standIn map[string]*storagev1.StorageClass
	// assumed: classes the app uses but does not ship, so the target cluster
	// must provide them. The harness creates them (in standIn too).
	assumed []string
	// unbindable: claim (namespace/name) or claim template
	// (namespace/statefulset/template) -> why it cannot bind here.
	unbindable map[string]string
}

// standInProvisionerName is the provisioner of the StorageClasses the harness
// creates for classes an app expects the cluster to provide.
const standInProvisionerName = "stagecraft-e2e/stand-in"

// planStorage classifies the app's claims:
//   - no storageClassName: the app's default class if it ships one, else the
//     default class here (kwok-volume), which kwok provisions;
//   - kwok-volume: kwok provisions it;
//   - a class the app ships with a dynamic provisioner: the harness stands in
//     for that provisioner;
//   - a class the app does not ship: the cluster is assumed to provide it; the
//     harness creates it and stands in for its provisioner;
//   - "" or a no-provisioner class: it needs a PersistentVolume the app ships
//     (without one it stays pending, which is reported, not failed).
func planStorage(ap *app) storagePlan {
	p := storagePlan{standIn: map[string]*storagev1.StorageClass{}, unbindable: map[string]string{}}
	classes := map[string]*storagev1.StorageClass{}
	pvClasses := map[string]bool{}
	for _, m := range ap.manifests {
		switch m.obj.GroupVersionKind().GroupKind().String() {
		case "StorageClass.storage.k8s.io":
			if sc, err := convert[storagev1.StorageClass](m.obj); err == nil {
				classes[sc.Name] = sc
			}
		case "PersistentVolume":
			if pv, err := convert[corev1.PersistentVolume](m.obj); err == nil {
				pvClasses[pv.Spec.StorageClassName] = true
			}
		}
	}
	// A claim without a class got the app's default class, if it ships one,
	// when it was created.
	var appDefault *string
	for name, sc := range classes {
		if sc.Annotations["storageclass.kubernetes.io/is-default-class"] == "true" {
			appDefault = &name
		}
	}
	classify := func(key string, class *string) {
		if class == nil {
			class = appDefault
		}
		switch {
		case class == nil || *class == kwokStorageClass || p.standIn[*class] != nil:
			return
		case *class == "" || classes[*class] != nil && classes[*class].Provisioner == noProvisioner:
			if !pvClasses[*class] {
				p.unbindable[key] = fmt.Sprintf("storage class %q needs a PersistentVolume and the app ships none", *class)
			}
		case classes[*class] != nil:
			p.standIn[*class] = classes[*class]
		default:
			immediate := storagev1.VolumeBindingImmediate
			p.standIn[*class] = &storagev1.StorageClass{
				ObjectMeta:        metav1.ObjectMeta{Name: *class},
				Provisioner:       standInProvisionerName,
				VolumeBindingMode: &immediate,
			}
			p.assumed = append(p.assumed, *class)
		}
	}
	for _, m := range ap.manifests {
		switch m.obj.GroupVersionKind().GroupKind().String() {
		case "PersistentVolumeClaim":
			if pvc, err := convert[corev1.PersistentVolumeClaim](m.obj); err == nil && pvc.Spec.VolumeName == "" {
				classify(nsOrDefault(pvc.Namespace)+"/"+pvc.Name, pvc.Spec.StorageClassName)
			}
		case "StatefulSet.apps":
			if sts, err := convert[appsv1.StatefulSet](m.obj); err == nil {
				for _, vct := range sts.Spec.VolumeClaimTemplates {
					classify(nsOrDefault(sts.Namespace)+"/"+sts.Name+"/"+vct.Name, vct.Spec.StorageClassName)
				}
			}
		}
	}
	sort.Strings(p.assumed)
	return p
}

func nsOrDefault(ns string) string {
	if ns == "" {
		return metav1.NamespaceDefault
	}
	return ns
}

// blockedBy returns why a workload's pods cannot start here (they mount a
// claim that cannot bind), or "".
func (p storagePlan) blockedBy(o *unstructured.Unstructured, spec *corev1.PodSpec) string {
	ns := nsOrDefault(o.GetNamespace())
	for _, v := range spec.Volumes {
		if v.PersistentVolumeClaim == nil {
			continue
		}
		if why, ok := p.unbindable[ns+"/"+v.PersistentVolumeClaim.ClaimName]; ok {
			return fmt.Sprintf("mounts claim %s: %s", v.PersistentVolumeClaim.ClaimName, why)
		}
	}
	for k, why := range p.unbindable {
		if strings.HasPrefix(k, ns+"/"+o.GetName()+"/") && o.GetKind() == "StatefulSet" {
			return fmt.Sprintf("volume claim template %s: %s", strings.TrimPrefix(k, ns+"/"+o.GetName()+"/"), why)
		}
	}
	return ""
}

// standInProvisioner plays the external provisioner of the app's own
// StorageClasses: for each pending claim of such a class (for
// WaitForFirstConsumer, once the scheduler has picked a node) it creates a
// PersistentVolume pre-bound to the claim, which kube-controller-manager then
// binds, as it would a volume made by a CSI provisioner.
func (c *cluster) standInProvisioner(ctx context.Context, t *testing.T, classes map[string]*storagev1.StorageClass) {
	if len(classes) == 0 {
		return
	}
	tick := time.NewTicker(300 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-tick.C:
		}
		pvcs, err := c.client.CoreV1().PersistentVolumeClaims("").List(ctx, metav1.ListOptions{})
		if err != nil {
			continue
		}
		for _, pvc := range pvcs.Items {
			if pvc.Spec.StorageClassName == nil || pvc.Spec.VolumeName != "" || pvc.Status.Phase != corev1.ClaimPending {
				continue
			}
			sc := classes[*pvc.Spec.StorageClassName]
			if sc == nil {
				continue
			}
			if sc.VolumeBindingMode != nil && *sc.VolumeBindingMode == storagev1.VolumeBindingWaitForFirstConsumer && pvc.Annotations[selectedNodeAnn] == "" {
				continue
			}
			reclaim := corev1.PersistentVolumeReclaimDelete
			if sc.ReclaimPolicy != nil {
				reclaim = *sc.ReclaimPolicy
			}
			name := "pvc-" + string(pvc.UID)
			pv := &corev1.PersistentVolume{
				ObjectMeta: metav1.ObjectMeta{Name: name, Annotations: map[string]string{"pv.kubernetes.io/provisioned-by": sc.Provisioner}},
				Spec: corev1.PersistentVolumeSpec{
					Capacity:                      corev1.ResourceList{corev1.ResourceStorage: pvc.Spec.Resources.Requests[corev1.ResourceStorage]},
					AccessModes:                   pvc.Spec.AccessModes,
					VolumeMode:                    pvc.Spec.VolumeMode,
					StorageClassName:              sc.Name,
					PersistentVolumeReclaimPolicy: reclaim,
					ClaimRef: &corev1.ObjectReference{
						APIVersion: "v1", Kind: "PersistentVolumeClaim",
						Namespace: pvc.Namespace, Name: pvc.Name, UID: pvc.UID,
					},
					// Never touched: no kubelet runs here.
					PersistentVolumeSource: corev1.PersistentVolumeSource{HostPath: &corev1.HostPathVolumeSource{Path: "/e2e-stand-in/" + name}},
				},
			}
			_, err := c.client.CoreV1().PersistentVolumes().Create(ctx, pv, metav1.CreateOptions{FieldManager: harnessFieldManager})
			if err == nil {
				t.Logf("stand-in provisioner (%s): created %s for claim %s/%s", sc.Provisioner, name, pvc.Namespace, pvc.Name)
			} else if !apierrors.IsAlreadyExists(err) {
				t.Logf("stand-in provisioner: %s/%s: %v", pvc.Namespace, pvc.Name, err)
			}
		}
	}
}

// jobWatch records the first completed or failed state of every Job, from an
// informer started before the controllers, so that a Job removed right after
// it finished (ttlSecondsAfterFinished) is still seen. It also numbers the
// events: one informer's handler gets them one at a time in the watch's
// (etcd's) order, so the numbers order what happened to different Jobs.
type jobWatch struct {
	mu        sync.Mutex
	events    uint64
	done      map[string]*batchv1.Job // namespace/name -> Job in its terminal state
	seen      map[string]time.Time    // namespace/name -> when it was first seen there
	doneEvent map[string]uint64       // namespace/name -> event in which it was first seen there
	started   map[string]uint64       // namespace/name -> first event with status.startTime
}

func newJobWatch() *jobWatch {
	return &jobWatch{done: map[string]*batchv1.Job{}, seen: map[string]time.Time{},
		doneEvent: map[string]uint64{}, started: map[string]uint64{}}
}

func jobFinished(j *batchv1.Job) (complete, failed bool, msg string) {
	for _, c := range j.Status.Conditions {
		if c.Status != corev1.ConditionTrue {
			continue
		}
		switch c.Type {
		case batchv1.JobComplete:
			return true, false, ""
		case batchv1.JobFailed:
			return false, true, c.Reason + ": " + c.Message
		}
	}
	return false, false, ""
}

func (w *jobWatch) observe(obj any) {
	j, ok := obj.(*batchv1.Job)
	if !ok {
		return
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	w.events++
	key := j.Namespace + "/" + j.Name
	if j.Status.StartTime != nil && w.started[key] == 0 {
		w.started[key] = w.events
	}
	if c, f, _ := jobFinished(j); !c && !f {
		return
	}
	if w.done[key] == nil {
		w.done[key] = j.DeepCopy()
		w.seen[key] = time.Now()
		w.doneEvent[key] = w.events
	}
}

// eventsOf returns the numbers of the events in which a Job was first seen
// started and finished (0: not seen).
func (w *jobWatch) eventsOf(key string) (started, done uint64) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.started[key], w.doneEvent[key]
}

func (w *jobWatch) get(key string) (*batchv1.Job, time.Time) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.done[key], w.seen[key]
}

// expectation is one thing the pipeline phase must see happen.
type expectation struct {
	what  string
	check func(ctx context.Context) (done bool, status string, err error) // err: failed for good
}

// runPipeline starts the controllers, scheduler and kwok on a cluster the app
// has been applied to, and proves that its workloads run: Deployments,
// StatefulSets and DaemonSets become available, Jobs (and a Job made from
// each CronJob) complete, claims bind, shipped PersistentVolumes bind to their
// claims, bare Pods become ready, and every applied object still exists.
// Problems of the app are returned (with what the cluster said about them);
// problems of the harness fail t.
func runPipeline(t *testing.T, c *cluster, ap *app, timeout time.Duration) (*PipelineReport, error) {
	var errs []error
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	report := &PipelineReport{App: ap.name}
	start := time.Now()

	// kwok's StorageClass (and the RBAC it ships, harmless here).
	h, err := newApplier(c.cfg, harnessFieldManager)
	if err != nil {
		t.Fatal(err)
	}
	stageFiles, _ := filepath.Glob(filepath.Join("testdata", "kwok", "*.yaml"))
	for _, f := range stageFiles {
		ms, _, err := readManifests(f, f)
		if err != nil {
			t.Fatal(err)
		}
		for _, m := range ms {
			if m.obj.GetKind() == "Stage" {
				continue
			}
			if _, err := h.apply(ctx, m.obj); err != nil {
				t.Fatalf("%s: %v", m, err)
			}
		}
	}

	// Storage classes before the controllers: the PersistentVolume controller
	// should find a claim's class when it first syncs the claim, rather than
	// on a periodic resync.
	plan := planStorage(ap)
	for _, name := range plan.assumed {
		if _, err := c.client.StorageV1().StorageClasses().Create(ctx, plan.standIn[name], metav1.CreateOptions{FieldManager: harnessFieldManager}); err != nil {
			t.Fatalf("create assumed storage class %s: %v", name, err)
		}
		t.Logf("ASSUMED: storage class %q is used but not shipped by the app, so the target cluster must provide it; created here with a stand-in provisioner", name)
	}
	report.AssumedStorageClasses = plan.assumed
	if len(plan.standIn) > 0 {
		var names []string
		for n, sc := range plan.standIn {
			names = append(names, n+" ("+sc.Provisioner+")")
		}
		sort.Strings(names)
		t.Logf("standing in for the provisioner of storage classes: %s", strings.Join(names, ", "))
	}
	provisioned := make(chan struct{})
	go func() {
		defer close(provisioned)
		c.standInProvisioner(ctx, t, plan.standIn)
	}()
	defer func() {
		cancel()
		<-provisioned // it logs to t, which must not outlive this test
	}()

	nodes := fakeNodes(ap)
	for _, n := range nodes {
		if _, err := c.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: harnessFieldManager}); err != nil {
			t.Fatalf("create fake node %s: %v", n.Name, err)
		}
	}
	t.Logf("created %d fake kwok nodes (nvidia.com/gpu: 8 each)", len(nodes))

	jobs := newJobWatch()
	factory := informers.NewSharedInformerFactory(c.client, 0)
	inf := factory.Batch().V1().Jobs().Informer()
	if _, err := inf.AddEventHandler(cache.ResourceEventHandlerFuncs{
		AddFunc:    jobs.observe,
		UpdateFunc: func(_, n any) { jobs.observe(n) },
	}); err != nil {
		t.Fatal(err)
	}
	factory.Start(ctx.Done())
	defer func() {
		cancel() // Shutdown waits for the informers, which stop on cancel
		factory.Shutdown()
	}()
	if !cache.WaitForCacheSync(ctx.Done(), inf.HasSynced) {
		t.Fatal("job informer did not sync")
	}

	// Argo CD sync waves: Jobs above the lowest wave are held suspended
	// before the controllers start, then released wave by wave.
	waves, err := planWaves(t, c, jobs, ap, plan)
	if err != nil {
		errs = append(errs, err)
	}
	if err := waves.hold(ctx); err != nil {
		t.Fatal(err)
	}
	gates, err := planGates(ap)
	if err != nil {
		errs = append(errs, err)
	}
	kueue := holdForHarness(ctx, t, c, ap, gates)

	c.startPipeline(t)

	var exps []expectation
	if len(waves.waves) > 0 {
		exps = append(exps, waves.expectation())
	}
	if len(kueue.jobs) > 0 {
		exps = append(exps, kueue.expectation(t, c, waves))
	}
	for _, g := range gates {
		if err := g.start(ctx, c); err != nil {
			errs = append(errs, err)
			continue
		}
		// A held Job completes only once its gate released it; a wait in
		// an init container holds nothing up here (kwok runs no container),
		// so its outcome is reported, not awaited.
		if g.cmd.Mode == "release" {
			exps = append(exps, gateEnds(g, gate.Done))
		}
	}
	if len(gates) > 0 {
		t.Logf("running %d gate program(s) in the harness, each as its pod's ServiceAccount (a TokenRequest token), in place of the pods kwok cannot run; their gate Jobs are held suspended", len(gates))
	}
	sampler := &acceleratorSampler{}
	sampled := make(chan struct{})
	sampleCtx, stopSampling := context.WithCancel(ctx)
	go func() {
		defer close(sampled)
		sampler.run(sampleCtx, c, h.appNamespaces(sampleCtx, ap))
	}()
	notProven := func(what, why string) {
		report.NotProven = append(report.NotProven, what+": "+why)
	}

	// Jobs from CronJobs, as `kubectl create job --from=cronjob/NAME` makes
	// them, once every sync wave has completed (a schedule fires later).
	for _, m := range ap.manifests {
		if m.obj.GroupVersionKind().GroupKind().String() != "CronJob.batch" {
			continue
		}
		spec, _ := podSpecOf(m.obj)
		if why := plan.blockedBy(m.obj, spec); why != "" {
			// It cannot run here; creating it still proves the template.
			job, err := c.jobFromCronJob(ctx, h, m.obj)
			if err != nil {
				errs = append(errs, fmt.Errorf("%s: create a Job from it: %w", m, err))
				continue
			}
			notProven("Job "+job.Namespace+"/"+job.Name, why)
			continue
		}
		exps = append(exps, c.cronJobRuns(h, jobs, m, waves, report))
	}

	for _, m := range ap.manifests {
		o := m.obj
		ns := nsOrDefault(o.GetNamespace())
		name := o.GetName()
		gk := o.GroupVersionKind().GroupKind().String()
		if spec, ok := podSpecOf(o); ok && gk != "CronJob.batch" {
			if why := plan.blockedBy(o, spec); why != "" {
				notProven(m.String(), why)
				continue
			}
		}
		switch gk {
		case "Deployment.apps":
			exps = append(exps, expectation{what: m.String() + " available", check: func(ctx context.Context) (bool, string, error) {
				d, err := c.client.AppsV1().Deployments(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, "", err
				}
				want := int32(1)
				if d.Spec.Replicas != nil {
					want = *d.Spec.Replicas
				}
				available := false
				for _, cond := range d.Status.Conditions {
					if cond.Type == appsv1.DeploymentAvailable && cond.Status == corev1.ConditionTrue {
						available = true
					}
				}
				st := fmt.Sprintf("%d/%d available, %d updated", d.Status.AvailableReplicas, want, d.Status.UpdatedReplicas)
				return available && d.Status.ObservedGeneration >= d.Generation && d.Status.AvailableReplicas == want && d.Status.UpdatedReplicas == want, st, nil
			}})
		case "StatefulSet.apps":
			exps = append(exps, expectation{what: m.String() + " available", check: func(ctx context.Context) (bool, string, error) {
				s, err := c.client.AppsV1().StatefulSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, "", err
				}
				want := int32(1)
				if s.Spec.Replicas != nil {
					want = *s.Spec.Replicas
				}
				st := fmt.Sprintf("%d/%d ready, %d available", s.Status.ReadyReplicas, want, s.Status.AvailableReplicas)
				return s.Status.ObservedGeneration >= s.Generation && s.Status.ReadyReplicas == want && s.Status.AvailableReplicas == want, st, nil
			}})
		case "DaemonSet.apps":
			exps = append(exps, expectation{what: m.String() + " available", check: func(ctx context.Context) (bool, string, error) {
				d, err := c.client.AppsV1().DaemonSets(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, "", err
				}
				st := fmt.Sprintf("%d/%d available", d.Status.NumberAvailable, d.Status.DesiredNumberScheduled)
				return d.Status.ObservedGeneration >= d.Generation && d.Status.DesiredNumberScheduled > 0 && d.Status.NumberAvailable == d.Status.DesiredNumberScheduled, st, nil
			}})
		case "Job.batch":
			if suspend, _, _ := unstructured.NestedBool(o.Object, "spec", "suspend"); suspend {
				notProven(m.String(), "suspended, and nothing here resumes it")
				continue
			}
			if o.GetLabels()[componentLabel] == "gate" {
				continue // its program runs in the harness (gates)
			}
			// Released by its sync wave, its gate, or the stand-in for Kueue.
			exps = append(exps, c.jobCompletes(jobs, ns, name, "", report))
		case "Pod":
			exps = append(exps, expectation{what: m.String() + " ready", check: func(ctx context.Context) (bool, string, error) {
				p, err := c.client.CoreV1().Pods(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, "", err
				}
				if p.Status.Phase == corev1.PodSucceeded {
					return true, "succeeded", nil
				}
				if p.Status.Phase == corev1.PodFailed {
					return false, "", permanent{Err: fmt.Errorf("pod failed: %s", p.Status.Message)}
				}
				if podReady(p) {
					return true, "ready", nil
				}
				return false, string(p.Status.Phase), nil
			}})
		case "PersistentVolumeClaim":
			if why, ok := plan.unbindable[ns+"/"+name]; ok {
				notProven(m.String()+" bound", why)
				continue
			}
			exps = append(exps, expectation{what: m.String() + " bound", check: func(ctx context.Context) (bool, string, error) {
				p, err := c.client.CoreV1().PersistentVolumeClaims(ns).Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, "", err
				}
				return p.Status.Phase == corev1.ClaimBound, fmt.Sprintf("%s (volume %q)", p.Status.Phase, p.Spec.VolumeName), nil
			}})
		case "PersistentVolume":
			exps = append(exps, expectation{what: m.String() + " bound to its claim", check: func(ctx context.Context) (bool, string, error) {
				pv, err := c.client.CoreV1().PersistentVolumes().Get(ctx, name, metav1.GetOptions{})
				if err != nil {
					return false, "", err
				}
				if pv.Status.Phase != corev1.VolumeBound || pv.Spec.ClaimRef == nil {
					return false, string(pv.Status.Phase), nil
				}
				claim := pv.Spec.ClaimRef.Namespace + "/" + pv.Spec.ClaimRef.Name
				pvc, err := c.client.CoreV1().PersistentVolumeClaims(pv.Spec.ClaimRef.Namespace).Get(ctx, pv.Spec.ClaimRef.Name, metav1.GetOptions{})
				if err != nil {
					return false, "claim " + claim, err
				}
				ok := pvc.Status.Phase == corev1.ClaimBound && pvc.Spec.VolumeName == pv.Name && pvc.UID == pv.Spec.ClaimRef.UID
				return ok, fmt.Sprintf("Bound to %s (claim %s)", claim, pvc.Status.Phase), nil
			}})
		}
	}

	// Wait for all of them together; each is checked until it holds.
	pending := exps
	status := map[string]string{}
	err = waitFor(timeout, 500*time.Millisecond, c.procs, func() (bool, error) {
		var still []expectation
		for _, e := range pending {
			done, st, err := e.check(ctx)
			var perm permanent
			if errors.As(err, &perm) {
				return false, permanent{Err: fmt.Errorf("%s: %w", e.what, perm.Err)}
			}
			if err != nil {
				st = err.Error()
			}
			if done {
				t.Logf("ok  %s (%s, after %v)", e.what, st, time.Since(start).Round(100*time.Millisecond))
				continue
			}
			status[e.what] = st
			still = append(still, e)
		}
		pending = still
		return len(pending) == 0, nil
	})
	if err != nil {
		var lines []string
		for _, e := range pending {
			lines = append(lines, fmt.Sprintf("  %s: %s", e.what, status[e.what]))
		}
		errs = append(errs, fmt.Errorf("%w\nnot reached:\n%s\nwhat the cluster says:\n%s",
			err, strings.Join(lines, "\n"), c.diagnostics(ap)))
	}

	stopSampling()
	<-sampled
	report.Accelerators = sampler.summary()
	t.Log(report.Accelerators)
	for _, g := range gates {
		done, res, ended, _ := g.result()
		if !done {
			continue
		}
		report.Gates = append(report.Gates, GateReport{Where: g.where, Mode: g.cmd.Mode, Job: g.cmd.Job, Message: res.Message, Started: g.started, Ended: ended})
		t.Logf("%s: %q after %v", g, res.Message, ended.Sub(g.started).Round(10*time.Millisecond))
	}

	// Everything the app applied must still be there (not garbage collected,
	// not rejected later), except Jobs cleaned up by their TTL.
	kinds := map[string]int{}
	for _, m := range ap.manifests {
		if _, found, _ := unstructured.NestedFieldNoCopy(m.obj.Object, "spec", "ttlSecondsAfterFinished"); found && m.obj.GetKind() == "Job" {
			continue
		}
		if _, err := h.get(ctx, m.obj); err != nil {
			errs = append(errs, fmt.Errorf("%s: gone after the pipeline ran: %w", m, err))
			continue
		}
		kinds[m.obj.GetKind()]++
	}
	var kk []string
	for k, n := range kinds {
		kk = append(kk, fmt.Sprintf("%s=%d", k, n))
	}
	sort.Strings(kk)
	t.Logf("applied objects that exist after the pipeline ran: %s", strings.Join(kk, " "))

	for _, np := range report.NotProven {
		t.Logf("NOT PROVEN (not a failure): %s", np)
	}
	sort.Slice(report.Jobs, func(i, j int) bool { return report.Jobs[i].Observed.Before(report.Jobs[j].Observed) })
	report.Waves = waves.report()
	for i, j := range report.Jobs {
		from := ""
		if j.FromCronJob != "" {
			from = " (from CronJob " + j.FromCronJob + ")"
		}
		if w, ok := waves.wave[j.Namespace+"/"+j.Name]; ok && j.FromCronJob == "" {
			report.Jobs[i].Wave = &w
			from = fmt.Sprintf(" (sync wave %d)", w)
		}
		t.Logf("job %s/%s%s: created %s, started %s (watch event #%d), completed %s (watch event #%d)", j.Namespace, j.Name, from,
			j.Created.Format(time.TimeOnly), j.Started.Format(time.TimeOnly), j.StartedEvent,
			j.Completed.Format(time.TimeOnly), j.CompletedEvent)
	}
	reportsMu.Lock()
	pipelineReports[ap.name] = report
	reportsMu.Unlock()
	if dir := os.Getenv("STAGECRAFT_E2E_REPORT_DIR"); dir != "" {
		data, _ := json.MarshalIndent(report, "", "  ")
		path := filepath.Join(dir, filepath.FromSlash(ap.name)+".json")
		err := os.MkdirAll(filepath.Dir(path), 0o755)
		if err == nil {
			err = os.WriteFile(path, append(data, '\n'), 0o644)
		}
		if err != nil {
			t.Errorf("write report: %v", err) // harness problem
		}
	}
	return report, errors.Join(errs...)
}

// jobCompletes expects a Job to reach Complete and records when it ran.
func (c *cluster) jobCompletes(w *jobWatch, ns, name, cronJob string, report *PipelineReport) expectation {
	what := "Job " + ns + "/" + name + " complete"
	if cronJob != "" {
		what = "Job " + ns + "/" + name + " (from CronJob " + cronJob + ") complete"
	}
	return expectation{what: what, check: func(ctx context.Context) (bool, string, error) {
		j, seen := w.get(ns + "/" + name)
		if j == nil {
			cur, err := c.client.BatchV1().Jobs(ns).Get(ctx, name, metav1.GetOptions{})
			if err != nil {
				return false, "", err
			}
			st := fmt.Sprintf("%d active, %d succeeded, %d failed", cur.Status.Active, cur.Status.Succeeded, cur.Status.Failed)
			if cur.Spec.Suspend != nil && *cur.Spec.Suspend {
				st = "suspended until its sync wave is released"
			}
			return false, st, nil
		}
		complete, _, msg := jobFinished(j)
		if !complete {
			return false, "", permanent{Err: fmt.Errorf("job failed: %s", msg)}
		}
		run := JobRun{Namespace: ns, Name: name, FromCronJob: cronJob, Created: j.CreationTimestamp.Time, Observed: seen}
		run.StartedEvent, run.CompletedEvent = w.eventsOf(ns + "/" + name)
		if j.Status.StartTime != nil {
			run.Started = j.Status.StartTime.Time
		}
		if j.Status.CompletionTime != nil {
			run.Completed = j.Status.CompletionTime.Time
		}
		report.Jobs = append(report.Jobs, run)
		return true, fmt.Sprintf("%d succeeded", j.Status.Succeeded), nil
	}}
}

// cronJobRuns expects the Job made from a CronJob to complete. The Job is
// created (jobFromCronJob) once every sync wave has completed.
func (c *cluster) cronJobRuns(a *applier, w *jobWatch, m *manifest, waves *waveRelease, report *PipelineReport) expectation {
	ns, name := nsOrDefault(m.obj.GetNamespace()), cronJobRunName(m.obj.GetName())
	e := c.jobCompletes(w, ns, name, m.obj.GetName(), report)
	created := false
	return expectation{what: e.what, check: func(ctx context.Context) (bool, string, error) {
		if !waves.done() {
			return false, "to be created once every sync wave has completed", nil
		}
		if !created {
			if _, err := c.jobFromCronJob(ctx, a, m.obj); err != nil {
				return false, "", permanent{Err: fmt.Errorf("%s: create a Job from it: %w", m, err)}
			}
			created = true
		}
		return e.check(ctx)
	}}
}

// cronJobRunName names the Job the harness makes from a CronJob.
func cronJobRunName(cronJob string) string { return cronJob + "-e2e" }

// jobFromCronJob creates a Job from a CronJob's jobTemplate, as
// `kubectl create job --from=cronjob/NAME` does, through the strict,
// warning-intolerant client.
func (c *cluster) jobFromCronJob(ctx context.Context, a *applier, o *unstructured.Unstructured) (*batchv1.Job, error) {
	live, err := a.get(ctx, o)
	if err != nil {
		return nil, err
	}
	cj, err := convert[batchv1.CronJob](live)
	if err != nil {
		return nil, err
	}
	ann := map[string]string{"cronjob.kubernetes.io/instantiate": "manual"}
	for k, v := range cj.Spec.JobTemplate.Annotations {
		ann[k] = v
	}
	job := &batchv1.Job{
		ObjectMeta: metav1.ObjectMeta{
			Name:            cronJobRunName(cj.Name),
			Namespace:       cj.Namespace,
			Labels:          cj.Spec.JobTemplate.Labels,
			Annotations:     ann,
			OwnerReferences: []metav1.OwnerReference{*metav1.NewControllerRef(cj, batchv1.SchemeGroupVersion.WithKind("CronJob"))},
		},
		Spec: cj.Spec.JobTemplate.Spec,
	}
	a.warnings.take()
	created, err := a.client.BatchV1().Jobs(cj.Namespace).Create(ctx, job, metav1.CreateOptions{
		FieldManager:    harnessFieldManager,
		FieldValidation: metav1.FieldValidationStrict,
	})
	return created, withWarnings(err, a.warnings.take())
}

// diagnostics describes what explains a stuck pipeline: pods that are not
// running or ready, and warning events, in the app's namespaces.
func (c *cluster) diagnostics(ap *app) string {
	ctx := context.Background()
	nss := map[string]bool{}
	for _, m := range ap.manifests {
		if m.obj.GetKind() == "Namespace" {
			nss[m.obj.GetName()] = true
		} else if m.obj.GetNamespace() != "" {
			nss[m.obj.GetNamespace()] = true
		}
	}
	nss[metav1.NamespaceDefault] = true
	var lines []string
	for ns := range nss {
		pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
		if err == nil {
			for _, p := range pods.Items {
				if p.Status.Phase == corev1.PodSucceeded || p.Status.Phase == corev1.PodRunning && podReady(&p) {
					continue
				}
				var conds []string
				for _, cond := range p.Status.Conditions {
					if cond.Status != corev1.ConditionTrue {
						conds = append(conds, fmt.Sprintf("%s=%s %s %s", cond.Type, cond.Status, cond.Reason, cond.Message))
					}
				}
				lines = append(lines, fmt.Sprintf("  pod %s/%s: %s, node %q; %s", ns, p.Name, p.Status.Phase, p.Spec.NodeName, strings.Join(conds, "; ")))
			}
		}
		evs, err := c.client.CoreV1().Events(ns).List(ctx, metav1.ListOptions{FieldSelector: "type=Warning"})
		if err == nil {
			for _, e := range evs.Items {
				lines = append(lines, fmt.Sprintf("  event %s/%s %s: %s: %s", ns, e.InvolvedObject.Name, e.InvolvedObject.Kind, e.Reason, e.Message))
			}
		}
	}
	sort.Strings(lines)
	if len(lines) == 0 {
		return "  (no unready pods, no warning events)"
	}
	return strings.Join(lines, "\n")
}

func podReady(p *corev1.Pod) bool {
	for _, cond := range p.Status.Conditions {
		if cond.Type == corev1.PodReady && cond.Status == corev1.ConditionTrue {
			return true
		}
	}
	return false
}
