package e2e

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"sync"
	"testing"

	batchv1 "k8s.io/api/batch/v1"
	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"sigs.k8s.io/yaml"
)

// The upgrade matrix: each typical edit of a pipeline (test/upgrade) is
// applied as a second version over a first one that ran, with kubectl's
// server-side apply and ApplySet pruning, as the README says a team does.
// For each edit: no error and no warning from the API server; exactly the
// Jobs whose runs changed run again, once; the pods of workloads whose pod
// templates did not change keep their UIDs; what the second version no
// longer has is pruned. Edits the upgrade check refuses at synthesis are
// applied after the documented procedure (their Procedure) with the change
// accepted in code.

// matrixEntry is an entry of matrix.json (test/upgrade.Entry).
type matrixEntry struct {
	Name      string     `json:"name"`
	Reruns    []string   `json:"reruns"`
	Refused   []string   `json:"refused"`
	Procedure [][]string `json:"procedure"`
	Namespace string     `json:"namespace"`
	V1        string     `json:"v1"`
	V2        string     `json:"v2"`
	Messages  []string   `json:"messages"`
}

// applySetParent is the ApplySet parent the README's command names.
const applySetParent = "configmaps/stagecraft-applyset"

func TestUpgrades(t *testing.T) {
	dir := os.Getenv("STAGECRAFT_UPGRADE")
	if dir == "" {
		t.Skip("STAGECRAFT_UPGRADE is not set: run.sh writes the matrix (go run ./test/upgrade/cmd/matrix) and sets it")
	}
	data, err := os.ReadFile(filepath.Join(dir, "matrix.json"))
	if err != nil {
		t.Fatal(err)
	}
	var entries []matrixEntry
	if err := json.Unmarshal(data, &entries); err != nil {
		t.Fatal(err)
	}
	c := startControlPlane(t)
	first, err := loadApp("v1", filepath.Join(dir, entries[0].V1))
	if err != nil {
		t.Fatal(err)
	}
	prepareUpgradeCluster(t, c, first)
	var mu sync.Mutex
	var summary []string
	failed := 0
	slots := make(chan struct{}, 3)
	t.Run("edits", func(t *testing.T) {
		for _, e := range entries {
			t.Run(e.Name, func(t *testing.T) {
				t.Parallel()
				slots <- struct{}{}
				defer func() { <-slots }()
				line := "(failed)"
				defer func() {
					mu.Lock()
					defer mu.Unlock()
					if t.Failed() {
						failed++
						line = "upgrade: " + e.Name + ": FAILED"
					}
					summary = append(summary, line)
				}()
				line = upgradeEdit(t, c, dir, e)
			})
		}
	})
	sort.Strings(summary)
	for _, s := range summary {
		t.Log(s)
	}
	t.Logf("upgrade matrix: %d edits, %d failed", len(entries), failed)
}

// prepareUpgradeCluster installs kwok's StorageClass (allowing volume
// expansion, so that claims may grow) and nodes, and starts the
// controllers, scheduler and kwok.
func prepareUpgradeCluster(t *testing.T, c *cluster, ap *app) {
	ctx := context.Background()
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
			if m.obj.GetKind() == "StorageClass" {
				m.obj.Object["allowVolumeExpansion"] = true
			}
			if m.obj.GetKind() != "Stage" {
				if _, err := h.apply(ctx, m.obj); err != nil {
					t.Fatalf("%s: %v", m, err)
				}
			}
		}
	}
	for _, n := range fakeNodes(ap) {
		if _, err := c.client.CoreV1().Nodes().Create(ctx, n, metav1.CreateOptions{FieldManager: harnessFieldManager}); err != nil {
			t.Fatal(err)
		}
	}
	c.startPipeline(t)
}

// kubectl runs kubectl against the cluster and returns what it printed; a
// warning or an error fails the test.
func kubectl(t *testing.T, c *cluster, args ...string) string {
	t.Helper()
	cmd := exec.Command(requireBinaries(t)["kubectl"], args...)
	cmd.Env = append(os.Environ(), "KUBECONFIG="+c.kubeconfig, "KUBECTL_APPLYSET=true")
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	err := cmd.Run()
	if err != nil || strings.Contains(out.String(), "Warning:") {
		t.Fatalf("kubectl %s: %v\n%s", strings.Join(args, " "), err, out.String())
	}
	return out.String()
}

// applyFolder applies an output folder as the README says: the namespace
// first (its objects carry component=pipeline), then everything, pruning
// what the folder no longer has.
func applyFolder(t *testing.T, c *cluster, dir, ns string) string {
	kubectl(t, c, "apply", "--server-side", "-k", dir, "-l", "app.kubernetes.io/component=pipeline")
	return kubectl(t, c, "apply", "--server-side", "--prune", "--applyset="+applySetParent, "-n", ns, "-k", dir)
}

// upgradeEdit applies the two versions of one edit and checks the result;
// it returns a summary line.
func upgradeEdit(t *testing.T, c *cluster, dir string, e matrixEntry) string {
	v1, err := loadApp("v1", filepath.Join(dir, e.V1))
	if err != nil {
		t.Fatal(err)
	}
	v2, err := loadApp("v2", filepath.Join(dir, e.V2))
	if err != nil {
		t.Fatal(err)
	}
	applyFolder(t, c, v1.dir, e.Namespace)
	stop := runGates(t, c, v1)
	waitSettled(t, c, e.Namespace, v1)
	stop()
	before := snapshot(t, c, e.Namespace)
	for _, step := range e.Procedure {
		args := make([]string, len(step))
		for i, a := range step {
			args[i] = strings.ReplaceAll(a, "{ns}", e.Namespace)
		}
		kubectl(t, c, args...)
	}
	out := applyFolder(t, c, v2.dir, e.Namespace)
	stop = runGates(t, c, v2)
	waitSettled(t, c, e.Namespace, v2)
	stop()
	after := snapshot(t, c, e.Namespace)
	reruns := checkReruns(t, e, before, after, v1, v2)
	kept := checkKeptPods(t, v1, v2, before, after)
	pruned := checkPruned(t, c, v1, v2)
	prunedByKubectl := strings.Count(out, " pruned")
	return fmt.Sprintf("upgrade: %s: 0 errors, 0 warnings; re-ran %v; %d pods kept their UIDs; %d objects pruned (kubectl: %d); %d refusals at synthesis, applied after %d procedure steps",
		e.Name, reruns, kept, pruned, prunedByKubectl, len(e.Messages), len(e.Procedure))
}

// state is what the cluster runs in a namespace: each Job by name, and
// the pods of each stage.
type state struct {
	jobs map[string]batchv1.Job
	pods map[string][]types.UID // stage -> UIDs of its running pods
}

func snapshot(t *testing.T, c *cluster, ns string) state {
	ctx := context.Background()
	s := state{jobs: map[string]batchv1.Job{}, pods: map[string][]types.UID{}}
	jobs, err := c.client.BatchV1().Jobs(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, j := range jobs.Items {
		s.jobs[j.Name] = j
	}
	pods, err := c.client.CoreV1().Pods(ns).List(ctx, metav1.ListOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range pods.Items {
		if p.DeletionTimestamp == nil && p.Status.Phase == corev1.PodRunning {
			stage := p.Labels["app.kubernetes.io/name"]
			s.pods[stage] = append(s.pods[stage], p.UID)
		}
	}
	for _, uids := range s.pods {
		sort.Slice(uids, func(i, j int) bool { return uids[i] < uids[j] })
	}
	return s
}

// notFound reports whether err says the object does not exist.
func notFound(err error) bool { return apierrors.IsNotFound(err) }

// templateOf returns the YAML of an object's pod template, "" if it has
// none.
func templateOf(m *manifest) string {
	spec, ok := m.obj.Object["spec"].(map[string]any)
	if !ok || spec["template"] == nil {
		return ""
	}
	b, _ := yaml.Marshal(spec["template"])
	return string(b)
}
