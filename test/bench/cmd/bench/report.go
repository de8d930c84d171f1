package main

import (
	"debug/buildinfo"
	"encoding/json"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"time"
)

type environment struct {
	Date      time.Time
	CPU       string
	Memory    string
	Kernel    string
	Load      string
	LoadAfter string
	Go        string
	Node      string
	NPM       map[string]string // npm package -> version in native/node_modules
	Modules   map[string]string // Go module -> version in the synth binary
	Commit    string
	Elapsed   time.Duration
}

func envInfo(cfg *config) environment {
	e := environment{Date: time.Now().UTC(), Go: runtime.Version(), NPM: map[string]string{}, Modules: map[string]string{}}
	model := "unknown CPU"
	if b, err := os.ReadFile("/proc/cpuinfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
				model = strings.TrimSpace(v)
				break
			}
		}
	}
	e.CPU = fmt.Sprintf("%s, nproc %d", model, runtime.NumCPU())
	if b, err := os.ReadFile("/proc/meminfo"); err == nil {
		for _, l := range strings.Split(string(b), "\n") {
			var kb int64
			if _, err := fmt.Sscanf(l, "MemTotal: %d kB", &kb); err == nil {
				e.Memory = fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
			}
		}
	}
	if b, err := os.ReadFile("/proc/sys/kernel/osrelease"); err == nil {
		e.Kernel = strings.TrimSpace(string(b))
	}
	e.Load = loadAvg()
	if out, err := exec.Command("node", "--version").Output(); err == nil {
		e.Node = strings.TrimSpace(string(out))
	}
	for _, p := range []string{"cdk8s", "cdk8s-plus-28", "constructs"} {
		var pj struct{ Version string }
		if b, err := os.ReadFile(filepath.Join(cfg.native, "node_modules", p, "package.json")); err == nil && json.Unmarshal(b, &pj) == nil {
			e.NPM[p] = pj.Version
		}
	}
	if bi, err := buildinfo.ReadFile(filepath.Join(cfg.bin, "synth")); err == nil {
		for _, d := range bi.Deps {
			e.Modules[d.Path] = d.Version
		}
	}
	if out, err := exec.Command("git", "describe", "--always", "--dirty").Output(); err == nil {
		e.Commit = strings.TrimSpace(string(out))
	}
	return e
}

func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "load unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "load unknown"
	}
	return "load average " + strings.Join(f[:3], " ")
}

type stat struct {
	Wall, WallMin, WallMax, CPU time.Duration
	Peak                        int64
	N                           int
}

func median(ms []measurement) stat {
	if len(ms) == 0 {
		return stat{}
	}
	med := func(get func(measurement) float64) float64 {
		v := make([]float64, len(ms))
		for i, m := range ms {
			v[i] = get(m)
		}
		sort.Float64s(v)
		if len(v)%2 == 1 {
			return v[len(v)/2]
		}
		return (v[len(v)/2-1] + v[len(v)/2]) / 2
	}
	s := stat{
		Wall: time.Duration(med(func(m measurement) float64 { return float64(m.Wall) })),
		CPU:  time.Duration(med(func(m measurement) float64 { return float64(m.CPU()) })),
		Peak: int64(med(func(m measurement) float64 { return float64(m.PeakRSS) })),
		N:    len(ms),
	}
	s.WallMin, s.WallMax = ms[0].Wall, ms[0].Wall
	for _, m := range ms {
		s.WallMin = min(s.WallMin, m.Wall)
		s.WallMax = max(s.WallMax, m.Wall)
	}
	return s
}

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func sortStrings(s []string) []string { sort.Strings(s); return s }

func printSize(w io.Writer, r sizeResult) {
	fmt.Fprintf(w, "\nN=%d stages, %d objects (median of %d):\n", r.N, r.Objects, r.Reps)
	for _, name := range []string{"s", "s-l1", "n", "n-api", "f", "f-direct"} {
		ms, ok := r.Runs[name]
		if !ok {
			continue
		}
		s := median(ms)
		fmt.Fprintf(w, "  %-6s wall %7.3fs  cpu %7.3fs  peak %7.1f MB  %8.0f objects/s\n", name, s.Wall.Seconds(), s.CPU.Seconds(), mb(s.Peak), float64(r.Objects)/s.Wall.Seconds())
	}
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func ratio(a, b float64) string {
	if b == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f", a/b)
}

func yes(ok bool) string {
	if ok {
		return "**yes**"
	}
	return "**no**"
}

func report(env environment, vs []variant, results []sizeResult) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# stagecraft synth benchmark\n\n")
	p("Written by `test/bench/run.sh` (issue 7) on %s; rerun it rather than editing this file.\n\n", env.Date.Format("2006-01-02 15:04 MST"))

	p("## Machine and versions\n\n| | |\n|---|---|\n")
	p("| CPU | %s |\n| memory | %s |\n| kernel | Linux %s |\n", env.CPU, env.Memory, env.Kernel)
	p("| load | %s before, %s after (a shared machine: other work ran alongside) |\n", strings.TrimPrefix(env.Load, "load average "), strings.TrimPrefix(env.LoadAfter, "load average "))
	p("| Go | %s |\n| Node.js | %s |\n", env.Go, env.Node)
	mod := func(m string) string {
		if v, ok := env.Modules[m]; ok {
			return v
		}
		return "?"
	}
	p("| cdk8s | npm %s; Go module cdk8s-core-go %s |\n", env.NPM["cdk8s"], mod("github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"))
	p("| cdk8s-plus-28 | npm %s; Go module %s |\n", env.NPM["cdk8s-plus-28"], mod("github.com/cdk8s-team/cdk8s-plus-go/cdk8splus28/v2"))
	p("| constructs | npm %s; Go module %s |\n", env.NPM["constructs"], mod("github.com/aws/constructs-go/constructs/v10"))
	p("| jsii-runtime-go | %s |\n| sigs.k8s.io/yaml | %s |\n", mod("github.com/aws/jsii-runtime-go"), mod("sigs.k8s.io/yaml"))
	p("| stagecraft | %s |\n| benchmark run time | %s |\n\n", env.Commit, env.Elapsed.Round(time.Second))

	p("## What runs\n\n")
	p("The pipeline (`test/bench/pipegen`): N stages, a third each ProcessorStage (Service, Ingress, HPA, PDB), BatchStage and ScheduledStage; ")
	p("shared PipelineStorage per ten stages (one writer, readers after it: storage-inferred edges, wait init containers, ServiceAccount/Role/RoleBinding); ")
	p("each batch and scheduled stage calls a processor, every other processor calls another, some scheduled stages run after a batch stage.\n\n")
	p("| variant | program |\n|---|---|\n")
	for _, v := range vs {
		p("| `%s` | %s |\n", v.Name, v.Label)
	}
	p("\nEvery variant writes the same objects: the native and floor programs read the objects that stagecraft wrote ")
	p("(exported once, untimed, by parsing its YAML). Each timed run covers the whole process tree: wall time from start until the last ")
	p("process of the tree has exited; CPU = user+sys from the rusage of every process reaped (the driver is a child subreaper, so Node ")
	p("processes left behind by a Go program are adopted, waited for and counted); peak memory = the largest sum of RSS over the tree, ")
	p("sampled from /proc every few milliseconds. Variants are interleaved (each repetition starts with the next one) after one untimed ")
	p("warm-up run each (jsii package cache, page cache); medians are reported, with the wall-time range.\n\n")

	p("## Results\n\n")
	for _, r := range results {
		p("### %d stages: %d objects, %d KB of YAML (median of %d)\n\n", r.N, r.Objects, r.Bytes/1024, r.Reps)
		p("| variant | wall | wall min–max | CPU | peak memory | objects/s |\n|---|---:|---:|---:|---:|---:|\n")
		for _, v := range vs {
			s := median(r.Runs[v.Name])
			p("| `%s` %s | %s | %.2f–%.2f s | %s | %.0f MB | %.0f |\n", v.Name, v.Label, secs(s.Wall), s.WallMin.Seconds(), s.WallMax.Seconds(), secs(s.CPU), mb(s.Peak), float64(r.Objects)/s.Wall.Seconds())
		}
		p("\n")
	}

	get := func(r sizeResult, name string) stat { return median(r.Runs[name]) }
	p("### Ratios (median wall / median peak memory)\n\n")
	p("| stages | s / n wall | s / n CPU | s / n memory | s / n-api wall | s / n-api memory | s / f wall | s / f memory | s / f-direct wall | s / f-direct memory | s-l1 / s wall |\n|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		s, n, na, f, fd, l1 := get(r, "s"), get(r, "n"), get(r, "n-api"), get(r, "f"), get(r, "f-direct"), get(r, "s-l1")
		p("| %d | %s | %s | %s | %s | %s | %s | %s | %s | %s | %s |\n", r.N,
			ratio(s.Wall.Seconds(), n.Wall.Seconds()), ratio(s.CPU.Seconds(), n.CPU.Seconds()), ratio(float64(s.Peak), float64(n.Peak)),
			ratio(s.Wall.Seconds(), na.Wall.Seconds()), ratio(float64(s.Peak), float64(na.Peak)),
			ratio(s.Wall.Seconds(), f.Wall.Seconds()), ratio(float64(s.Peak), float64(f.Peak)),
			ratio(s.Wall.Seconds(), fd.Wall.Seconds()), ratio(float64(s.Peak), float64(fd.Peak)),
			ratio(l1.Wall.Seconds(), s.Wall.Seconds()))
	}
	p("\nOn a loaded machine a single-process program (n, f) waits for a core and its wall time grows; CPU time is the steadier figure to compare. ")
	p("stagecraft's tree is a Go process and two Node processes (jsii's relay and kernel) that mostly take turns.\n\n")

	byN := map[int]sizeResult{}
	for _, r := range results {
		byN[r.N] = r
	}
	r100, ok100 := byN[100]
	r1000, ok1000 := byN[1000]
	if ok100 && ok1000 {
		p("### Growth from 100 to 1000 stages (wall, median)\n\n| variant | 100 | 1000 | ratio |\n|---|---:|---:|---:|\n")
		for _, v := range vs {
			a, c := get(r100, v.Name), get(r1000, v.Name)
			p("| `%s` | %s | %s | %s |\n", v.Name, secs(a.Wall), secs(c.Wall), ratio(c.Wall.Seconds(), a.Wall.Seconds()))
		}
		p("\n(Objects grow %s×, from %d to %d.)\n\n", ratio(float64(r1000.Objects), float64(r100.Objects)), r100.Objects, r1000.Objects)
	}

	p("## Goals (issue 7)\n\n")
	if ok100 && ok1000 {
		s1, n1, f1 := get(r1000, "s"), get(r1000, "n"), get(r1000, "f-direct")
		s100, n100 := get(r100, "s"), get(r100, "n")
		na1 := get(r1000, "n-api")
		growth := s1.Wall.Seconds() / s100.Wall.Seconds()
		p("Native = `n` (cdk8s-plus-28 L1 classes, what a cdk8s app that declares these objects uses); `n-api` (plain ApiObject) is shown for reference.\n\n")
		p("| goal | measured | met |\n|---|---|---|\n")
		p("| 1000 stages: stagecraft wall ≤ native | %s vs %s (n-api %s); CPU %s vs %s | %s |\n", secs(s1.Wall), secs(n1.Wall), secs(na1.Wall), secs(s1.CPU), secs(n1.CPU), yes(s1.Wall <= n1.Wall))
		p("| 1000 stages: stagecraft memory ≤ native | %.0f MB vs %.0f MB (n-api %.0f MB) | %s |\n", mb(s1.Peak), mb(n1.Peak), mb(na1.Peak), yes(s1.Peak <= n1.Peak))
		p("| 1000 stages: stagecraft wall within 5× the floor (`f-direct`, the faster floor) | %s vs %s: %s× | %s |\n", secs(s1.Wall), secs(f1.Wall), ratio(s1.Wall.Seconds(), f1.Wall.Seconds()), yes(s1.Wall <= 5*f1.Wall))
		p("| 100 stages: stagecraft wall within 1.3× native | %s vs %s: %s×; CPU %s× | %s |\n", secs(s100.Wall), secs(n100.Wall), ratio(s100.Wall.Seconds(), n100.Wall.Seconds()), ratio(s100.CPU.Seconds(), n100.CPU.Seconds()), yes(s100.Wall.Seconds() <= 1.3*n100.Wall.Seconds()))
		p("| growth 100 → 1000 stages at most 10.5× | %.2f× | %s |\n\n", growth, yes(growth <= 10.5))
	} else {
		p("The goals are stated at 100 and 1000 stages; this run did not include both.\n\n")
	}

	p("## Checks\n\n")
	p("Output (each variant's warm-up run, parsed and compared with stagecraft's objects as a set, by kind/namespace/name and content):\n\n")
	for _, r := range results {
		for _, v := range vs {
			d := r.Verify[v.Name]
			if len(d) == 0 {
				p("- %d stages, `%s`: the same %d objects\n", r.N, v.Name, r.Objects)
				continue
			}
			p("- %d stages, `%s`: **differs**: %s\n", r.N, v.Name, strings.Join(d, "; "))
		}
	}
	p("\nCPU accounting (sum over the timed runs; rusage must not be below what /proc showed, else Node processes escaped the count):\n\n")
	for _, r := range results {
		for _, v := range vs {
			p("- %d stages, `%s`: %s\n", r.N, v.Name, r.ReapCheck[v.Name])
		}
	}
	p("\n<details><summary>Every timed run</summary>\n\n| stages | variant | rep | wall | main process wall | CPU | peak tree RSS | largest single VmHWM | samples | driver CPU (sampling) |\n|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		for _, v := range vs {
			for i, m := range r.Runs[v.Name] {
				p("| %d | `%s` | %d | %s | %s | %s | %.0f MB | %.0f MB | %d | %s |\n", r.N, v.Name, i+1, secs(m.Wall), secs(m.MainWall), secs(m.CPU()), mb(m.PeakRSS), mb(m.MaxHWM), m.Samples, secs(m.Overhead))
			}
		}
	}
	p("\n</details>\n")
	return b.String()
}
