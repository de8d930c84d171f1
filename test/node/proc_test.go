package node

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
	"time"
)

// proc is one process of the node or the control plane. Its output goes to
// a log file whose end is printed when it fails.
type proc struct {
	name    string
	cmd     *exec.Cmd
	logPath string
	done    chan struct{} // closed when the process has exited
	err     error         // result of Wait, valid after done is closed
}

var (
	procsMu sync.Mutex
	procs   []*proc // in start order; stopped in reverse order
)

type spawnRequest struct {
	cmd   *exec.Cmd
	reply chan error
}

var spawnc = make(chan spawnRequest)

// Children are started from one goroutine locked to its OS thread for the
// life of the test binary: Pdeathsig is delivered when the thread that
// forked the child exits, so from this thread a child dies with the test
// binary, even when a timeout panics and no cleanup runs. (The PID namespace
// does the same for everything else.)
func init() {
	go func() {
		runtime.LockOSThread()
		for r := range spawnc {
			r.reply <- r.cmd.Start()
		}
	}()
}

// startProc starts bin with args, logging to <scratch>/logs/name.log.
func startProc(name, bin string, env []string, args ...string) (*proc, error) {
	dir := filepath.Join(scratchRoot, "logs")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	logPath := filepath.Join(dir, name+".log")
	logf, err := os.Create(logPath)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, args...)
	cmd.Stdout = logf
	cmd.Stderr = logf
	cmd.Env = append(os.Environ(), env...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	reply := make(chan error)
	spawnc <- spawnRequest{cmd: cmd, reply: reply}
	if err := <-reply; err != nil {
		logf.Close()
		return nil, fmt.Errorf("start %s (%s): %w", name, bin, err)
	}
	p := &proc{name: name, cmd: cmd, logPath: logPath, done: make(chan struct{})}
	procsMu.Lock()
	procs = append(procs, p)
	procsMu.Unlock()
	go func() {
		p.err = cmd.Wait()
		logf.Close()
		close(p.done)
	}()
	return p, nil
}

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
	return fmt.Errorf("%s exited (%v); last lines of %s:\n%s", p.name, p.err, p.logPath, p.tail(30))
}

// stop sends SIGTERM to the process group, and SIGKILL after 10 seconds.
func (p *proc) stop() {
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

// tail returns the last n lines of the process log, indented.
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

// stopAll stops every process, the last started first.
func stopAll() {
	procsMu.Lock()
	ps := procs
	procs = nil
	procsMu.Unlock()
	for i := len(ps) - 1; i >= 0; i-- {
		ps[i].stop()
	}
}

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
type permanent struct{ error }

func (p permanent) Unwrap() error { return p.error }

// waitFor polls cond every interval until it returns true, returns a
// permanent error, or timeout passes. A process in watch that ends fails the
// wait at once, with its log.
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
