package synth_test

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// writeEnvs writes the upgrade test's app once per environment, each in
// the namespace namespace(env).
func writeEnvs(t *testing.T, dist string, envs []string, namespace func(env string) string) error {
	t.Helper()
	var err error
	stagetest.Do(func() {
		err = synth.WriteEnvironments("app", envs, synth.Options{Dir: dist, Notify: func(string) {}}, func(env string, app cdk8s.App) {
			v := v1()
			v.namespace = namespace(env)
			upgradeApp(v)(cdk8s.NewChart(app, jsii.String("c"), nil))
		})
	})
	return err
}

// problemLines returns "Construct Object Field" of each problem of err.
func problemLines(t *testing.T, err error) string {
	t.Helper()
	var verr *stagecraft.ValidationError
	if !errors.As(err, &verr) {
		t.Fatalf("want problems, got %v", err)
	}
	var out []string
	for _, p := range verr.Problems {
		out = append(out, p.Construct+" "+p.Object+" "+p.Field+": "+p.Detail)
	}
	return strings.Join(out, "\n")
}

// TestInvalidEnvironmentIsNotChecked: an environment whose input has a
// problem synthesizes nothing, so its previous output is not compared
// with it: the problem is reported alone, never as the loss of its
// namespace and claims (with the advice to accept it).
func TestInvalidEnvironmentIsNotChecked(t *testing.T) {
	dist := t.TempDir()
	ns := func(env string) string { return "up-" + env }
	if err := writeEnvs(t, dist, []string{"dev", "prod"}, ns); err != nil {
		t.Fatal(err)
	}
	var err error
	stagetest.Do(func() {
		err = synth.WriteEnvironments("app", []string{"dev", "prod"}, synth.Options{Dir: dist, Notify: func(string) {}}, func(env string, app cdk8s.App) {
			v := v1()
			v.namespace = ns(env)
			upgradeApp(v)(cdk8s.NewChart(app, jsii.String("c"), nil))
			if env == "prod" {
				stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("bad"), nil), "bad", stagecraft.PipelineProps{Namespace: "Not_A_Namespace"})
			}
		})
	})
	got := problemLines(t, err)
	if !strings.Contains(got, "[prod] bad/bad") || strings.Contains(got, "previous") || strings.Contains(got, "AcceptChange") {
		t.Errorf("want prod's own problem alone, got\n%s", got)
	}
}

// TestLayoutSwitchIsChecked: switching an app between one folder
// (MainChart) and a folder per environment (MainEnvironments), either way,
// is checked against the whole previous output: the namespace and claims
// the new output no longer has are problems; those it keeps, in another
// folder, are not.
func TestLayoutSwitchIsChecked(t *testing.T) {
	dist := t.TempDir()
	if _, err := write(t, dist, v1()); err != nil {
		t.Fatal(err)
	}
	err := writeEnvs(t, dist, []string{"dev"}, func(env string) string { return "up-" + env })
	got := problemLines(t, err)
	for _, want := range []string{"[previous layout] (previous output) Namespace up ", "PersistentVolumeClaim up/data ", "PersistentVolume up-archive "} {
		if !strings.Contains(got, want) {
			t.Errorf("one folder to environments: no %q in\n%s", want, got)
		}
	}
	if _, err := os.Stat(filepath.Join(dist, "app", "c.k8s.yaml")); err != nil {
		t.Errorf("the refused write changed the output: %v", err)
	}
	// The same objects in an environment's folder: nothing lost.
	if err := writeEnvs(t, dist, []string{"dev"}, func(string) string { return "up" }); err != nil {
		t.Fatalf("one folder to environments, same namespace: %v", err)
	}
	// And back, from environments to one folder.
	if err := writeEnvs(t, dist, []string{"dev", "prod"}, func(env string) string { return map[string]string{"dev": "up", "prod": "up-prod"}[env] }); err != nil {
		t.Fatal(err)
	}
	_, err = write(t, dist, v1())
	got = problemLines(t, err)
	if !strings.Contains(got, "[prod, previous layout] (previous output) Namespace up-prod ") || strings.Contains(got, "Namespace up ") {
		t.Errorf("environments to one folder: want prod's namespace and not dev's (kept):\n%s", got)
	}
	if _, err := os.Stat(filepath.Join(dist, "app", "prod")); err != nil {
		t.Errorf("the refused write removed prod's output: %v", err)
	}
}

// TestEnvironmentsOwningOneObject: two environments that resolve to one
// namespace would write the same Namespace and claims: a problem naming
// both.
func TestEnvironmentsOwningOneObject(t *testing.T) {
	err := writeEnvs(t, t.TempDir(), []string{"dev", "prod"}, func(string) string { return "up" })
	got := problemLines(t, err)
	for _, want := range []string{"[prod] c/p Namespace up metadata.name: Namespace up is also written by [dev] c/p", "PersistentVolumeClaim up/data metadata.name"} {
		if !strings.Contains(got, want) {
			t.Errorf("no %q in\n%s", want, got)
		}
	}
}

// TestUnparsablePreviousObject: a previous object the check cannot parse
// is a problem naming its file and object, whatever its kind, and never
// compared as if it were empty.
func TestUnparsablePreviousObject(t *testing.T) {
	for _, c := range []struct {
		name string
		edit func(string) string
		want []string
	}{
		{"a hand-edited size", func(s string) string { return strings.Replace(s, "storage: 10Gi", "storage: 10Gx", 1) },
			[]string{"PersistentVolumeClaim up/data", "c.k8s.yaml", `spec.resources.requests.storage "10Gx" is not a quantity`}},
		{"a truncated file", func(s string) string { return s[:len(s)-5] },
			[]string{"c.k8s.yaml", "cut short (truncated)"}},
		{"git conflict markers", func(s string) string {
			return strings.Replace(s, "kind: Namespace\n", "<<<<<<< HEAD\nkind: Namespace\n=======\nkind: Namespaces\n>>>>>>> theirs\n", 1)
		}, []string{"c.k8s.yaml", "starts with a git conflict marker (<<<<<<<)"}},
		{"a document with no kind", func(s string) string { return strings.Replace(s, "kind: NetworkPolicy\n", "", 1) },
			[]string{"c.k8s.yaml", "a document has no kind or no metadata.name"}},
		{"a damaged object of a kind without rules", func(s string) string {
			return strings.Replace(s, "kind: NetworkPolicy\nmetadata:\n", "kind: NetworkPolicy\nmetadata:\n  labels: [\n", 1)
		}, []string{"NetworkPolicy up/", "c.k8s.yaml", "cannot be read"}},
		{"an object twice", func(s string) string { return s + "---\n" + s[:strings.Index(s, "\n---\n")+1] },
			[]string{"c.k8s.yaml", "is in the folder twice (also in c.k8s.yaml)"}},
	} {
		dist := t.TempDir()
		if _, err := write(t, dist, v1()); err != nil {
			t.Fatal(err)
		}
		file := filepath.Join(dist, "app", "c.k8s.yaml")
		data, err := os.ReadFile(file)
		if err != nil {
			t.Fatal(err)
		}
		edited := c.edit(string(data))
		if edited == string(data) {
			t.Fatalf("%s: nothing edited", c.name)
		}
		if err := os.WriteFile(file, []byte(edited), 0o644); err != nil {
			t.Fatal(err)
		}
		v := v1()
		v.fillImage = "1.1.0" // a change, so that the documents are compared
		_, err = write(t, dist, v)
		if err == nil {
			t.Errorf("%s: written", c.name)
			continue
		}
		got := problemLines(t, err)
		for _, w := range c.want {
			if !strings.Contains(got, w) {
				t.Errorf("%s: no %q in\n%s", c.name, w, got)
			}
		}
	}
}

// TestNamesTheFileSystemCannotHold: an app or environment name that
// cannot be a folder is an error naming the limit, before anything runs.
func TestNamesTheFileSystemCannotHold(t *testing.T) {
	long := strings.Repeat("a", synth.MaxNameBytes+1)
	for _, c := range []struct{ app, env, want string }{
		{long, "dev", "the app name is 240 bytes long; at most 239 fit in a file name (NAME_MAX 255"},
		{strings.Repeat("é", 120), "dev", "the app name is 240 bytes long"},
		{"a/b", "dev", "holds a '/', '\\' or NUL"},
		{"a\x00b", "dev", "holds a '/', '\\' or NUL"},
		{"..", "dev", `starts with '.'`},
		{"", "dev", "the app name is empty"},
		{"app", long, "the environment name is 240 bytes long"},
		{"app", "..", `starts with '.'`},
		{"app", "a\nb", "holds a control character"},
		{"app", "", "the environment name is empty"},
	} {
		err := synth.WriteEnvironments(c.app, []string{c.env}, synth.Options{Dir: t.TempDir()}, nil)
		if err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("app %q, environment %q: %v; want %q", c.app, c.env, err, c.want)
		}
	}
	if err := synth.WriteEnvironments("app", []string{"dev", "dev"}, synth.Options{Dir: t.TempDir()}, nil); err == nil || !strings.Contains(err.Error(), `environment "dev" is listed twice`) {
		t.Errorf("an environment twice: %v", err)
	}
	var err error
	stagetest.Do(func() {
		err = synth.WriteEnvironments(strings.Repeat("a", synth.MaxNameBytes), []string{"dev"}, synth.Options{Dir: t.TempDir()}, func(string, cdk8s.App) {})
	})
	if err != nil && strings.Contains(err.Error(), "bytes long") {
		t.Errorf("a name of %d bytes: %v", synth.MaxNameBytes, err)
	}
}
