package main

import (
	"fmt"
	"strings"
	"time"
)

// report writes RESULTS.md; history, the hand-kept record of earlier
// results (HISTORY.md), goes in whole after the goals.
func report(env environment, vs []variant, results []sizeResult, history string) string {
	var b strings.Builder
	p := func(format string, args ...any) { fmt.Fprintf(&b, format, args...) }
	p("# stagecraft synth benchmark\n\n")
	p("Written by `make bench` (`test/bench/run.sh`) on %s; rerun it rather than editing this file. ", env.Date.Format("2006-01-02 15:04 MST"))
	p("Its section *Before and after* is copied from [HISTORY.md](HISTORY.md), which is kept by hand.\n\n")
	machine(p, env)
	whatRuns(p, vs)
	p("## Results\n\n")
	for _, r := range results {
		sizeTable(p, vs, r)
	}
	ratios(p, results)
	growthAndGoals(p, results)
	if history != "" {
		p("%s\n", strings.TrimRight(history, "\n"))
	}
	checks(p, vs, results)
	runs(p, vs, results)
	return b.String()
}

type printer func(format string, args ...any)

func machine(p printer, env environment) {
	p("## Machine and versions\n\n| | |\n|---|---|\n")
	p("| CPU | %s |\n| memory | %s |\n| kernel | Linux %s |\n", env.CPU, env.Memory, env.Kernel)
	p("| load | %s before, %s after (a shared machine: other work ran alongside; each run's load is in the tables) |\n",
		strings.TrimPrefix(env.Load, "load average "), strings.TrimPrefix(env.LoadAfter, "load average "))
	p("| Go | %s |\n| Node.js | %s |\n", env.Go, env.Node)
	mod := func(m string) string {
		if v, ok := env.Modules[m]; ok {
			return v
		}
		return "?"
	}
	p("| cdk8s | npm %s; Go module cdk8s-core-go %s |\n", env.NPM["cdk8s"], mod("github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"))
	p("| constructs | npm %s; Go module %s |\n", env.NPM["constructs"], mod("github.com/aws/constructs-go/constructs/v10"))
	p("| jsii-runtime-go | %s |\n| sigs.k8s.io/yaml | %s |\n", mod("github.com/aws/jsii-runtime-go"), mod("sigs.k8s.io/yaml"))
	p("| stagecraft | %s |\n| benchmark run time | %s |\n\n", env.Commit, env.Elapsed.Round(time.Second))
}

func whatRuns(p printer, vs []variant) {
	p("## What runs\n\n")
	p("The pipeline (`test/bench/pipegen`): N stages, a third each ProcessorStage (Service, Ingress, HPA, PDB), BatchStage and ScheduledStage; ")
	p("shared PipelineStorage per ten stages (one writer, readers after it: storage-inferred edges, wait init containers, ServiceAccount/Role/RoleBinding); ")
	p("each batch and scheduled stage calls a processor, every other processor calls another, some scheduled stages run after a batch stage.\n\n")
	p("| variant | program |\n|---|---|\n")
	for _, v := range vs {
		p("| `%s` | %s |\n", v.Name, v.Label)
	}
	p("\nEvery variant writes the same objects: the native and floor programs read the objects that stagecraft wrote ")
	p("(exported once, untimed, by parsing its YAML). Native = cdk8s %s in JavaScript creating each object as a plain `ApiObject` ", "2.69.10")
	p("(the cdk8s version that stagecraft's Go module wraps). Each timed run covers the whole process tree: wall time from start until the last ")
	p("process of the tree has exited; CPU = user+sys from the rusage of every process reaped (the driver is a child subreaper, so Node ")
	p("processes left behind by a Go program are adopted, waited for and counted); memory is summed over every process of the tree ")
	p("(stagecraft: the Go program and jsii's Node.js processes): *memory* is the largest sum of RSS sampled from /proc every few ")
	p("milliseconds, *peaks summed* the sum of each process's own peak RSS (VmHWM), which no sampling interval can miss and which is at ")
	p("least the true peak of the sum. Variants are interleaved after one untimed warm-up run each (jsii package cache, page cache): each ")
	p("repetition runs every variant once, one after the other, starting with the next variant each time; the ratios are taken pair by ")
	p("pair within a repetition (the median, with the range), so a change in the machine's load affects both sides of a ratio alike.\n\n")
}

func sizeTable(p printer, vs []variant, r sizeResult) {
	p("### %d stages: %d objects, %d KB of YAML (median of %d)\n\n", r.N, r.Objects, r.Bytes/1024, r.Reps)
	p("| variant | wall | wall min–max | CPU | memory | peaks summed | load (1 min) |\n|---|---:|---:|---:|---:|---:|---:|\n")
	for _, v := range vs {
		s := median(r.Runs[v.Name])
		p("| `%s` %s | %s | %.2f–%.2f s | %s | %.0f MiB | %.0f MiB | %.1f–%.1f |\n", v.Name, v.Label, secs(s.Wall), s.WallMin.Seconds(), s.WallMax.Seconds(),
			secs(s.CPU), mb(s.Peak), mb(s.HWMSum), s.LoadMin, s.LoadMax)
	}
	p("\n")
}

func ratios(p printer, results []sizeResult) {
	p("### Ratios, paired (median of the repetitions' ratios, with their range)\n\n")
	p("| stages | s / n CPU | s / n wall | s / n memory | s / n peaks summed | s / f-direct CPU | s / f-direct wall | s / f wall |\n|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		s, n, f, fd := r.Runs["s"], r.Runs["n"], r.Runs["f"], r.Runs["f-direct"]
		p("| %d | %s | %s | %s | %s | %s | %s | %s |\n", r.N, paired(s, n, cpuOf), paired(s, n, wallOf), paired(s, n, peakOf), paired(s, n, hwmSumOf),
			paired(s, fd, cpuOf), paired(s, fd, wallOf), paired(s, f, wallOf))
	}
	p("\nOn a loaded machine a single-process program (n, f) waits for a core and its wall time grows; CPU time is the steadier figure to compare.\n\n")
}

func growthAndGoals(p printer, results []sizeResult) {
	byN := map[int]sizeResult{}
	for _, r := range results {
		byN[r.N] = r
	}
	r100, ok100 := byN[100]
	r1000, ok1000 := byN[1000]
	p("## Goals (issue 19)\n\n")
	if !ok100 || !ok1000 {
		p("The goals are stated at 100 and 1000 stages; this run did not include both.\n\n")
		return
	}
	get := func(r sizeResult, name string) stat { return median(r.Runs[name]) }
	s100, s1, n1 := get(r100, "s"), get(r1000, "s"), get(r1000, "n")
	cpu100, wall100 := paired(r100.Runs["s"], r100.Runs["n"], cpuOf), paired(r100.Runs["s"], r100.Runs["n"], wallOf)
	cpu1 := paired(r1000.Runs["s"], r1000.Runs["n"], cpuOf)
	growth := s1.Wall.Seconds() / s100.Wall.Seconds()
	growthCPU := s1.CPU.Seconds() / s100.CPU.Seconds()
	p("| goal | measured | met |\n|---|---|---|\n")
	p("| 100 stages: CPU ≤ native | s / n %s | %s |\n", cpu100, yes(cpu100.Median <= 1))
	p("| 100 stages: wall ≤ native | s / n %s | %s |\n", wall100, yes(wall100.Median <= 1))
	p("| 1000 stages: CPU ≤ half of native's | s / n %s | %s |\n", cpu1, yes(cpu1.Median <= 0.5))
	p("| 1000 stages: memory summed over every process ≤ native's | peaks summed %.0f MiB vs %.0f MiB; sampled %.0f MiB vs %.0f MiB | %s |\n",
		mb(s1.HWMSum), mb(n1.HWMSum), mb(s1.Peak), mb(n1.Peak), yes(s1.HWMSum <= n1.HWMSum))
	p("| growth 100 → 1000 stages under 10× | wall %.2f× (CPU %.2f×; objects %.2f×) | %s |\n\n", growth, growthCPU,
		float64(r1000.Objects)/float64(r100.Objects), yes(growth < 10))
}

func checks(p printer, vs []variant, results []sizeResult) {
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
}

func runs(p printer, vs []variant, results []sizeResult) {
	p("\n<details><summary>Every timed run</summary>\n\n")
	p("| stages | variant | rep | load | wall | CPU | memory | peaks summed | largest process | processes | samples | driver CPU (sampling) |\n")
	p("|---:|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|\n")
	for _, r := range results {
		for _, v := range vs {
			for i, m := range r.Runs[v.Name] {
				p("| %d | `%s` | %d | %.1f | %s | %s | %.0f MiB | %.0f MiB | %.0f MiB | %d | %d | %s |\n", r.N, v.Name, i+1, m.Load, secs(m.Wall), secs(m.CPU()),
					mb(m.PeakRSS), mb(m.HWMSum), mb(m.MaxHWM), len(m.Procs), m.Samples, secs(m.Overhead))
			}
		}
	}
	p("\n</details>\n")
}
