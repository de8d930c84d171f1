package node

import (
	"fmt"
	"strings"
	"sync"
)

// reporter is what the proofs need of a test: *testing.T, or a recorder
// when a test expects the proofs to fail (TestBrokenApps).
type reporter interface {
	Helper()
	Logf(format string, args ...any)
	Errorf(format string, args ...any)
	Fatalf(format string, args ...any)
	Skipf(format string, args ...any)
	Failed() bool
}

// recorder collects the failures of a proof instead of failing the test.
type recorder struct {
	mu     sync.Mutex
	errors []string
	logs   []string
}

type stopProof struct{}

func (r *recorder) Helper() {}

func (r *recorder) Logf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.logs = append(r.logs, fmt.Sprintf(format, args...))
}

func (r *recorder) Errorf(format string, args ...any) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.errors = append(r.errors, fmt.Sprintf(format, args...))
}

// Fatalf records the failure and ends the proof (see run).
func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(stopProof{})
}

func (r *recorder) Skipf(format string, args ...any) {
	r.Logf("skipped: "+format, args...)
	panic(stopProof{})
}

func (r *recorder) Failed() bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	return len(r.errors) > 0
}

// run runs one proof, stopping where it calls Fatalf or Skipf.
func (r *recorder) run(proof func(reporter)) {
	defer func() {
		if v := recover(); v != nil {
			if _, ok := v.(stopProof); !ok {
				panic(v)
			}
		}
	}()
	proof(r)
}

// has reports whether some recorded failure contains every part.
func (r *recorder) has(parts ...string) bool {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, e := range r.errors {
		all := true
		for _, p := range parts {
			if !strings.Contains(e, p) {
				all = false
				break
			}
		}
		if all {
			return true
		}
	}
	return false
}
