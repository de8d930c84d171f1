package main

import (
	"encoding/json"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

func TestCheckWrite(t *testing.T) {
	dir := t.TempDir()
	if r := checkWrite(dir); !r.OK {
		t.Errorf("checkWrite(%s) = %+v, want ok", dir, r)
	}
	if r := checkWrite(filepath.Join(dir, "missing")); r.OK {
		t.Errorf("checkWrite of a missing directory = %+v, want a failure", r)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("checkWrite left %d files behind", len(left))
	}
}

func TestCheckReadOnlyFailsOnWritableDir(t *testing.T) {
	dir := t.TempDir()
	r := checkReadOnly("readonly", dir)
	if r.OK || !strings.Contains(r.Detail, "created") {
		t.Errorf("checkReadOnly(%s) = %+v, want a failure saying it created a file", dir, r)
	}
	if left, _ := os.ReadDir(dir); len(left) != 0 {
		t.Errorf("checkReadOnly left %d files behind", len(left))
	}
}

func TestCheckAbsent(t *testing.T) {
	dir := t.TempDir()
	token := filepath.Join(dir, "token")
	if r := checkAbsent(token); !r.OK {
		t.Errorf("checkAbsent of a missing file = %+v, want ok", r)
	}
	if err := os.WriteFile(token, []byte("x"), 0o600); err != nil {
		t.Fatal(err)
	}
	if r := checkAbsent(token); r.OK || !strings.Contains(r.Detail, "exists") {
		t.Errorf("checkAbsent of an existing file = %+v, want a failure saying it exists", r)
	}
}

func TestCall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		_ = json.NewEncoder(w).Encode(Identity{Pod: "callee-0"})
	}))
	defer srv.Close()
	target := strings.TrimPrefix(srv.URL, "http://")
	if r := call(target, time.Second); r.Answer == nil || r.Answer.Pod != "callee-0" || !r.Connected {
		t.Errorf("call(%s) = %+v, want answered by callee-0", target, r)
	}

	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	closed := l.Addr().String()
	l.Close()
	if r := call(closed, time.Second); r.Connected || r.Answer != nil || !strings.HasPrefix(r.Error, "connect:") {
		t.Errorf("call(%s) to a closed port = %+v, want a connect error", closed, r)
	}

	notUs := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Write([]byte("hello"))
	}))
	defer notUs.Close()
	if r := call(strings.TrimPrefix(notUs.URL, "http://"), time.Second); r.Answer != nil || !r.Connected {
		t.Errorf("call to a server that is not the workload = %+v, want connected but not answered", r)
	}
}
