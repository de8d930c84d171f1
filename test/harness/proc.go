// Package harness runs the processes of stagecraft's test suites (test/e2e,
// test/argo and test/node: control planes, nodes, controllers). It is a
// module of its own with no dependencies, so that each suite, which pins
// its own Kubernetes client, can share it.
package harness

import (
	"bufio"
	"bytes"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"sync"
	"syscall"
	"time"
)

// Proc is one process started by a suite. Its output goes to a log file,
// whose end errors and failed tests print.
type Proc struct {
	// Name names the process in errors and logs.
	Name string
	// LogPath is the file that holds its standard output and error.
	LogPath string
	cmd     *exec.Cmd
	done    chan struct{} // closed when the process has exited
	err     error         // the result of Wait, once done is closed
}

var (
	mu      sync.Mutex
	running []*Proc // in start order
)

type spawnRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

var spawnc = make(chan spawnRequest)

// Children are started from one goroutine locked to its OS thread for the
// life of the test binary. Pdeathsig is delivered when the thread that
// forked the child exits, so a child started from an arbitrary (possibly
// retired) thread could be killed early; from this thread it dies with the
// test binary, even when `go test -timeout` panics and no cleanup runs.
func init() {
	go func() {
		runtime.LockOSThread()
		for r := range spawnc {
			r.reply <- r.cmd.Start()
		}
	}()
}

// Start starts bin with args and env (added to the test binary's own),
// logging to dir/<name>.log, in a process group of its own: a Ctrl-C on the
// terminal reaches only the test binary, which then stops its children.
func Start(dir, name, bin string, env []string, args ...string) (*Proc, error) {
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, fmt.Errorf("create the log of %s: %w", name, err)
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	reply := make(chan error)
	spawnc <- spawnRequest{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &Proc{Name: name, LogPath: logPath, cmd: cmd, done: make(chan struct{})}
	mu.Lock()
	running = append(running, p)
	mu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Check returns an error if the process has ended, with the end of its log.
func (p *Proc) Check() error {
	if !p.Exited() {
		return nil
	}
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.Name, p.err, p.LogPath, p.Tail(30))
}

// Stop sends SIGTERM to the process group, and SIGKILL if it is still
// there after 10 seconds. It is safe to call more than once.
func (p *Proc) Stop() {
	forget(p)
	if p.Exited() {
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

func forget(p *Proc) {
	mu.Lock()
	defer mu.Unlock()
	for i, q := range running {
		if q == p {
			running = append(running[:i], running[i+1:]...)
			return
		}
	}
}

// Tail returns the last n lines of the process's log, indented.
func (p *Proc) Tail(n int) string {
	data, err := os.ReadFile(p.LogPath)
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

// StopAll stops every process still running, the last started first.
func StopAll() {
	mu.Lock()
	ps := append([]*Proc(nil), running...)
	mu.Unlock()
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].Stop()
	}
}

// KillAll sends SIGKILL to every process still running, at once: the last
// resort on a signal or at the end of a suite.
func KillAll() {
	mu.Lock()
	defer mu.Unlock()
	for _, p := range running {
		_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
	}
	running = nil
}

// Permanent marks an error returned by a WaitFor condition as final: the
// wait stops at once. Other errors only say why the condition is not met
// yet.
type Permanent struct{ Err error }

func (p Permanent) Error() string { return p.Err.Error() }

// Unwrap returns the final error.
func (p Permanent) Unwrap() error { return p.Err }

// WaitFor polls cond every interval until it returns true, returns a
// Permanent error, or timeout passes. A process in watch that has ended
// fails the wait at once, with its log.
func WaitFor(timeout, interval time.Duration, watch []*Proc, cond func() (bool, error)) error {
	deadline := time.Now().Add(timeout)
	var last error
	for {
		for _, p := range watch {
			if err := p.Check(); err != nil {
				return err
			}
		}
		ok, err := cond()
		if ok {
			return nil
		}
		var perm Permanent
		if errors.As(err, &perm) {
			return perm.Err
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
