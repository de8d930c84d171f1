package harness

import (
	"errors"
	"strings"
	"testing"
	"time"
)

func TestStartCheckTail(t *testing.T) {
	p, err := Start(t.TempDir(), "exits", "/bin/sh", nil, "-c", "echo one; echo two; exit 3")
	if err != nil {
		t.Fatal(err)
	}
	err = WaitFor(10*time.Second, 10*time.Millisecond, []*Proc{p}, func() (bool, error) { return false, nil })
	if err == nil || !strings.Contains(err.Error(), "exits exited (exit status 3)") || !strings.Contains(err.Error(), "two") {
		t.Fatalf("want the process's end with its log, got %v", err)
	}
	if got := p.Tail(1); got != "    two" {
		t.Errorf("Tail(1) = %q", got)
	}
}

func TestWaitForPermanentAndTimeout(t *testing.T) {
	final := errors.New("final")
	if err := WaitFor(time.Minute, time.Millisecond, nil, func() (bool, error) { return false, Permanent{Err: final} }); err != final {
		t.Errorf("a permanent error: got %v", err)
	}
	err := WaitFor(30*time.Millisecond, 5*time.Millisecond, nil, func() (bool, error) { return false, errors.New("not yet") })
	if err == nil || !strings.Contains(err.Error(), "timed out") || !strings.Contains(err.Error(), "not yet") {
		t.Errorf("a timeout: got %v", err)
	}
}

func TestStopAll(t *testing.T) {
	dir := t.TempDir()
	var ps []*Proc
	for _, name := range []string{"a", "b"} {
		p, err := Start(dir, name, "/bin/sleep", nil, "60")
		if err != nil {
			t.Fatal(err)
		}
		ps = append(ps, p)
	}
	StopAll()
	for _, p := range ps {
		if !p.Exited() {
			t.Errorf("%s still runs after StopAll", p.Name)
		}
	}
	ps[0].Stop() // again: a no-op
}
