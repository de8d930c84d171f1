package argo

import (
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"testing"
	"time"

	"github.com/stagecraft-dev/stagecraft/test/harness"
)

// proc is one process started by the suite (test/harness).
type proc struct{ *harness.Proc }

func (p proc) stop()             { p.Stop() }
func (p proc) tail(n int) string { return p.Tail(n) }

// scratchRoot holds every cluster's scratch directory; TestMain creates it
// and removes it at the end, or on SIGINT/SIGTERM.
var scratchRoot string

// startProc starts bin with args, logging to dir/name.log, and registers a
// Cleanup on t that stops it (and prints the end of its log if t failed).
func startProc(t *testing.T, dir, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	hp, err := harness.Start(dir, name, bin, env, args...)
	if err != nil {
		t.Fatal(err)
	}
	p := &proc{hp}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("last lines of %s log (%s):\n%s", p.Name, p.LogPath, p.tail(40))
		}
	})
	return p
}

// killAll kills every process still running (on signals and at the end of
// TestMain as a last resort; normally each test's Cleanup stopped them).
func killAll() { harness.KillAll() }

// handleSignals makes SIGINT/SIGTERM stop every child before the test
// binary exits.
func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-ch
		fmt.Fprintf(os.Stderr, "argo: got %v, stopping processes\n", s)
		killAll()
		if scratchRoot != "" {
			os.RemoveAll(scratchRoot)
		}
		os.Exit(2)
	}()
}

// permanent marks an error returned by a waitFor condition as final.
type permanent = harness.Permanent

// waitFor polls cond until it holds (see harness.WaitFor); a process in
// watch that ends fails the wait at once.
func waitFor(timeout, interval time.Duration, watch []*proc, cond func() (bool, error)) error {
	hs := make([]*harness.Proc, len(watch))
	for i, p := range watch {
		hs[i] = p.Proc
	}
	return harness.WaitFor(timeout, interval, hs, cond)
}
