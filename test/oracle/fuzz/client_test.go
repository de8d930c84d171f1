package fuzz

import (
	"bufio"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"

	"github.com/aws/jsii-runtime-go"
)

// The fuzz targets run the oracle in a process of its own (cmd/oracle
// -serve): instrumenting this package's dependencies for coverage then
// covers stagecraft, not the Kubernetes API server, whose packages build
// once, uninstrumented, and are shared with the oracle's other tests and
// with test/e2e.

// binEnv names the oracle binary. TestMain builds it when unset, and sets
// it for the fuzzing workers it starts.
const binEnv = "STAGECRAFT_ORACLE_BIN"

func TestMain(m *testing.M) {
	code := func() int {
		if os.Getenv(binEnv) == "" {
			dir, err := os.MkdirTemp("", "stagecraft-oracle")
			if err != nil {
				fmt.Fprintln(os.Stderr, err)
				return 2
			}
			defer os.RemoveAll(dir)
			bin := filepath.Join(dir, "oracle")
			build := exec.Command("go", "build", "-trimpath", "-o", bin, "./cmd/oracle")
			build.Dir = ".."
			build.Env = append(os.Environ(), "CGO_ENABLED=0")
			if out, err := build.CombinedOutput(); err != nil {
				fmt.Fprintf(os.Stderr, "building the oracle: %v\n%s", err, out)
				return 2
			}
			os.Setenv(binEnv, bin)
		}
		return m.Run()
	}()
	theClient.close()
	jsii.Close()
	os.Exit(code)
}

// client talks to one oracle process.
type client struct {
	once sync.Once
	mu   sync.Mutex
	err  error
	cmd  *exec.Cmd
	in   io.WriteCloser
	out  *bufio.Scanner
}

var theClient = &client{}

// answer is cmd/oracle's Answer.
type answer struct {
	Objects  int      `json:"objects"`
	Findings []string `json:"findings"`
	Error    string   `json:"error"`
}

func (c *client) start() {
	repo, err := filepath.Abs("../../..")
	if err != nil {
		c.err = err
		return
	}
	c.cmd = exec.Command(os.Getenv(binEnv), "-serve", "-repo", repo)
	c.cmd.Stderr = os.Stderr
	if c.in, c.err = c.cmd.StdinPipe(); c.err != nil {
		return
	}
	stdout, err := c.cmd.StdoutPipe()
	if err != nil {
		c.err = err
		return
	}
	c.out = bufio.NewScanner(stdout)
	c.out.Buffer(make([]byte, 1<<20), 1<<30)
	c.err = c.cmd.Start()
}

// check sends an output folder to the oracle.
func (c *client) check(files map[string][]byte) (answer, error) {
	c.once.Do(c.start)
	c.mu.Lock()
	defer c.mu.Unlock()
	var a answer
	if c.err != nil {
		return a, c.err
	}
	req := map[string]string{}
	for n, d := range files {
		req[n] = string(d)
	}
	line, err := json.Marshal(req)
	if err != nil {
		return a, err
	}
	if _, err := c.in.Write(append(line, '\n')); err != nil {
		return a, err
	}
	if !c.out.Scan() {
		return a, fmt.Errorf("the oracle stopped: %v", c.out.Err())
	}
	if err := json.Unmarshal(c.out.Bytes(), &a); err != nil {
		return a, err
	}
	if a.Error != "" {
		return a, fmt.Errorf("oracle: %s", a.Error)
	}
	return a, nil
}

func (c *client) close() {
	if c.in != nil {
		c.in.Close()
		c.cmd.Wait()
	}
}
