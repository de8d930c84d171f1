package synth_test

import (
	"bytes"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// buildApp builds the test app once per test.
func buildApp(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(t.TempDir(), "app")
	if out, err := exec.Command("go", "build", "-o", bin, "./testdata/app").CombinedOutput(); err != nil {
		t.Fatalf("build: %v\n%s", err, out)
	}
	return bin
}

// TestRuntimeDirectoryRemovedOnEveryExit runs the app with a temporary
// directory of its own and checks that jsii's runtime directory is gone
// after each way out that the process can reach: success, invalid props,
// a panic in the app's define function, and SIGTERM or SIGINT at a random
// moment.
func TestRuntimeDirectoryRemovedOnEveryExit(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs an app")
	}
	bin := buildApp(t)
	cases := []struct {
		name   string
		env    string
		signal syscall.Signal
		status []int // allowed exit statuses
		stderr string
	}{
		{name: "success", status: []int{0}},
		{name: "problems", env: "BROKEN=1", status: []int{1}, stderr: "invalid inputs"},
		{name: "panic in define", env: "PANIC=1", status: []int{1}, stderr: "unexpected panic while defining the app"},
		{name: "SIGTERM", signal: syscall.SIGTERM, status: []int{0, 128 + 15}},
		{name: "SIGINT", signal: syscall.SIGINT, status: []int{0, 128 + 2}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			tmp := t.TempDir()
			cmd := exec.Command(bin)
			cmd.Env = append(os.Environ(), "TMPDIR="+tmp, synth.DistEnv+"="+t.TempDir(), "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
			if c.env != "" {
				cmd.Env = append(cmd.Env, c.env)
			}
			var stderr bytes.Buffer
			cmd.Stderr = &stderr
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			if c.signal != 0 {
				// After the handler is installed (the first milliseconds),
				// mostly while jsii runs.
				time.Sleep(time.Duration(50+rand.IntN(600)) * time.Millisecond)
				_ = cmd.Process.Signal(c.signal)
			}
			_ = cmd.Wait()
			status := cmd.ProcessState.ExitCode()
			ok := false
			for _, s := range c.status {
				ok = ok || s == status
			}
			if !ok || !strings.Contains(stderr.String(), c.stderr) || strings.Contains(stderr.String(), "goroutine ") {
				t.Errorf("exit status %d (want one of %v), stderr:\n%s", status, c.status, stderr.String())
			}
			if left, _ := os.ReadDir(tmp); len(left) > 0 {
				t.Errorf("left in the temporary directory: %v", left)
			}
		})
	}
}

// TestRuntimeDirectoryOfKilledRunRemovedByNext kills a run with SIGKILL,
// which leaves its temporary directory behind, and checks that the next
// run removes it.
func TestRuntimeDirectoryOfKilledRunRemovedByNext(t *testing.T) {
	if testing.Short() {
		t.Skip("builds and runs an app")
	}
	bin := buildApp(t)
	tmp, dist := t.TempDir(), t.TempDir()
	start := func() *exec.Cmd {
		cmd := exec.Command(bin)
		cmd.Env = append(os.Environ(), "TMPDIR="+tmp, synth.DistEnv+"="+dist, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
		return cmd
	}
	killed := start()
	if err := killed.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(800 * time.Millisecond)
	_ = killed.Process.Signal(syscall.SIGKILL)
	_ = killed.Wait()
	time.Sleep(200 * time.Millisecond) // jsii's Node.js processes see their pipe close
	if left, _ := os.ReadDir(tmp); len(left) == 0 {
		t.Log("the killed run had not created its directory yet")
	}
	if out, err := start().CombinedOutput(); err != nil {
		t.Fatalf("next run: %v\n%s", err, out)
	}
	if left, _ := os.ReadDir(tmp); len(left) > 0 {
		t.Errorf("left in the temporary directory after the next run: %v", left)
	}
}
