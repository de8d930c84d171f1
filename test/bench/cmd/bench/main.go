// Command bench is the driver of stagecraft's synth benchmark (issues 7
// and 19); test/bench/run.sh builds the programs and runs it.
//
// For each pipeline size it measures, side by side on the same objects:
//
//	s         stagecraft: an app that builds the pipeline and writes it with synth.MainChart
//	n         native cdk8s in JavaScript, same cdk8s version: each object as a plain ApiObject
//	f         plain Go floor: read the objects, sigs.k8s.io/yaml, write one file
//	f-direct  plain Go floor with stagecraft's own YAML writer
//
// Each measurement covers the whole process tree (the program and every
// Node process under it): wall time until the last process has exited, CPU
// time (user+sys, from the rusage of every process reaped; the driver is a
// subreaper, so orphaned Node processes are reaped and counted too), and
// memory summed over the tree: the largest sum of the processes' RSS,
// sampled from /proc, and the sum of each process's own peak (VmHWM), an
// upper bound that no sampling interval can miss. Variants are
// interleaved, one repetition after the other, so that the runs of one
// repetition form a pair; ratios are the median of the pairs' ratios.
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

type variant struct {
	Name  string
	Label string
	// cmd returns the command for size n writing into out, and the
	// directory holding its YAML afterwards.
	cmd func(n int, out string) (*exec.Cmd, string)
}

type config struct {
	bin, native, work string
	objects           map[int]string // size -> objects.json
	interval          time.Duration
}

func main() {
	sizes := flag.String("sizes", "10,100,1000", "pipeline sizes (stages), comma-separated")
	reps := flag.String("reps", "5,5,3", "repetitions per size, comma-separated (the last one repeats)")
	only := flag.String("variants", "s,n,f,f-direct", "variants to run")
	bin := flag.String("bin", "", "directory holding the built synth and floor programs (required)")
	native := flag.String("native", "test/bench/native", "directory of the native cdk8s program (synth.js), with node_modules installed")
	out := flag.String("out", "test/bench/RESULTS.md", "Markdown report to write (empty: none)")
	work := flag.String("work", "", "scratch directory (default: a new temporary one, removed afterwards)")
	interval := flag.Duration("interval", 5*time.Millisecond, "memory sampling interval")
	commit := flag.String("commit", "", "the stagecraft version measured, for the report (default: git describe --always --dirty)")
	historyFile := flag.String("history", "test/bench/HISTORY.md", "hand-kept earlier results, copied into the report (empty: none)")
	flag.Parse()
	if *bin == "" {
		fatal(fmt.Errorf("-bin is required"))
	}
	if err := becomeSubreaper(); err != nil {
		fatal(fmt.Errorf("prctl(PR_SET_CHILD_SUBREAPER): %w", err))
	}
	cfg := &config{bin: abs(*bin), native: abs(*native), interval: *interval, objects: map[int]string{}}
	if *work == "" {
		dir, err := os.MkdirTemp("", "stagecraft-bench-")
		if err != nil {
			fatal(err)
		}
		defer os.RemoveAll(dir)
		cfg.work = dir
	} else {
		cfg.work = abs(*work)
		if err := os.MkdirAll(cfg.work, 0o755); err != nil {
			fatal(err)
		}
	}
	ns, err := ints(*sizes)
	if err != nil {
		fatal(err)
	}
	rs, err := ints(*reps)
	if err != nil {
		fatal(err)
	}
	all := variants(cfg)
	var vs []variant
	for _, name := range strings.Split(*only, ",") {
		found := false
		for _, v := range all {
			if v.Name == name {
				vs = append(vs, v)
				found = true
			}
		}
		if !found {
			fatal(fmt.Errorf("unknown variant %q", name))
		}
	}

	env := envInfo(cfg)
	if *commit != "" {
		env.Commit = *commit
	}
	logf("stagecraft synth benchmark: sizes %v, variants %s; %s, %s", ns, *only, env.CPU, env.Load)

	var results []sizeResult
	start := time.Now()
	for i, n := range ns {
		r := rs[len(rs)-1]
		if i < len(rs) {
			r = rs[i]
		}
		res, err := runSize(cfg, vs, n, r)
		if err != nil {
			fatal(err)
		}
		results = append(results, res)
		printSize(os.Stdout, res)
	}
	env.Elapsed = time.Since(start)
	env.LoadAfter = loadAvg()
	var history []byte
	if *historyFile != "" {
		var err error
		if history, err = os.ReadFile(*historyFile); err != nil {
			fatal(err)
		}
	}
	md := report(env, vs, results, string(history))
	fmt.Println()
	fmt.Print(md)
	if *out != "" {
		if err := os.WriteFile(*out, []byte(md), 0o644); err != nil {
			fatal(err)
		}
		logf("wrote %s", *out)
	}
}

func variants(cfg *config) []variant {
	synth := func(n int, out string) (*exec.Cmd, string) {
		c := exec.Command(filepath.Join(cfg.bin, "synth"), "-n", strconv.Itoa(n))
		c.Env = append(os.Environ(), "STAGECRAFT_DIST="+out)
		return c, filepath.Join(out, "bench")
	}
	native := func(n int, out string) (*exec.Cmd, string) {
		c := exec.Command("node", filepath.Join(cfg.native, "synth.js"), "--objects", cfg.objects[n], "--out", out)
		c.Dir = cfg.native
		return c, out
	}
	return []variant{
		{"s", "stagecraft (Go, jsii)", synth},
		{"n", "native cdk8s in JavaScript, plain ApiObjects", native},
		{"f", "plain Go floor (sigs.k8s.io/yaml)", func(n int, out string) (*exec.Cmd, string) {
			if err := os.MkdirAll(out, 0o755); err != nil {
				fatal(err)
			}
			return exec.Command(filepath.Join(cfg.bin, "floor"), "-objects", cfg.objects[n], "-out", filepath.Join(out, "bench.k8s.yaml")), out
		}},
		{"f-direct", "plain Go floor (yamlout)", func(n int, out string) (*exec.Cmd, string) {
			if err := os.MkdirAll(out, 0o755); err != nil {
				fatal(err)
			}
			return exec.Command(filepath.Join(cfg.bin, "floor"), "-writer", "yamlout", "-objects", cfg.objects[n], "-out", filepath.Join(out, "bench.k8s.yaml")), out
		}},
	}
}

type sizeResult struct {
	N         int
	Objects   int
	Bytes     int // of stagecraft's manifest
	Reps      int
	Runs      map[string][]measurement
	Verify    map[string][]string // variant -> differences from stagecraft's objects (nil: identical)
	ReapCheck map[string]string
}

func runSize(cfg *config, vs []variant, n, reps int) (sizeResult, error) {
	res := sizeResult{N: n, Reps: reps, Runs: map[string][]measurement{}, Verify: map[string][]string{}, ReapCheck: map[string]string{}}
	// 1. Export the objects from stagecraft's own output (untimed): run
	// stagecraft once, parse its YAML into JSON.
	exportDir := filepath.Join(cfg.work, fmt.Sprintf("export-%d", n))
	os.RemoveAll(exportDir)
	c, dir := variants(cfg)[0].cmd(n, exportDir)
	if _, _, err := run(c, cfg.interval); err != nil {
		return res, fmt.Errorf("export: %w", err)
	}
	want, err := readObjects(dir)
	if err != nil {
		return res, err
	}
	if st, err := os.Stat(filepath.Join(dir, "bench.k8s.yaml")); err == nil {
		res.Bytes = int(st.Size())
	}
	res.Objects = len(want)
	raw, err := json.Marshal(want)
	if err != nil {
		return res, err
	}
	cfg.objects[n] = filepath.Join(cfg.work, fmt.Sprintf("objects-%d.json", n))
	if err := os.WriteFile(cfg.objects[n], raw, 0o644); err != nil {
		return res, err
	}
	logf("N=%d: %d objects, %d KB of YAML; warming up and verifying", n, len(want), res.Bytes/1024)

	// 2. One untimed warm-up run of each variant (jsii package cache, page
	// cache), whose output is compared with the exported objects.
	for _, v := range vs {
		out := filepath.Join(cfg.work, fmt.Sprintf("out-%s-%d", v.Name, n))
		os.RemoveAll(out)
		c, dir := v.cmd(n, out)
		if _, _, err := run(c, cfg.interval); err != nil {
			return res, fmt.Errorf("%s: %w", v.Name, err)
		}
		got, err := readObjects(dir)
		if err != nil {
			return res, fmt.Errorf("%s: %w", v.Name, err)
		}
		res.Verify[v.Name] = compareObjects(want, got, 5)
		os.RemoveAll(out)
	}

	// 3. The timed runs, interleaved; each repetition starts with the next
	// variant, so that no variant always runs first or last.
	for r := 0; r < reps; r++ {
		for i := range vs {
			v := vs[(i+r)%len(vs)]
			out := filepath.Join(cfg.work, fmt.Sprintf("out-%s-%d", v.Name, n))
			os.RemoveAll(out)
			c, _ := v.cmd(n, out)
			m, _, err := run(c, cfg.interval)
			if err != nil {
				return res, fmt.Errorf("%s: %w", v.Name, err)
			}
			res.Runs[v.Name] = append(res.Runs[v.Name], m)
			logf("  N=%d rep %d %-6s wall %7.3fs  cpu %7.3fs  peak %6.1f MB  (%d procs, %d samples)", n, r+1, v.Name,
				m.Wall.Seconds(), m.CPU().Seconds(), mb(m.PeakRSS), len(m.Procs), m.Samples)
			os.RemoveAll(out)
		}
	}
	for _, v := range vs {
		res.ReapCheck[v.Name] = reapCheck(res.Runs[v.Name])
	}
	return res, nil
}

// reapCheck compares the CPU time that the rusage of reaped processes
// reports with what the sampler last saw in /proc (a lower bound: it misses
// the time after the last sample). If Node processes escaped the wait, the
// rusage figure would be the smaller one.
func reapCheck(ms []measurement) string {
	var ru, sampled time.Duration
	procs := map[string]bool{}
	for _, m := range ms {
		ru += m.CPU()
		sampled += m.Sampled
		for _, p := range m.Procs {
			_, comm, _ := strings.Cut(p, " ")
			procs[comm] = true
		}
	}
	names := make([]string, 0, len(procs))
	for p := range procs {
		names = append(names, p)
	}
	ok := "ok"
	if ru < sampled*9/10 {
		ok = "MISSING CPU"
	}
	return fmt.Sprintf("%s: rusage %.2fs >= /proc %.2fs; processes %s", ok, ru.Seconds(), sampled.Seconds(), strings.Join(sortStrings(names), ", "))
}

func ints(s string) ([]int, error) {
	var out []int
	for _, f := range strings.Split(s, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return nil, fmt.Errorf("bad number %q in %q", f, s)
		}
		out = append(out, n)
	}
	return out, nil
}

func abs(p string) string {
	a, err := filepath.Abs(p)
	if err != nil {
		fatal(err)
	}
	return a
}

func logf(format string, args ...any) {
	fmt.Fprintf(os.Stderr, "bench: "+format+"\n", args...)
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, "bench:", err)
	os.Exit(1)
}
