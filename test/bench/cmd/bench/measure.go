package main

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// measurement is one run of a program, for its whole process tree.
type measurement struct {
	Wall     time.Duration // start until the last process of the tree has exited
	MainWall time.Duration // start until the direct child exited
	User     time.Duration // user CPU of every process of the tree (wait4 rusage)
	Sys      time.Duration // system CPU of the tree
	PeakRSS  int64         // bytes: the largest sum of the tree's RSS seen by the sampler, or MaxHWM if larger
	MaxHWM   int64         // bytes: the largest VmHWM (peak RSS) of one process of the tree, as last seen
	HWMSum   int64         // bytes: the sum of every process's VmHWM, an upper bound of the tree's peak
	Load     float64       // the machine's 1-minute load average when the run started
	Sampled  time.Duration // CPU of the tree as last seen in /proc (a lower bound, for checking)
	Samples  int
	Procs    []string      // the processes seen, "pid comm"
	Reaped   int           // processes the driver reaped (the child, and orphans it adopted)
	Overhead time.Duration // CPU the driver itself used meanwhile (mostly sampling)
}

func (m measurement) CPU() time.Duration { return m.User + m.Sys }

// becomeSubreaper makes this process adopt the orphaned descendants of its
// children (jsii's Node processes when a Go program exits without
// jsii.Close), so that it can wait for them and count their CPU time.
func becomeSubreaper() error {
	return unix.Prctl(unix.PR_SET_CHILD_SUBREAPER, 1, 0, 0, 0)
}

var clockTick = time.Second / 100 // USER_HZ; 100 on Linux

// run runs cmd and measures its process tree. The sampler reads /proc
// every interval: the summed RSS of every descendant of this process, and
// each one's CPU time. CPU comes from the rusage of every process this
// process reaps: the direct child, whose rusage includes the descendants it
// waited for, and any orphan it adopted as subreaper.
func run(cmd *exec.Cmd, interval time.Duration) (measurement, []byte, error) {
	var m measurement
	var stderr bytes.Buffer
	if cmd.Stderr == nil {
		cmd.Stderr = &stderr
	}
	self := os.Getpid()
	stop := make(chan struct{})
	done := make(chan struct{})
	peak, seen := int64(0), map[int]procStat{}
	samples := 0
	m.Load = load1()
	var self0 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self0)
	start := time.Now()
	if err := cmd.Start(); err != nil {
		return m, nil, err
	}
	sm := &sampler{root: self, known: map[int]bool{cmd.Process.Pid: true}, seen: seen, buf: make([]byte, 4096)}
	go func() {
		defer close(done)
		t := time.NewTicker(interval)
		defer t.Stop()
		for {
			// A full scan of /proc (about a millisecond of CPU) finds new
			// descendants; in between only the known ones are read.
			rss := sm.sample(samples%scanEvery == 0)
			samples++
			if rss > peak {
				peak = rss
			}
			select {
			case <-stop:
				return
			case <-t.C:
			}
		}
	}()
	werr := cmd.Wait()
	m.MainWall = time.Since(start)
	addRusage(&m, cmd.ProcessState.SysUsage())
	m.Reaped = 1
	// Reap orphans adopted from the tree until none is left.
	deadline := time.Now().Add(60 * time.Second)
	for {
		var ws unix.WaitStatus
		var ru unix.Rusage
		pid, err := unix.Wait4(-1, &ws, unix.WNOHANG, &ru)
		if err == unix.ECHILD {
			break
		}
		if err != nil && err != unix.EINTR {
			break
		}
		if pid > 0 {
			m.Reaped++
			addRusage(&m, &syscall.Rusage{Utime: syscall.Timeval(ru.Utime), Stime: syscall.Timeval(ru.Stime)})
			continue
		}
		if time.Now().After(deadline) {
			close(stop)
			<-done
			return m, stderr.Bytes(), fmt.Errorf("descendants still running 60s after the program exited")
		}
		time.Sleep(200 * time.Microsecond)
	}
	m.Wall = time.Since(start)
	close(stop)
	<-done
	// One process's own peak (VmHWM) is a lower bound of the tree's: it
	// counts when the peak fell between two samples. (ru_maxrss cannot
	// serve: Linux carries the parent's high-water mark over fork and exec
	// into it, so it reports at least the driver's own RSS.)
	for _, st := range seen {
		m.MaxHWM = max(m.MaxHWM, st.hwmKB*1024)
		m.HWMSum += st.hwmKB * 1024
	}
	m.PeakRSS = max(peak, m.MaxHWM)
	m.Samples = samples
	var self1 unix.Rusage
	unix.Getrusage(unix.RUSAGE_SELF, &self1)
	m.Overhead = time.Duration(self1.Utime.Nano() + self1.Stime.Nano() - self0.Utime.Nano() - self0.Stime.Nano())
	var cpu int64
	for pid, s := range seen {
		cpu += s.cpuTicks
		m.Procs = append(m.Procs, fmt.Sprintf("%d %s", pid, s.comm))
	}
	m.Sampled = time.Duration(cpu) * clockTick
	if werr != nil {
		return m, stderr.Bytes(), fmt.Errorf("%v: %w: %s", cmd.Args, werr, lastLines(stderr.String(), 5))
	}
	return m, stderr.Bytes(), nil
}

func addRusage(m *measurement, ru any) {
	r, ok := ru.(*syscall.Rusage)
	if !ok || r == nil {
		return
	}
	m.User += time.Duration(r.Utime.Nano())
	m.Sys += time.Duration(r.Stime.Nano())
}

type procStat struct {
	comm     string
	ppid     int
	state    string
	cpuTicks int64
	rssPages int64
	hwmKB    int64
}

var pageSize = int64(os.Getpagesize())

// scanEvery is how many samples apart the sampler looks for new
// descendants. jsii's Node processes live for the whole run, and a process
// that would be missed lives under scanEvery*interval and hardly matters
// for the peak.
const scanEvery = 10

// sampler follows root's descendants in /proc.
type sampler struct {
	root  int
	known map[int]bool     // live descendants
	seen  map[int]procStat // every descendant seen, as last seen
	buf   []byte
}

// sample returns the summed RSS of the known descendants, after a scan of
// /proc for new ones when full is set, and records each one's CPU time and
// VmHWM.
func (s *sampler) sample(full bool) int64 {
	if full {
		s.scan()
	}
	var rss int64
	for pid := range s.known {
		st, ok := readStat(pid, s.buf)
		if !ok || st.state == "Z" {
			delete(s.known, pid)
			continue
		}
		rss += st.rssPages * pageSize
		st.hwmKB = readHWM(pid, s.buf)
		if prev, ok := s.seen[pid]; ok {
			st.cpuTicks = max(st.cpuTicks, prev.cpuTicks)
			st.hwmKB = max(st.hwmKB, prev.hwmKB)
		}
		s.seen[pid] = st
	}
	return rss
}

func (s *sampler) scan() {
	d, err := os.Open("/proc")
	if err != nil {
		return
	}
	names, _ := d.Readdirnames(-1)
	d.Close()
	all := make(map[int]procStat, len(names))
	for _, n := range names {
		pid, err := strconv.Atoi(n)
		if err != nil || pid == s.root {
			continue
		}
		if st, ok := readStat(pid, s.buf); ok {
			all[pid] = st
		}
	}
	for pid := range all {
		if descends(pid, s.root, all) {
			s.known[pid] = true
		}
	}
}

func descends(pid, root int, all map[int]procStat) bool {
	for i := 0; i < 64; i++ {
		st, ok := all[pid]
		if !ok {
			return false
		}
		if st.ppid == root {
			return true
		}
		pid = st.ppid
	}
	return false
}

// readFile reads a small /proc file into buf with bare system calls (an
// os.File would also register it with the poller).
func readFile(path string, buf []byte) (string, bool) {
	fd, err := syscall.Open(path, syscall.O_RDONLY|syscall.O_CLOEXEC, 0)
	if err != nil {
		return "", false
	}
	defer syscall.Close(fd)
	n := 0
	for n < len(buf) {
		k, err := syscall.Read(fd, buf[n:])
		if err != nil || k <= 0 {
			break
		}
		n += k
	}
	return string(buf[:n]), true
}

// readStat parses /proc/<pid>/stat: comm, state, ppid, utime+stime and rss.
func readStat(pid int, buf []byte) (procStat, bool) {
	s, ok := readFile("/proc/"+strconv.Itoa(pid)+"/stat", buf)
	if !ok {
		return procStat{}, false
	}
	open, close := strings.IndexByte(s, '('), strings.LastIndexByte(s, ')')
	if open < 0 || close < 0 {
		return procStat{}, false
	}
	f2 := strings.Fields(s[close+1:])
	// f2[0] is field 3 (state); ppid is field 4, utime 14, stime 15, rss 24.
	if len(f2) < 22 {
		return procStat{}, false
	}
	ppid, _ := strconv.Atoi(f2[1])
	ut, _ := strconv.ParseInt(f2[11], 10, 64)
	stime, _ := strconv.ParseInt(f2[12], 10, 64)
	rss, _ := strconv.ParseInt(f2[21], 10, 64)
	return procStat{comm: s[open+1 : close], state: f2[0], ppid: ppid, cpuTicks: ut + stime, rssPages: rss}, true
}

// readHWM returns VmHWM from /proc/<pid>/status, in kB.
func readHWM(pid int, buf []byte) int64 {
	s, ok := readFile("/proc/"+strconv.Itoa(pid)+"/status", buf)
	if !ok {
		return 0
	}
	i := strings.Index(s, "\nVmHWM:")
	if i < 0 {
		return 0
	}
	f := strings.Fields(s[i+len("\nVmHWM:"):])
	if len(f) == 0 {
		return 0
	}
	kb, _ := strconv.ParseInt(f[0], 10, 64)
	return kb
}

// load1 returns the 1-minute load average, or -1.
func load1() float64 {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return -1
	}
	f := strings.Fields(string(b))
	if len(f) == 0 {
		return -1
	}
	v, err := strconv.ParseFloat(f[0], 64)
	if err != nil {
		return -1
	}
	return v
}

func lastLines(s string, n int) string {
	lines := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, "\n")
}
