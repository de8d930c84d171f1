package node

import (
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/stagecraft-dev/stagecraft/test/harness"
)

// proc is one process of the node or the control plane (test/harness).
type proc struct{ *harness.Proc }

func (p proc) check() error      { return p.Check() }
func (p proc) tail(n int) string { return p.Tail(n) }

// startProc starts bin with args, logging to <scratch>/logs/name.log.
// (Children die with the test binary: harness.Start asks for it, and the
// suite's PID namespace does the same for everything else.)
func startProc(name, bin string, env []string, args ...string) (*proc, error) {
	dir := filepath.Join(scratchRoot, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	p, err := harness.Start(dir, name, bin, env, args...)
	if err != nil {
		return nil, err
	}
	return &proc{p}, nil
}

// stopAll stops every process, the last started first.
func stopAll() { harness.StopAll() }

func handleSignals() {
	ch := make(chan os.Signal, 1)
	signal.Notify(ch, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	go func() {
		s := <-ch
		fmt.Fprintf(os.Stderr, "node: got %v, stopping the node\n", s)
		// As PID 1 of the namespace, returning kills every process in it.
		os.Exit(2)
	}()
}

// permanent marks an error returned by a waitFor condition as final.
type permanent = harness.Permanent

// waitFor polls cond until it holds (see harness.WaitFor); a process in
// watch that ends fails the wait at once, with its log.
func waitFor(timeout, interval time.Duration, watch []*proc, cond func() (bool, error)) error {
	hs := make([]*harness.Proc, len(watch))
	for i, p := range watch {
		hs[i] = p.Proc
	}
	return harness.WaitFor(timeout, interval, hs, cond)
}
