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
	for _, p := range []string{"cdk8s", "constructs"} {
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
	Peak, HWMSum                int64
	LoadMin, LoadMax            float64
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
		Wall:   time.Duration(med(func(m measurement) float64 { return float64(m.Wall) })),
		CPU:    time.Duration(med(func(m measurement) float64 { return float64(m.CPU()) })),
		Peak:   int64(med(func(m measurement) float64 { return float64(m.PeakRSS) })),
		HWMSum: int64(med(func(m measurement) float64 { return float64(m.HWMSum) })),
		N:      len(ms),
	}
	s.WallMin, s.WallMax = ms[0].Wall, ms[0].Wall
	s.LoadMin, s.LoadMax = ms[0].Load, ms[0].Load
	for _, m := range ms {
		s.WallMin = min(s.WallMin, m.Wall)
		s.WallMax = max(s.WallMax, m.Wall)
		s.LoadMin = min(s.LoadMin, m.Load)
		s.LoadMax = max(s.LoadMax, m.Load)
	}
	return s
}

// pairs are the ratios a/b of one figure over the repetitions, each taken
// between the runs of one repetition, which ran one after the other.
type pairs struct{ Median, Min, Max float64 }

func paired(a, b []measurement, get func(measurement) float64) pairs {
	var rs []float64
	for i := 0; i < len(a) && i < len(b); i++ {
		if d := get(b[i]); d > 0 {
			rs = append(rs, get(a[i])/d)
		}
	}
	if len(rs) == 0 {
		return pairs{}
	}
	sort.Float64s(rs)
	m := rs[len(rs)/2]
	if len(rs)%2 == 0 {
		m = (rs[len(rs)/2-1] + rs[len(rs)/2]) / 2
	}
	return pairs{Median: m, Min: rs[0], Max: rs[len(rs)-1]}
}

func (p pairs) String() string {
	if p.Median == 0 {
		return "–"
	}
	return fmt.Sprintf("%.2f (%.2f–%.2f)", p.Median, p.Min, p.Max)
}

var (
	cpuOf    = func(m measurement) float64 { return m.CPU().Seconds() }
	wallOf   = func(m measurement) float64 { return m.Wall.Seconds() }
	peakOf   = func(m measurement) float64 { return float64(m.PeakRSS) }
	hwmSumOf = func(m measurement) float64 { return float64(m.HWMSum) }
)

func mb(b int64) float64 { return float64(b) / (1 << 20) }

func sortStrings(s []string) []string { sort.Strings(s); return s }

func printSize(w io.Writer, r sizeResult) {
	fmt.Fprintf(w, "\nN=%d stages, %d objects (median of %d):\n", r.N, r.Objects, r.Reps)
	for _, name := range []string{"s", "n", "f", "f-direct"} {
		ms, ok := r.Runs[name]
		if !ok {
			continue
		}
		s := median(ms)
		fmt.Fprintf(w, "  %-8s wall %7.3fs  cpu %7.3fs  memory %6.1f MiB (peaks summed %6.1f MiB)\n", name, s.Wall.Seconds(), s.CPU.Seconds(), mb(s.Peak), mb(s.HWMSum))
	}
	if s, n := r.Runs["s"], r.Runs["n"]; len(s) > 0 && len(n) > 0 {
		fmt.Fprintf(w, "  s / n paired: cpu %s  wall %s  memory %s\n", paired(s, n, cpuOf), paired(s, n, wallOf), paired(s, n, hwmSumOf))
	}
}

func secs(d time.Duration) string {
	if d < 10*time.Second {
		return fmt.Sprintf("%.3f s", d.Seconds())
	}
	return fmt.Sprintf("%.2f s", d.Seconds())
}

func yes(ok bool) string {
	if ok {
		return "**yes**"
	}
	return "**no**"
}
