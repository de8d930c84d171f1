package node

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// TestBrokenApp runs an app with known faults (testdata/broken/app.yaml)
// and requires the proofs to find each of them, naming the object and what
// was expected, and to find nothing else: the checks can fail, and fail for
// the right reason.
func TestBrokenApp(t *testing.T) {
	c, err := requireNode()
	if err != nil {
		t.Fatalf("start the node: %v", err)
	}
	r, err := c.newRun(unit{name: "broken", dir: filepath.Join("testdata", "broken")})
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	defer r.cleanup(t)
	if !t.Run("run", func(t *testing.T) { r.start(ctx, t) }) {
		return
	}
	cases := []struct {
		name  string
		proof func(reporter)
		want  [][]string // each must be among the failures
	}{
		{"security", func(t reporter) { r.proveSecurity(ctx, t) }, nil},
		{"writes", func(t reporter) { r.proveWrites(ctx, t) }, [][]string{
			{"Deployment node-broken/writer", "could not write in /data", "permission denied"},
		}},
		{"waits", func(t reporter) { r.proveWaits(ctx, t) }, [][]string{
			{"Deployment node-broken/reader", "the ServiceAccount token reaches container reader", "mounts volume kube-api-access-gate", "its workload found it"},
		}},
		// Job consume and its gate are as stagecraft writes them.
		{"gates", func(t reporter) { r.proveGates(ctx, t) }, nil},
		// Not calls: a workload calls at once when it starts, which may be
		// before the engine knows its pod; the call check proves DNS and
		// Services, the policy check proves the policies.
		{"policies", func(t reporter) { r.provePolicies(ctx, t) }, [][]string{
			{"Deployment node-broken/caller", "callee.node-broken.svc:80 (declared by CALLEE_ENDPOINT) was refused, want allowed"},
			{"Deployment node-broken/intruder", "open.node-broken.svc:80 (no declared call to open:http) connected, want refused"},
		}},
	}
	found := 0
	defer func() {
		verdict := "PASS"
		if t.Failed() {
			verdict = "FAIL"
		}
		var gates []string
		for _, l := range r.summary {
			if strings.HasPrefix(l, "gates:") {
				gates = append(gates, l)
			}
		}
		fmt.Printf("node-summary: %s broken (testdata/broken, faults on purpose): %d known faults reported, nothing else; %s\n", verdict, found, strings.Join(gates, "; "))
	}()
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			rec := &recorder{}
			rec.run(tc.proof)
			for _, w := range tc.want {
				if rec.has(w...) {
					found++
				} else {
					t.Errorf("no failure mentions all of %q; failures: %q", w, rec.errors)
				}
			}
			for _, e := range rec.errors {
				expected := false
				for _, w := range tc.want {
					if containsAll(e, w) {
						expected = true
					}
				}
				if !expected {
					t.Errorf("unexpected failure: %s", e)
				}
			}
			for _, l := range rec.logs {
				t.Log(l)
			}
		})
	}
}

func containsAll(s string, parts []string) bool {
	for _, p := range parts {
		if !strings.Contains(s, p) {
			return false
		}
	}
	return true
}
