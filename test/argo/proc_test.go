package argo

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"
)

// proc is one control-plane process started by the harness. Its output goes
// to a log file that is printed (tail) when a test fails.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // result of Wait, valid after done is closed
}

var (
	procsMu sync.Mutex
	procs   = map[*proc]bool{}

	// scratchRoot holds every cluster's scratch directory; TestMain creates
	// it and removes it at the end, or on SIGINT/SIGTERM.
	scratchRoot string
)

type spawnRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

var spawnc = make(chan spawnRequest)

// Children are started from one goroutine locked to its OS thread for the
// life of the test binary. Pdeathsig is delivered when the thread that forked
// the child exits, so a child started from an arbitrary (possibly retired)
// thread could be killed early; from this thread it dies with the test binary,
// even when `go test -timeout` panics and no Cleanup runs.
func init() {
	go func() {
		runtime.LockOSThread()
		for r := range spawnc {
			r.reply <- r.cmd.Start()
		}
	}()
}

// startProc starts bin with args, logging to dir/name.log, and registers a
// Cleanup on t that stops it.
func startProc(t *testing.T, dir, name, bin string, env []string, args ...string) *proc {
	t.Helper()
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		t.Fatalf("create log for %s: %v", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), env...)
	// Own process group: a Ctrl-C on the terminal reaches only the test
	// binary, which then stops the children itself.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	reply := make(chan error)
	spawnc <- spawnRequest{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		logf.Close()
		t.Fatalf("start %s (%s): %v", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	procsMu.Lock()
	procs[p] = true
	procsMu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("last lines of %s log (%s):\n%s", p.name, p.logPath, p.tail(40))
		}
	})
	return p
}

// exited reports whether the process has already ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// check returns an error if the process has ended, with the end of its log.
func (p *proc) check() error {
	if !p.exited() {
		return nil
	}
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.err, p.logPath, p.tail(25))
}

// stop sends SIGTERM to the process group, and SIGKILL if it is still there
// after 10 seconds. Safe to call more than once.
func (p *proc) stop() {
	procsMu.Lock()
	delete(procs, p)
	procsMu.Unlock()
	if p.exited() {
		return
	}
	_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGTERM)
	select {
	case <-p.done:
	case <-time.After(10 * time.Second):
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		<-p.done
	}
}

// tail returns the last n lines of the process log.
func (p *proc) tail(n int) string {
	data, err := os.ReadFile(p.logPath)
	if err != nil {
		return err.Error()
	}
	var lines []string
	sc := bufio.NewScanner(bytes.NewReader(data))
	sc.Buffer(make([]byte, 0, 64*1024), 4*1024*1024)
	for sc.Scan() {
		lines = append(lines, sc.Text())
	}
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return "    " + strings.Join(lines, "\n    ")
}

// killAll kills every process still registered (used on signals and at the
// end of TestMain as a last resort; normally each test's Cleanup stopped them).
func killAll() {
	procsMu.Lock()
	defer procsMu.Unlock()
	for p := range procs {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
		delete(procs, p)
	}
}

// handleSignals makes SIGINT/SIGTERM stop every child before the test binary
// exits.
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

// permanent marks an error returned by a waitFor condition as final: waiting
// stops at once. Other errors only explain why the condition is not met yet.
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// waitFor polls cond every interval until it returns true, returns a permanent
// error, or timeout passes. Each process in watch is checked on every round so
// that a crashed component fails fast with its log.
func waitFor(timeout, interval time.Duration, watch []*proc, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		for _, p := range watch {
			if err := p.check(); err != nil {
				return err
			}
		}
		ok, err := cond()
		if ok {
			return nil
		}
		var perm permanent
		if errors.As(err, &perm) {
			return perm.error
		}
		if err != nil {
			last = err
		}
		if time.Now().After(deadline) {
			if last != nil {
				return fmt.Errorf("timed out after %v: %w", timeout, last)
			}
			return errors.New("timed out after " + timeout.String())
		}
		time.Sleep(interval)
	}
}
