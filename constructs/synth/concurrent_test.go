package synth_test

import (
	"bytes"
	"flag"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

var (
	appSynths = flag.Int("crash.synths", 4, "concurrent synths of one app in TestConcurrentSynths")
	appKills  = flag.Int("crash.appkills", 2, "synths of the app killed with SIGKILL in TestConcurrentSynths")
)

// TestConcurrentSynths runs many synths of one app (two versions of it)
// into one dist at once, kills some of them with SIGKILL at random
// moments, and checks that every synth that was not killed exits 0 and
// that the folder then holds one of the two complete outputs, byte for
// byte, with nothing left beside it once a last synth has run.
func TestConcurrentSynths(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs an app many times")
	}
	bin := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/app").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	tmp := t.TempDir() // for what killed synths leave behind
	start := func(dist, v string) *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), synth.DistEnv+"="+dist, "VERSION="+v, "TMPDIR="+tmp, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
		return cmd
	}
	known := map[string]map[string]string{}
	for _, v := range []string{"1", "2"} {
		dist := t.TempDir()
		if out, err := start(dist, v).CombinedOutput(); err != nil {
			t.Fatalf("version %s: %v\n%s", v, err, out)
		}
		known[v] = readTree(t, filepath.Join(dist, "demo"))
	}
	dist := t.TempDir()
	var wg sync.WaitGroup
	for i := range *appSynths + *appKills {
		cmd := start(dist, fmt.Sprint(1+i%2))
		var stderr bytes.Buffer
		cmd.Stderr = &stderr
		if err := cmd.Start(); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func(kill bool) {
			defer wg.Done()
			if kill {
				time.Sleep(time.Duration(rand.IntN(1500)) * time.Millisecond)
				_ = cmd.Process.Signal(syscall.SIGKILL)
				_ = cmd.Wait()
				return
			}
			if err := cmd.Wait(); err != nil {
				t.Errorf("a concurrent synth failed: %v\n%s", err, stderr.String())
			}
		}(i >= *appSynths)
	}
	wg.Wait()
	// What a writer killed last left beside dist/demo (its private
	// folder) is the next synth's to remove, which the end checks.
	if got := readTree(t, filepath.Join(dist, "demo")); !equalTrees(got, known["1"]) && !equalTrees(got, known["2"]) {
		t.Fatalf("after %d concurrent synths and %d kills, the output is neither version: %v", *appSynths, *appKills, keys(got))
	}
	if out, err := start(dist, "2").CombinedOutput(); err != nil {
		t.Fatalf("last synth: %v\n%s", err, out)
	}
	if entries, _ := os.ReadDir(dist); len(entries) != 1 {
		t.Errorf("after the last synth, dist holds %v", entries)
	}
	t.Logf("%d concurrent synths of one app and %d killed with SIGKILL: 0 mixed or missing outputs", *appSynths, *appKills)
}

func keys(m map[string]string) []string {
	var out []string
	for k := range m {
		out = append(out, k)
	}
	return out
}
