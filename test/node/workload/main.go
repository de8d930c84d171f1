// Command workload is the program inside every image the node suite builds
// for the apps' own images. Its behaviour comes from its arguments only, so
// the suite replaces an app container's command and arguments (never dist/)
// to make it prove what stagecraft promises about that container:
//
//	workload [-write DIR]... [-readonly DIR]... [-rootfs] [-absent FILE]...
//	         [-call NAME=HOST:PORT]... [-serve PORT]... [-sleep D] [-exit CODE]
//
// It first reports who it runs as and starts serving HTTP on each -serve
// port, then checks each -write directory (a file can be created, written,
// read back and removed), each -readonly directory and, with -rootfs, the
// root file system (creating a file must fail), that each -absent file
// does not exist (a ServiceAccount token meant for another container), then
// calls each -call
// address over HTTP by its DNS name until answered, says "checked", and
// serves until SIGTERM, or sleeps and exits with -exit (1 if a check
// failed).
//
// Every result is one line of JSON on stdout starting with "STAGECRAFT ",
// which the suite reads back from the container's log. The served HTTP
// answers every path with the identity of the pod (so a caller can tell
// who answered); /probe?target=HOST:PORT makes a call from inside this pod
// and answers with its result, which is how the suite tests NetworkPolicies
// from the pods they select.
package main

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

type list []string

func (l *list) String() string     { return strings.Join(*l, ",") }
func (l *list) Set(v string) error { *l = append(*l, v); return nil }

// Result is one line of the report.
type Result struct {
	Check  string `json:"check"`
	Target string `json:"target,omitempty"`
	OK     bool   `json:"ok"`
	Detail string `json:"detail,omitempty"`
	// Time is when the check finished, with nanoseconds (RFC 3339).
	Time string `json:"time"`
}

// Identity answers every HTTP request and starts the report.
type Identity struct {
	Pod       string   `json:"pod"`
	Namespace string   `json:"namespace,omitempty"`
	UID       int      `json:"uid"`
	GID       int      `json:"gid"`
	Groups    []int    `json:"groups"`
	Port      string   `json:"port,omitempty"`
	Args      []string `json:"args"`
}

// CallResult is the answer of /probe and the detail of a call.
type CallResult struct {
	Target    string    `json:"target"`
	Addresses []string  `json:"addresses,omitempty"`
	Connected bool      `json:"connected"`
	Status    int       `json:"status,omitempty"`
	Answer    *Identity `json:"answer,omitempty"`
	Error     string    `json:"error,omitempty"`
}

func main() {
	var writes, readonly, absent, calls, serve list
	flag.Var(&writes, "write", "directory in which a file must be writable (repeatable)")
	flag.Var(&readonly, "readonly", "directory in which creating a file must fail (repeatable)")
	rootfs := flag.Bool("rootfs", false, "check that the root file system is read-only")
	flag.Var(&absent, "absent", "file that must not exist in this container (repeatable)")
	flag.Var(&calls, "call", "NAME=HOST:PORT to call over HTTP until answered (repeatable)")
	callTimeout := flag.Duration("call-timeout", 60*time.Second, "how long to retry each -call")
	flag.Var(&serve, "serve", "port to serve HTTP on until SIGTERM (repeatable)")
	sleep := flag.Duration("sleep", 0, "sleep before exiting (without -serve)")
	exit := flag.Int("exit", 0, "exit code (without -serve)")
	pause := flag.Bool("pause", false, "only wait for SIGTERM (the pod sandbox's process)")
	flag.Parse()
	if *pause {
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
		defer stop()
		<-ctx.Done()
		return
	}

	id := identity()
	report(Result{Check: "start", OK: true, Detail: mustJSON(id)})

	// A server answers before the checks run: a callee that calls others
	// must not wait for them to be ready (two stages may call each other).
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	errc := make(chan error, len(serve))
	for _, port := range serve {
		go func() { errc <- serveHTTP(ctx, port, id) }()
	}
	if len(serve) > 0 {
		report(Result{Check: "serve", Target: strings.Join(serve, ","), OK: true})
	}

	failed := false
	note := func(r Result) {
		if !r.OK {
			failed = true
		}
		report(r)
	}
	for _, dir := range writes {
		note(checkWrite(dir))
	}
	for _, dir := range readonly {
		note(checkReadOnly("readonly", dir))
	}
	if *rootfs {
		note(checkReadOnly("rootfs", "/"))
	}
	for _, f := range absent {
		note(checkAbsent(f))
	}
	for _, c := range calls {
		name, target, ok := strings.Cut(c, "=")
		if !ok {
			note(Result{Check: "call", Target: c, Detail: "want NAME=HOST:PORT"})
			continue
		}
		note(callUntil(name, target, *callTimeout))
	}
	// The suite reads the report once every container has said this.
	report(Result{Check: "checked", OK: !failed})

	if len(serve) > 0 {
		select {
		case <-ctx.Done():
			report(Result{Check: "end", OK: !failed, Detail: "SIGTERM"})
			return
		case err := <-errc:
			report(Result{Check: "serve", Target: strings.Join(serve, ","), Detail: err.Error()})
			os.Exit(1)
		}
	}
	time.Sleep(*sleep)
	code := *exit
	if failed && code == 0 {
		code = 1
	}
	report(Result{Check: "end", OK: !failed, Detail: "exit " + strconv.Itoa(code)})
	os.Exit(code)
}

func identity() Identity {
	groups, _ := os.Getgroups()
	host, _ := os.Hostname()
	return Identity{
		Pod:       host,
		Namespace: os.Getenv("POD_NAMESPACE"),
		UID:       os.Getuid(),
		GID:       os.Getgid(),
		Groups:    groups,
		Args:      os.Args[1:],
	}
}

func report(r Result) {
	r.Time = time.Now().UTC().Format(time.RFC3339Nano)
	fmt.Println("STAGECRAFT " + mustJSON(r))
}

func mustJSON(v any) string {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return string(b)
}

// checkWrite creates, writes, reads back and removes a file in dir.
func checkWrite(dir string) Result {
	r := Result{Check: "write", Target: dir}
	f, err := os.CreateTemp(dir, ".stagecraft-write-*")
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	name := f.Name()
	defer os.Remove(name)
	want := "written by uid " + strconv.Itoa(os.Getuid())
	if _, err := f.WriteString(want); err != nil {
		f.Close()
		r.Detail = err.Error()
		return r
	}
	if err := f.Close(); err != nil {
		r.Detail = err.Error()
		return r
	}
	got, err := os.ReadFile(name)
	if err != nil {
		r.Detail = err.Error()
		return r
	}
	if string(got) != want {
		r.Detail = fmt.Sprintf("read back %q, wrote %q", got, want)
		return r
	}
	st, err := os.Stat(dir)
	if err == nil {
		if s, ok := st.Sys().(*syscall.Stat_t); ok {
			r.Detail = fmt.Sprintf("%s owned by %d:%d mode %v", name, s.Uid, s.Gid, st.Mode())
		}
	}
	r.OK = true
	return r
}

// checkReadOnly expects creating a file in dir to fail, and says why it did.
func checkReadOnly(check, dir string) Result {
	r := Result{Check: check, Target: dir}
	name := filepath.Join(dir, ".stagecraft-must-not-exist")
	f, err := os.OpenFile(name, os.O_CREATE|os.O_EXCL|os.O_WRONLY, 0o600)
	if err == nil {
		f.Close()
		os.Remove(name)
		r.Detail = "created " + name
		return r
	}
	r.OK = errors.Is(err, syscall.EROFS) || errors.Is(err, syscall.EACCES) || errors.Is(err, syscall.EPERM)
	r.Detail = err.Error()
	return r
}

// checkAbsent expects path not to exist.
func checkAbsent(path string) Result {
	r := Result{Check: "absent", Target: path}
	_, err := os.Lstat(path)
	switch {
	case err == nil:
		r.Detail = path + " exists"
	case errors.Is(err, fs.ErrNotExist):
		r.OK = true
		r.Detail = err.Error()
	default:
		r.Detail = err.Error()
	}
	return r
}

// callUntil calls target until it answers or the timeout passes: the
// callee may start after the caller.
func callUntil(name, target string, timeout time.Duration) Result {
	deadline := time.Now().Add(timeout)
	var last CallResult
	attempts := 0
	for {
		attempts++
		last = call(target, 3*time.Second)
		if last.Answer != nil || time.Now().After(deadline) {
			break
		}
		time.Sleep(time.Second)
	}
	last.Target = target
	detail := mustJSON(struct {
		Name     string     `json:"name"`
		Attempts int        `json:"attempts"`
		Result   CallResult `json:"result"`
	}{name, attempts, last})
	return Result{Check: "call", Target: target, OK: last.Answer != nil, Detail: detail}
}

// call resolves target's host by DNS, connects and sends GET /.
func call(target string, timeout time.Duration) CallResult {
	r := CallResult{Target: target}
	host, port, err := net.SplitHostPort(target)
	if err != nil {
		r.Error = err.Error()
		return r
	}
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	defer cancel()
	addrs, err := net.DefaultResolver.LookupHost(ctx, host)
	if err != nil {
		r.Error = "dns: " + err.Error()
		return r
	}
	r.Addresses = addrs
	conn, err := (&net.Dialer{}).DialContext(ctx, "tcp", net.JoinHostPort(addrs[0], port))
	if err != nil {
		r.Error = "connect: " + err.Error()
		return r
	}
	r.Connected = true
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	req, _ := http.NewRequest(http.MethodGet, "http://"+target+"/", nil)
	if err := req.Write(conn); err != nil {
		r.Error = "http: " + err.Error()
		return r
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), req)
	if err != nil {
		r.Error = "http: " + err.Error()
		return r
	}
	defer resp.Body.Close()
	r.Status = resp.StatusCode
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<16))
	var id Identity
	if resp.StatusCode == http.StatusOK && json.Unmarshal(body, &id) == nil && id.Pod != "" {
		r.Answer = &id
	} else {
		r.Error = fmt.Sprintf("http: status %d, body %.200q", resp.StatusCode, body)
	}
	return r
}

func serveHTTP(ctx context.Context, port string, id Identity) error {
	id.Port = port
	mux := http.NewServeMux()
	mux.HandleFunc("/probe", func(w http.ResponseWriter, req *http.Request) {
		timeout := 3 * time.Second
		if d, err := time.ParseDuration(req.URL.Query().Get("timeout")); err == nil {
			timeout = d
		}
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, mustJSON(call(req.URL.Query().Get("target"), timeout)))
	})
	mux.HandleFunc("/", func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "application/json")
		io.WriteString(w, mustJSON(id))
	})
	srv := &http.Server{Addr: ":" + port, Handler: mux, ReadHeaderTimeout: 5 * time.Second}
	go func() {
		<-ctx.Done()
		srv.Close()
	}()
	if err := srv.ListenAndServe(); err != nil && !errors.Is(err, http.ErrServerClosed) {
		return err
	}
	return nil
}
