// Command oracle checks output folders the way kube-apiserver v1.36.3
// checks objects on create (see package oracle).
//
//	go run ./cmd/oracle [-repo DIR] FOLDER...   check each folder; exit 1 on findings
//	go run ./cmd/oracle [-repo DIR] -serve      answer requests on stdin
//
// In -serve mode each line of stdin is a JSON object mapping file names to
// their content (one output folder); each answer is one JSON line,
// {"objects": N, "findings": ["..."]}. The differential fuzz targets run
// the oracle this way, in a process of its own, so that only stagecraft's
// code is instrumented for coverage.
package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/stagecraft-dev/stagecraft/test/oracle"
)

// Answer is the oracle's answer to one request.
type Answer struct {
	Objects  int      `json:"objects"`
	Findings []string `json:"findings"`
	Error    string   `json:"error,omitempty"`
}

func main() {
	repo := flag.String("repo", "../..", "the stagecraft checkout whose imports/crds hold the CRDs")
	serve := flag.Bool("serve", false, "answer requests on stdin, one JSON line each")
	flag.Parse()
	o, err := oracle.NewForRepo(*repo)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(2)
	}
	if *serve {
		if err := serveRequests(o); err != nil {
			fmt.Fprintln(os.Stderr, "oracle:", err)
			os.Exit(2)
		}
		return
	}
	bad := 0
	for _, dir := range flag.Args() {
		a := check(o, readFolder(dir))
		for _, f := range a.Findings {
			fmt.Println(filepath.Join(dir, f))
		}
		bad += len(a.Findings)
		fmt.Fprintf(os.Stderr, "%s: %d objects, %d findings\n", dir, a.Objects, len(a.Findings))
	}
	if bad > 0 {
		os.Exit(1)
	}
}

func serveRequests(o *oracle.Oracle) error {
	in := bufio.NewScanner(os.Stdin)
	in.Buffer(make([]byte, 1<<20), 1<<30)
	out := json.NewEncoder(os.Stdout)
	for in.Scan() {
		var files map[string]string
		var a Answer
		if err := json.Unmarshal(in.Bytes(), &files); err != nil {
			a.Error = err.Error()
		} else {
			a = check(o, files)
		}
		if err := out.Encode(a); err != nil {
			return err
		}
	}
	return in.Err()
}

func check(o *oracle.Oracle, files map[string]string) Answer {
	folder := map[string][]byte{}
	for name, data := range files {
		folder[name] = []byte(data)
	}
	n, findings := o.CheckFolder(folder)
	a := Answer{Objects: n, Findings: []string{}}
	for _, f := range findings {
		a.Findings = append(a.Findings, f.String())
	}
	return a
}

func readFolder(dir string) map[string]string {
	files := map[string]string{}
	entries, err := os.ReadDir(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "oracle:", err)
		os.Exit(2)
	}
	for _, e := range entries {
		if e.IsDir() {
			continue
		}
		data, err := os.ReadFile(filepath.Join(dir, e.Name()))
		if err != nil {
			fmt.Fprintln(os.Stderr, "oracle:", err)
			os.Exit(2)
		}
		files[e.Name()] = string(data)
	}
	return files
}
