package node

import (
	"bufio"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"syscall"
	"testing"
	"time"

	"golang.org/x/sys/unix"
)

// The whole node runs inside namespaces of its own, made by re-running this
// test binary as the first process of new PID, mount and network
// namespaces:
//   - PID: when the test binary ends, however it ends, the kernel kills every
//     process of the node (containerd's shims and the containers, which
//     detach from their parents, included);
//   - mount: /run is a private tmpfs (containerd's state, the CNI's network
//     namespaces, NRI's socket) and every mount kubelet makes vanishes with
//     the namespace;
//   - network: the node's address, bridge, iptables and nftables rules exist
//     only there; nothing is routed out of it, and nothing on the machine
//     changes.
// Only cgroups are global: the outer process creates one cgroup root for the
// node and removes it when the inner one has ended.

const (
	envInner   = "STAGECRAFT_NODE_INNER"   // set in the re-run test binary
	envScratch = "STAGECRAFT_NODE_SCRATCH" // its scratch directory
	envCgroup  = "STAGECRAFT_NODE_CGROUP"  // the node's cgroup root, e.g. /stagecraft-node-123
)

var (
	scratchRoot string // scratch directory of the run (inner process)
	cgroupRoot  string // cgroup path under every hierarchy (inner process)
)

func TestMain(m *testing.M) {
	if os.Getenv(envInner) == "" {
		os.Exit(outer())
	}
	os.Exit(inner(m))
}

// outer prepares what must exist outside the namespaces (scratch directory,
// cgroup root), runs the test binary again inside new namespaces, and cleans
// up after it.
func outer() int {
	if os.Geteuid() != 0 {
		fmt.Fprintln(os.Stderr, "node: the node suite runs a kubelet and containerd and must run as root")
		return 1
	}
	scratch, err := os.MkdirTemp("", "stagecraft-node-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
		return 1
	}
	cg := fmt.Sprintf("/stagecraft-node-%d", os.Getpid())
	mounts, err := cgroupMounts()
	if err == nil {
		err = createCgroupRoot(mounts, cg)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "node: cgroup root:", err)
		return 1
	}

	cmd := exec.Command(os.Args[0], os.Args[1:]...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = nil, os.Stdout, os.Stderr
	cmd.Env = append(os.Environ(), envInner+"=1", envScratch+"="+scratch, envCgroup+"="+cg)
	cmd.SysProcAttr = &syscall.SysProcAttr{
		Cloneflags: syscall.CLONE_NEWPID | syscall.CLONE_NEWNS | syscall.CLONE_NEWNET | syscall.CLONE_NEWUTS,
		// Pdeathsig goes with the thread that forked: keep it.
		Pdeathsig: syscall.SIGKILL,
	}
	runtime.LockOSThread()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, syscall.SIGINT, syscall.SIGTERM, syscall.SIGHUP)
	if err := cmd.Start(); err != nil {
		fmt.Fprintln(os.Stderr, "node: start the test binary in new namespaces:", err)
		return 1
	}
	go func() {
		for s := range sigs {
			_ = cmd.Process.Signal(s)
		}
	}()
	err = cmd.Wait()
	code := 0
	if err != nil {
		code = 1
		var exit *exec.ExitError
		if errors.As(err, &exit) && exit.ExitCode() > 0 {
			code = exit.ExitCode()
		}
	}
	if err := removeCgroupRoot(mounts, cg); err != nil {
		fmt.Fprintln(os.Stderr, "node: remove cgroups:", err)
		code = 1
	}
	if code != 0 && os.Getenv("STAGECRAFT_NODE_KEEP") != "" {
		fmt.Fprintln(os.Stderr, "node: keeping", scratch)
	} else if err := os.RemoveAll(scratch); err != nil {
		fmt.Fprintln(os.Stderr, "node:", err)
	}
	return code
}

// cgroupMounts lists the mount points of the cgroup hierarchies (v1 and the
// v2 hierarchy a hybrid host mounts beside them).
func cgroupMounts() ([]string, error) {
	f, err := os.Open("/proc/self/mountinfo")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var mounts []string
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		// 36 35 98:0 /mnt1 /mnt2 rw,noatime master:1 - cgroup cgroup rw,cpu
		fields := strings.Fields(sc.Text())
		sep := -1
		for i, f := range fields {
			if f == "-" {
				sep = i
				break
			}
		}
		if sep < 0 || sep+1 >= len(fields) {
			continue
		}
		if fs := fields[sep+1]; fs == "cgroup" || fs == "cgroup2" {
			mounts = append(mounts, fields[4])
		}
	}
	return mounts, sc.Err()
}

func createCgroupRoot(mounts []string, cg string) error {
	for _, m := range mounts {
		dir := filepath.Join(m, cg)
		if err := os.Mkdir(dir, 0o755); err != nil {
			return err
		}
		// A new cpuset cgroup has no CPUs and no memory nodes: no task could
		// join it. Give it its parent's.
		for _, f := range []string{"cpuset.cpus", "cpuset.mems"} {
			if v, err := os.ReadFile(filepath.Join(m, f)); err == nil {
				if err := os.WriteFile(filepath.Join(dir, f), v, 0o644); err != nil {
					return err
				}
			}
		}
	}
	return nil
}

// removeCgroupRoot removes the node's cgroups, deepest first. Killed tasks
// leave their cgroups a moment later, so it retries for a while.
func removeCgroupRoot(mounts []string, cg string) error {
	deadline := time.Now().Add(30 * time.Second)
	for {
		var left []string
		for _, m := range mounts {
			var dirs []string
			_ = filepath.WalkDir(filepath.Join(m, cg), func(p string, d os.DirEntry, err error) error {
				if err == nil && d.IsDir() {
					dirs = append(dirs, p)
				}
				return nil
			})
			sort.Sort(sort.Reverse(sort.StringSlice(dirs)))
			for _, d := range dirs {
				if err := syscall.Rmdir(d); err != nil && !errors.Is(err, os.ErrNotExist) {
					left = append(left, d)
				}
			}
		}
		if len(left) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("still busy: %s", strings.Join(left, ", "))
		}
		time.Sleep(200 * time.Millisecond)
	}
}

// inner runs as PID 1 of the new namespaces: it makes the mounts and the
// network the node needs, runs the tests and stops the node.
func inner(m *testing.M) int {
	scratchRoot = os.Getenv(envScratch)
	cgroupRoot = os.Getenv(envCgroup)
	if err := setupMounts(); err != nil {
		fmt.Fprintln(os.Stderr, "node: mounts:", err)
		return 1
	}
	if err := setupNetwork(); err != nil {
		fmt.Fprintln(os.Stderr, "node: network:", err)
		return 1
	}
	if err := unix.Sethostname([]byte(nodeName)); err != nil {
		fmt.Fprintln(os.Stderr, "node: hostname:", err)
		return 1
	}
	handleSignals()
	code := m.Run()
	stopNode()
	return code
}

// setupMounts gives the node a /proc of its PID namespace, a /sys of its
// network namespace (with the host's cgroup hierarchies), a private /run,
// and the kernel settings kubelet insists on (see the README).
func setupMounts() error {
	if err := unix.Mount("", "/", "", unix.MS_REC|unix.MS_PRIVATE, ""); err != nil {
		return fmt.Errorf("make / private: %w", err)
	}
	if err := unix.Mount("proc", "/proc", "proc", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount /proc: %w", err)
	}
	if err := unix.Mount("tmpfs", "/run", "tmpfs", unix.MS_NOSUID|unix.MS_NODEV, "mode=755"); err != nil {
		return fmt.Errorf("mount /run: %w", err)
	}
	// A sysfs mounted from this network namespace shows its interfaces
	// (the CNI bridge plugin reads them there); the cgroup hierarchies
	// are mounts on the old /sys and are moved along.
	sys := "/run/stagecraft/sys"
	if err := os.MkdirAll(sys, 0o755); err != nil {
		return err
	}
	if err := unix.Mount("sysfs", sys, "sysfs", unix.MS_NOSUID|unix.MS_NODEV|unix.MS_NOEXEC, ""); err != nil {
		return fmt.Errorf("mount sysfs: %w", err)
	}
	if err := unix.Mount("/sys/fs/cgroup", sys+"/fs/cgroup", "", unix.MS_BIND|unix.MS_REC, ""); err != nil {
		return fmt.Errorf("bind cgroups: %w", err)
	}
	if err := unix.Unmount("/sys", unix.MNT_DETACH); err != nil {
		return fmt.Errorf("unmount /sys: %w", err)
	}
	if err := unix.Mount(sys, "/sys", "", unix.MS_MOVE, ""); err != nil {
		return fmt.Errorf("move sysfs: %w", err)
	}
	// kubelet sets these host-wide settings to its liking unless they
	// already have its values; with protectKernelDefaults it only reads
	// them. They are shown to it, read-only, in this mount namespace alone.
	for file, value := range map[string]string{
		"/proc/sys/vm/overcommit_memory": "1",
		"/proc/sys/kernel/panic":         "10",
		"/proc/sys/kernel/panic_on_oops": "1",
	} {
		fake := filepath.Join("/run/stagecraft/sysctl", strings.ReplaceAll(strings.TrimPrefix(file, "/proc/sys/"), "/", "."))
		if err := os.MkdirAll(filepath.Dir(fake), 0o755); err != nil {
			return err
		}
		if err := os.WriteFile(fake, []byte(value+"\n"), 0o444); err != nil {
			return err
		}
		if err := unix.Mount(fake, file, "", unix.MS_BIND, ""); err != nil {
			return fmt.Errorf("bind %s: %w", file, err)
		}
		if err := unix.Mount("", file, "", unix.MS_BIND|unix.MS_REMOUNT|unix.MS_RDONLY, ""); err != nil {
			return fmt.Errorf("read-only %s: %w", file, err)
		}
	}
	return nil
}

// The node's address lives on one end of a veth pair whose other end goes
// nowhere: a default route exists (kube-proxy and kubelet want one) but no
// packet can leave the namespace.
const (
	nodeName   = "stagecraft-node"
	nodeIP     = "172.30.0.2"
	podCIDR    = "10.244.0.0/24"
	serviceNet = "10.96.0.0/16"
	apiService = "10.96.0.1"
	dnsService = "10.96.0.10"
)

func setupNetwork() error {
	cmds := [][]string{
		{"ip", "link", "set", "lo", "up"},
		{"ip", "link", "add", "node0", "type", "veth", "peer", "name", "node0-peer"},
		{"ip", "addr", "add", nodeIP + "/24", "dev", "node0"},
		{"ip", "link", "set", "node0", "up"},
		{"ip", "link", "set", "node0-peer", "up"},
		{"ip", "route", "add", "default", "via", "172.30.0.1", "dev", "node0"},
	}
	for _, c := range cmds {
		if out, err := exec.Command(c[0], c[1:]...).CombinedOutput(); err != nil {
			return fmt.Errorf("%s: %v: %s", strings.Join(c, " "), err, out)
		}
	}
	// Routing between pods and to Services; bridged pod traffic must go
	// through iptables (kube-proxy) and nftables (the policy engine).
	for file, value := range map[string]string{
		"/proc/sys/net/ipv4/ip_forward":                 "1",
		"/proc/sys/net/bridge/bridge-nf-call-iptables":  "1",
		"/proc/sys/net/bridge/bridge-nf-call-ip6tables": "1",
	} {
		if err := os.WriteFile(file, []byte(value), 0o644); err != nil {
			return err
		}
	}
	return nil
}
