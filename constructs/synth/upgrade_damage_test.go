package synth_test

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// writeLayout writes version v of the upgrade test's app into dist with
// layout, or, with envs, once per environment (in v's namespace).
func writeLayout(t *testing.T, dist string, v version, layout synth.Layout, envs []string) error {
	t.Helper()
	var err error
	opts := synth.Options{Dir: dist, Layout: layout, Notify: func(string) {}}
	stagetest.Do(func() {
		if envs != nil {
			err = synth.WriteEnvironments("app", envs, opts, func(_ string, app cdk8s.App) {
				upgradeApp(v)(cdk8s.NewChart(app, jsii.String("c"), nil))
			})
			return
		}
		app := cdk8s.NewApp(nil)
		upgradeApp(v)(cdk8s.NewChart(app, jsii.String("c"), nil))
		err = synth.Write(app, "app", opts)
	})
	return err
}

// TestIncompletePreviousOutput: a previous output that lacks objects
// synth wrote (a manifest emptied or removed but still listed, an
// environment's files removed, a file cut at a document boundary, a
// document whose kind a second kind line overwrites) is a problem naming
// what is wrong: the claim the next version drops is never pruned
// unchecked (each of these was written with exit 0, the claim gone).
func TestIncompletePreviousOutput(t *testing.T) {
	manifest := func(name string) string { return filepath.Join("app", name) }
	edit := func(f func(string) string) func(string) error {
		return func(p string) error {
			data, err := os.ReadFile(p)
			if err != nil {
				return err
			}
			return os.WriteFile(p, []byte(f(string(data))), 0o644)
		}
	}
	beforeClaim := func(s string) int {
		return strings.LastIndex(s[:strings.Index(s, "kind: PersistentVolumeClaim\n")], "\n---\n")
	}
	for _, c := range []struct {
		name   string
		layout synth.Layout
		envs   []string
		file   string
		damage func(path string) error
		want   []string
	}{
		{"an emptied manifest (g2)", nil, nil, manifest("c.k8s.yaml"), func(p string) error { return os.WriteFile(p, nil, 0o644) },
			[]string{"kustomization.yaml lists c.k8s.yaml, which is empty (no document): synth wrote every file it lists"}},
		{"a removed manifest (g3)", nil, nil, manifest("c.k8s.yaml"), os.Remove,
			[]string{"kustomization.yaml lists c.k8s.yaml, which is missing"}},
		{"a removed file of FilePerObject (g1)", synth.FilePerObject{}, nil, manifest("persistentvolumeclaim-data.yaml"), os.Remove,
			[]string{"kustomization.yaml lists persistentvolumeclaim-data.yaml, which is missing"}},
		{"an environment's files removed (g4)", nil, []string{"dev"}, manifest("dev"), func(p string) error {
			files, _ := filepath.Glob(filepath.Join(p, "*.yaml"))
			for _, f := range files {
				if err := os.Remove(f); err != nil {
					return err
				}
			}
			return nil
		}, []string{"dev/c.k8s.yaml is missing: synth wrote it with 12 documents (.stagecraft-output lists it)"}},
		{"a file cut before the claim's ---, ending in a newline (g6)", nil, nil, manifest("c.k8s.yaml"), edit(func(s string) string { return s[:beforeClaim(s)+1] }),
			[]string{"c.k8s.yaml holds 3 documents, 12 when synth wrote it (.stagecraft-output): it was cut short or documents were removed"}},
		{"a file cut after the claim's ---", nil, nil, manifest("c.k8s.yaml"), edit(func(s string) string { return s[:beforeClaim(s)+5] }),
			[]string{"c.k8s.yaml holds 3 documents, 12 when synth wrote it"}},
		{"a second kind line in the claim (e1)", nil, nil, manifest("c.k8s.yaml"),
			edit(func(s string) string {
				return strings.Replace(s, "kind: PersistentVolumeClaim\n", "kind: PersistentVolumeClaim\nkind: ConfigMap\n", 1)
			}), []string{"c.k8s.yaml: document 4:", `key "kind" already set in map`}},
		{"a second name line in the claim's metadata", nil, nil, manifest("c.k8s.yaml"),
			edit(func(s string) string {
				i := strings.Index(s, "kind: PersistentVolumeClaim\nmetadata:\n") + len("kind: PersistentVolumeClaim\nmetadata:\n")
				return s[:i] + "  name: other\n" + s[i:]
			}), []string{"c.k8s.yaml: document 4:", `key "name" already set in map`}},
	} {
		dist := t.TempDir()
		if err := writeLayout(t, dist, v1(), c.layout, c.envs); err != nil {
			t.Fatal(err)
		}
		if err := c.damage(filepath.Join(dist, c.file)); err != nil {
			t.Fatal(err)
		}
		v := v1()
		v.noData = true // the claim dropped: pruned unless refused
		err := writeLayout(t, dist, v, c.layout, c.envs)
		if err == nil {
			t.Errorf("%s: written", c.name)
			continue
		}
		got := problemLines(t, err)
		for _, w := range append(c.want, "the previous output cannot be read") {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in\n%s", c.name, w, got)
			}
		}
	}
}
