package upgrade

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"sigs.k8s.io/yaml"
)

func TestMain(m *testing.M) { stagetest.Main(m) }

// TestMatrix writes every edit and checks what the real-cluster tests
// rely on: the Jobs whose names change are exactly the edit's Reruns (run
// identity), the upgrade check refuses exactly its Refused, and the
// refusals' messages name the commands of its Procedure.
func TestMatrix(t *testing.T) {
	out := t.TempDir()
	edits := Edits()
	if len(edits) < 15 {
		t.Fatalf("only %d edits", len(edits))
	}
	for i, e := range edits {
		var en Entry
		var err error
		stagetest.Do(func() { en, err = WriteEdit(out, i, e) })
		if err != nil {
			t.Errorf("%s: %v", e.Name, err)
			continue
		}
		v1, v2 := jobs(t, filepath.Join(out, en.V1)), jobs(t, filepath.Join(out, en.V2))
		var reruns, gates []string
		for stage, name := range v2 {
			if v1[stage] != name {
				reruns = append(reruns, stage)
			}
		}
		slices.Sort(reruns)
		// A held stage's gate is a Job of its own, "<stage>-gate": it runs
		// again exactly when its stage does.
		for _, r := range reruns {
			if g, ok := strings.CutSuffix(r, "-gate"); ok {
				gates = append(gates, g)
				continue
			}
			if _, held := v2[r+"-gate"]; held && !slices.Contains(reruns, r+"-gate") {
				t.Errorf("%s: Job of %s has a new name, but its gate kept its own", e.Name, r)
			}
		}
		reruns = slices.DeleteFunc(reruns, func(r string) bool { return strings.HasSuffix(r, "-gate") })
		for _, g := range gates {
			if !slices.Contains(reruns, g) {
				t.Errorf("%s: the gate of %s has a new name, but its stage kept its Job", e.Name, g)
			}
		}
		if strings.Join(reruns, " ") != strings.Join(e.Reruns, " ") {
			t.Errorf("%s: Jobs of %v have new names, want %v", e.Name, reruns, e.Reruns)
		}
		if len(en.Messages) != len(e.Refused) {
			t.Errorf("%s: refused %q, want %q", e.Name, en.Messages, e.Refused)
		}
		for i, want := range e.Refused {
			kind, rest, _ := strings.Cut(want, " ")
			name, fld, _ := strings.Cut(rest, " ")
			if i < len(en.Messages) && !(strings.Contains(en.Messages[i], kind+" "+en.Namespace+"/"+name) && strings.Contains(en.Messages[i], fld)) {
				t.Errorf("%s: refusal %q does not name %s", e.Name, en.Messages[i], want)
			}
		}
		for _, step := range e.Procedure {
			cmd := "kubectl " + strings.Join(step[:3], " ")
			if !strings.Contains(strings.Join(en.Messages, "\n"), strings.Replace(cmd, "-0", "-<replica>", 1)) {
				t.Errorf("%s: the refusal does not say to run %q:\n%s", e.Name, cmd, strings.Join(en.Messages, "\n"))
			}
		}
	}
}

// jobs returns the Job name of each stage in an output folder.
func jobs(t *testing.T, dir string) map[string]string {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(dir, "up.k8s.yaml"))
	if err != nil {
		t.Fatal(err)
	}
	out := map[string]string{}
	for _, doc := range strings.Split(string(data), "\n---\n") {
		var o struct {
			Kind     string
			Metadata struct {
				Name   string
				Labels map[string]string
			}
		}
		if err := yaml.Unmarshal([]byte(doc), &o); err != nil {
			t.Fatal(err)
		}
		if o.Kind == "Job" {
			out[o.Metadata.Labels["app.kubernetes.io/name"]] = o.Metadata.Name
		}
	}
	return out
}
