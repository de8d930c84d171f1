package argo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"testing"
	"time"

	corev1 "k8s.io/api/core/v1"
	storagev1 "k8s.io/api/storage/v1"
	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
)

// controllerBinary returns the workflow-controller built from the pinned
// module: $STAGECRAFT_ARGO_CONTROLLER (run.sh builds it into the e2e
// binary cache), else one built now into the test's scratch folder.
func controllerBinary(t *testing.T) string {
	t.Helper()
	if p := os.Getenv("STAGECRAFT_ARGO_CONTROLLER"); p != "" {
		if _, err := os.Stat(p); err != nil {
			t.Fatalf("STAGECRAFT_ARGO_CONTROLLER: %v", err)
		}
		return p
	}
	out := filepath.Join(scratchRoot, "workflow-controller")
	start := time.Now()
	cmd := exec.Command("go", "build", "-trimpath", "-o", out, argoModule+"/cmd/workflow-controller")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if msg, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("build the workflow-controller: %v\n%s", err, msg)
	}
	t.Logf("built the workflow-controller in %v", time.Since(start).Round(time.Second))
	return out
}

// chainApp is one folder of dist/ that holds an Argo chain.
type chainApp struct {
	dir       string
	namespace string
	template  *unstructured.Unstructured
	cron      *unstructured.Unstructured
	docs      []doc
}

// chainApps returns the folders of dist/ whose objects include a
// WorkflowTemplate.
func chainApps(t *testing.T) []chainApp {
	t.Helper()
	var out []chainApp
	seen := map[string]bool{}
	for _, d := range argoDocs(t)["WorkflowTemplate"] {
		dir := filepath.Dir(d.file)
		if seen[dir] {
			continue
		}
		seen[dir] = true
		a := chainApp{dir: dir, namespace: d.obj.GetNamespace(), template: d.obj, docs: readDocs(t, dir)}
		for _, x := range a.docs {
			if x.obj.GetKind() == "CronWorkflow" {
				a.cron = x.obj
			}
		}
		out = append(out, a)
	}
	return out
}

// TestControllerRunsTheDAG applies each app with an Argo chain to a real
// control plane with Argo's CRDs, runs Argo's workflow-controller on it
// with simulated nodes, submits a Workflow from the WorkflowTemplate and
// checks, from the pods the controller creates, that the tasks run in the
// DAG's order; then has the CronWorkflow fire (on a schedule of every
// minute) and run the DAG again.
func TestControllerRunsTheDAG(t *testing.T) {
	ctrl := controllerBinary(t)
	for _, a := range chainApps(t) {
		t.Run(filepath.Base(a.dir), func(t *testing.T) { runChain(t, ctrl, a) })
	}
}

func runChain(t *testing.T, ctrl string, a chainApp) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	c := startControlPlane(t)
	ap, err := newApplier(c.cfg)
	if err != nil {
		t.Fatal(err)
	}
	installArgoCRDs(ctx, t, c, ap)
	mustCreateStorageClass(ctx, t, c)
	n, errs := ap.applyAll(ctx, a.docs, appFieldManager)
	if len(errs) > 0 {
		t.Fatalf("strict server-side apply of %s: %d of %d objects refused or warned:\n%v", a.dir, len(errs), len(a.docs), errs)
	}
	t.Logf("strict apply: %s: %d objects (%s), 0 errors, 0 warnings", a.dir, n, kindCounts(a.docs))
	c.startPipeline(t)
	createNodes(ctx, t, c, a)
	account := a.template.Object["spec"].(map[string]any)["executor"].(map[string]any)["serviceAccountName"].(string)
	waitToken(ctx, t, c, a.namespace, account)
	startController(ctx, t, c, ctrl, a.namespace)
	checkExecutorAccess(ctx, t, c, a.namespace, account)

	s, err := newStandIn(c.cfg, a.namespace, account)
	if err != nil {
		t.Fatal(err)
	}
	go s.run(ctx)
	wf := submit(ctx, t, c, a, "")
	finished := waitWorkflow(ctx, t, c, s, a.namespace, wf, "Succeeded")
	checkOrder(t, a, s.of(wf), finished)
	checkPods(ctx, t, c, a, wf)
	checkPolicies(ctx, t, c, a)
	checkRetries(ctx, t, c, s, a)
	if a.cron != nil {
		fireCron(ctx, t, c, ap, s, a)
	}
	for _, err := range s.failures() {
		t.Error(err)
	}
}

// installArgoCRDs applies the CRDs (full schemas) of the pinned module,
// as the harness's own field manager, and waits until they are
// established.
func installArgoCRDs(ctx context.Context, t *testing.T, c *cluster, ap *applier) {
	t.Helper()
	start := time.Now()
	var names []string
	for _, f := range upstreamCRDs(t) {
		docs := parseFile(t, f)
		if _, errs := ap.applyAll(ctx, docs, "argo-install"); len(errs) > 0 {
			t.Fatalf("install Argo's CRDs: %v", errs)
		}
		for _, d := range docs {
			names = append(names, d.obj.GetName())
		}
	}
	for _, n := range names {
		if err := ap.established(ctx, n, c.procs); err != nil {
			t.Fatal(err)
		}
	}
	t.Logf("Argo Workflows v4.0.5 CRDs (full schemas) installed and established: %s (%v)", strings.Join(names, ", "), time.Since(start).Round(time.Millisecond))
}

// mustCreateStorageClass creates kwok's default StorageClass, which kwok's
// volume stages provision, before the app's claims.
func mustCreateStorageClass(ctx context.Context, t *testing.T, c *cluster) {
	t.Helper()
	immediate := storagev1.VolumeBindingImmediate
	sc := &storagev1.StorageClass{
		ObjectMeta:        metav1.ObjectMeta{Name: "kwok-volume", Annotations: map[string]string{"storageclass.kubernetes.io/is-default-class": "true"}},
		Provisioner:       "kwok.x-k8s.io/volume",
		VolumeBindingMode: &immediate,
	}
	if _, err := c.client.StorageV1().StorageClasses().Create(ctx, sc, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
}

// createNodes creates two kwok nodes with room for GPU work, labelled
// with every node selector of the chain's templates.
func createNodes(ctx context.Context, t *testing.T, c *cluster, a chainApp) {
	t.Helper()
	labels := map[string]string{"kubernetes.io/os": "linux", "kubernetes.io/arch": "amd64"}
	templates, _, _ := unstructured.NestedSlice(a.template.Object, "spec", "templates")
	for _, x := range templates {
		sel, _, _ := unstructured.NestedStringMap(x.(map[string]any), "nodeSelector")
		for k, v := range sel {
			labels[k] = v
		}
	}
	capacity := corev1.ResourceList{
		corev1.ResourceCPU: resource.MustParse("64"), corev1.ResourceMemory: resource.MustParse("512Gi"),
		corev1.ResourcePods: resource.MustParse("110"), corev1.ResourceEphemeralStorage: resource.MustParse("1Ti"),
		"nvidia.com/gpu": resource.MustParse("8"),
	}
	for i := 0; i < 2; i++ {
		name := fmt.Sprintf("kwok-node-%d", i)
		l := map[string]string{"kubernetes.io/hostname": name}
		for k, v := range labels {
			l[k] = v
		}
		node := &corev1.Node{
			ObjectMeta: metav1.ObjectMeta{Name: name, Labels: l, Annotations: map[string]string{kwokNodeAnnotation: "fake", "node.alpha.kubernetes.io/ttl": "0"}},
			Status:     corev1.NodeStatus{Capacity: capacity, Allocatable: capacity.DeepCopy()},
		}
		if _, err := c.client.CoreV1().Nodes().Create(ctx, node, metav1.CreateOptions{}); err != nil {
			t.Fatal(err)
		}
	}
}

const kwokNodeAnnotation = "kwok.x-k8s.io/node"

// waitToken waits until the token controller has filled the executor's
// token Secret, which Argo mounts into the executor containers.
func waitToken(ctx context.Context, t *testing.T, c *cluster, ns, account string) {
	t.Helper()
	name := account + ".service-account-token"
	err := waitFor(90*time.Second, 500*time.Millisecond, c.procs, func() (bool, error) {
		s, err := c.client.CoreV1().Secrets(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		return len(s.Data["token"]) > 0, fmt.Errorf("Secret %s has no token yet", name)
	})
	if err != nil {
		t.Fatalf("executor token: %v", err)
	}
}

// startController starts the workflow-controller, namespaced to the
// pipeline's namespace, with its ConfigMap in namespace argo.
func startController(ctx context.Context, t *testing.T, c *cluster, bin, ns string) {
	t.Helper()
	if _, err := c.client.CoreV1().Namespaces().Create(ctx, &corev1.Namespace{ObjectMeta: metav1.ObjectMeta{Name: "argo"}}, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	cm := &corev1.ConfigMap{
		ObjectMeta: metav1.ObjectMeta{Name: "workflow-controller-configmap", Namespace: "argo"},
		// No metrics servers: a test binds no fixed ports. Argo joins the
		// keys into one YAML document; a value with a newline is a nested
		// mapping, one without is a scalar.
		Data: map[string]string{"metricsConfig": "enabled: false\n", "telemetryConfig": "enabled: false\n"},
	}
	if _, err := c.client.CoreV1().ConfigMaps("argo").Create(ctx, cm, metav1.CreateOptions{}); err != nil {
		t.Fatal(err)
	}
	p := startProc(t, c.dir, "workflow-controller", bin, []string{"LEADER_ELECTION_DISABLE=true",
		// Argo looks at a running Workflow again every 10 s by default; 2 s,
		// the low end its docs suggest, keeps the run short.
		"DEFAULT_REQUEUE_TIME=2s"},
		"--kubeconfig="+c.kubeconfig, "--namespace=argo", "--namespaced", "--managed-namespace="+ns,
		"--executor-image=quay.io/argoproj/argoexec:v4.0.5", "--loglevel=info")
	c.procs = append(c.procs, p)
}

// submit creates a Workflow from the WorkflowTemplate, as `argo submit
// --from workflowtemplate/<name>` does, and returns its name: name, or
// one Argo generates when name is empty.
func submit(ctx context.Context, t *testing.T, c *cluster, a chainApp, name string) string {
	t.Helper()
	ap, _ := newApplier(c.cfg)
	meta := map[string]any{"generateName": a.template.GetName() + "-", "namespace": a.namespace,
		"labels": map[string]any{labelWorkflowTemplate: a.template.GetName()}}
	if name != "" {
		meta["name"] = name
	}
	wf := &unstructured.Unstructured{Object: map[string]any{
		"apiVersion": "argoproj.io/v1alpha1", "kind": "Workflow", "metadata": meta,
		"spec": map[string]any{"workflowTemplateRef": map[string]any{"name": a.template.GetName()}},
	}}
	got, err := ap.dyn.Resource(workflows).Namespace(a.namespace).Create(ctx, wf, metav1.CreateOptions{})
	if err != nil {
		t.Fatalf("submit a Workflow from WorkflowTemplate %s: %v", a.template.GetName(), err)
	}
	t.Logf("submitted Workflow %s from WorkflowTemplate %s at %s", got.GetName(), a.template.GetName(), clock(time.Now()))
	return got.GetName()
}

// waitWorkflow waits until the Workflow has reached phase want
// (Succeeded or Failed) and returns when the harness saw it so.
func waitWorkflow(ctx context.Context, t *testing.T, c *cluster, s *standIn, ns, name, want string) time.Time {
	t.Helper()
	ap, _ := newApplier(c.cfg)
	var phase, message string
	err := waitFor(5*time.Minute, 500*time.Millisecond, c.procs, func() (bool, error) {
		if errs := s.failures(); len(errs) > 0 {
			return false, permanent{Err: fmt.Errorf("stand-in executor: %v", errs)}
		}
		wf, err := ap.dyn.Resource(workflows).Namespace(ns).Get(ctx, name, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		phase, _, _ = unstructured.NestedString(wf.Object, "status", "phase")
		message, _, _ = unstructured.NestedString(wf.Object, "status", "message")
		switch phase {
		case want:
			return true, nil
		case "Succeeded", "Failed", "Error":
			return false, permanent{Err: fmt.Errorf("Workflow %s %s: %s", name, phase, message)}
		}
		return false, fmt.Errorf("Workflow %s is %q (%s)", name, phase, message)
	})
	if err != nil {
		t.Fatalf("Workflow %s: %v", name, err)
	}
	return time.Now()
}

// kindCounts describes docs as "3 NetworkPolicy, 1 WorkflowTemplate, ...".
func kindCounts(docs []doc) string {
	n := map[string]int{}
	for _, d := range docs {
		n[d.obj.GetKind()]++
	}
	var parts []string
	for k, v := range n {
		parts = append(parts, fmt.Sprintf("%d %s", v, k))
	}
	sort.Strings(parts)
	return strings.Join(parts, ", ")
}

// clock writes a time with milliseconds.
func clock(t time.Time) string { return t.UTC().Format("15:04:05.000") }
