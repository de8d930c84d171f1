package node

import (
	"bufio"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
)

// The API server's audit log records every request a ServiceAccount makes:
// who (the account, and for a token projected into a pod, that pod's name
// and UID, which the API server reads from the token), from where (the
// source address: the pod's), with which program (the user agent), what
// (verb, resource, name) and the answer. It is how the suite proves that a
// gate's pod, and no one else, did what the gate does: the suite itself
// acts as an administrator, which this policy does not record.
const auditPolicy = `apiVersion: audit.k8s.io/v1
kind: Policy
omitStages: ["RequestReceived"]
rules:
- level: None
  users: ["system:serviceaccount:kube-system:coredns"]
- level: Metadata
  userGroups: ["system:serviceaccounts"]
- level: None
`

// auditFlags writes the audit policy and returns the API server's flags.
func (c *cluster) auditFlags(pki string) ([]string, error) {
	policy := filepath.Join(pki, "audit-policy.yaml")
	if err := os.WriteFile(policy, []byte(auditPolicy), 0o644); err != nil {
		return nil, err
	}
	c.audit = filepath.Join(c.dir, "audit.log")
	return []string{"--audit-policy-file=" + policy, "--audit-log-path=" + c.audit, "--audit-log-mode=blocking", "--audit-log-format=json"}, nil
}

// auditEvent is the part of an audit.k8s.io/v1 Event the proofs read.
type auditEvent struct {
	Stage string `json:"stage"`
	Verb  string `json:"verb"`
	User  struct {
		Username string              `json:"username"`
		Extra    map[string][]string `json:"extra"`
	} `json:"user"`
	SourceIPs []string `json:"sourceIPs"`
	UserAgent string   `json:"userAgent"`
	ObjectRef *struct {
		Resource    string `json:"resource"`
		Namespace   string `json:"namespace"`
		Name        string `json:"name"`
		Subresource string `json:"subresource"`
	} `json:"objectRef"`
	ResponseStatus *struct {
		Code int `json:"code"`
	} `json:"responseStatus"`
	Received metav1.MicroTime `json:"requestReceivedTimestamp"`
}

// podName is the pod whose projected token made the request, as the API
// server read it from the token.
func (e *auditEvent) podName() string { return e.extra("pod-name") }

// extra returns authentication.kubernetes.io/<key> of the request's user:
// what the API server read from a projected token (pod-name, pod-uid,
// node-name).
func (e *auditEvent) extra(key string) string {
	if v := e.User.Extra["authentication.kubernetes.io/"+key]; len(v) == 1 {
		return v[0]
	}
	return ""
}

func (e *auditEvent) code() int {
	if e.ResponseStatus == nil {
		return 0
	}
	return e.ResponseStatus.Code
}

// what is "verb resource[/subresource] name".
func (e *auditEvent) what() string {
	if e.ObjectRef == nil {
		return e.Verb
	}
	res := e.ObjectRef.Resource
	if e.ObjectRef.Subresource != "" {
		res += "/" + e.ObjectRef.Subresource
	}
	return strings.TrimSpace(e.Verb + " " + res + " " + e.ObjectRef.Name)
}

func (e *auditEvent) String() string {
	return fmt.Sprintf("%s %s as %s (pod %s, from %v, %q) -> %d", e.Received.UTC().Format("15:04:05.000"), e.what(), e.User.Username, e.podName(), e.SourceIPs, e.UserAgent, e.code())
}

// auditOf reads the completed requests of the pod ns/pod (by the pod name
// its token carries), in order.
func (c *cluster) auditOf(ns, pod string) ([]auditEvent, error) {
	f, err := os.Open(c.audit)
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []auditEvent
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 16<<20)
	prefix := "system:serviceaccount:" + ns + ":"
	for sc.Scan() {
		line := sc.Bytes()
		if !strings.Contains(string(line), pod) {
			continue
		}
		var e auditEvent
		if err := json.Unmarshal(line, &e); err != nil {
			return nil, fmt.Errorf("audit log %s: %w", c.audit, err)
		}
		if e.Stage == "ResponseComplete" && e.podName() == pod && strings.HasPrefix(e.User.Username, prefix) {
			out = append(out, e)
		}
	}
	return out, sc.Err()
}

// firstRequest returns the first request in evs that matches verb,
// resource (with "/subresource") and name with a successful answer.
func firstRequest(evs []auditEvent, verb, resource, name string) (*auditEvent, bool) {
	for i := range evs {
		e := &evs[i]
		if e.ObjectRef == nil || e.Verb != verb || e.ObjectRef.Name != name || e.code() < 200 || e.code() > 299 {
			continue
		}
		res := e.ObjectRef.Resource
		if e.ObjectRef.Subresource != "" {
			res += "/" + e.ObjectRef.Subresource
		}
		if res == resource {
			return e, true
		}
	}
	return nil, false
}

// auditTime is when the API server received a request.
func auditTime(e *auditEvent) time.Time { return e.Received.Time }
