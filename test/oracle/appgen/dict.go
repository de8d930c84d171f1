package appgen

import (
	"strings"
	"time"
)

// A dict holds the values of one prop: good ones, which stagecraft should
// accept on their own, and bad or risky ones (invalid, at a limit, or known
// to have broken something once), which only a risky choice picks.
type dict struct{ good, bad []string }

var (
	ids = dict{
		good: []string{"s", "api", "embed", "train", "data", "models", "a", "b", "c", "a-b", "b-c", "state", "x1", "default", "state-s-0", "data-s-0", "a-gate", "s-wait"},
		bad:  []string{"default-deny", "allow-dns", "1st", "x.y", "A", "", "kube-system", "d" + rep("x", 51), rep("i", 52), rep("j", 62), rep("k", 63), rep("l", 64)},
	}
	namespaces = dict{
		good: []string{"ml", "ml-prod", "a-b", "jobs"},
		bad:  []string{"default", "kube-system", rep("n", 63), "Bad_NS", "1ns"},
	}
	labelKeys = dict{
		good: []string{"team", "example.com/tier"},
		bad: []string{"kueue.x-k8s.io/queue-name", "kueue.x-k8s.io/priority-class", "app.kubernetes.io/name", "controller-uid", "batch.kubernetes.io/job-name", "job-name", "batch.kubernetes.io/controller-uid",
			"statefulset.kubernetes.io/pod-name", "pod-template-hash", "bad key", "kubernetes.io/metadata.name", "a/b/c"},
	}
	labelValues = dict{
		good: []string{"data", "x", "a.b-c_d", ""},
		bad:  []string{rep("v", 63), rep("v", 64), "bad value!"},
	}
	annKeys = dict{
		good: []string{"example.com/owner", "note", "argocd.argoproj.io/sync-options"},
		bad: []string{"seccomp.security.alpha.kubernetes.io/pod", "container.seccomp.security.alpha.kubernetes.io/main",
			"container.apparmor.security.beta.kubernetes.io/main", "kubectl.kubernetes.io/last-applied-configuration", "argocd.argoproj.io/sync-wave", "Bad Key"},
	}
	annValues = dict{
		good: []string{"x", "", "a b"},
		bad:  []string{"unconfined", "runtime/default", "localhost/p", "-5", "\u0085"},
	}
	images = dict{
		good: []string{"ghcr.io/acme/worker:1.0.0", "busybox:1.36", "registry.example.com:5000/a/b:2",
			"ghcr.io/acme/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef"},
		bad: []string{"worker:latest", "worker", "UPPER/case:1", ""},
	}
	cpus = dict{
		good: []string{"100m", "250m", "1", "2", "1500m", "0.5"},
		bad:  []string{"1.1", "0", "-1", "1e3", "100u", "two", "1m"},
	}
	memories = dict{
		good: []string{"256Mi", "512Mi", "1Gi", "8Gi", "1G", "0.5Gi", "1e9"},
		bad:  []string{"512m", "1.1Gi", "1000", "100k", "0", "1Mi"},
	}
	ephemerals = dict{
		good: []string{"64Mi", "1Gi", "2Gi", "10Gi"},
		bad:  []string{"100Mi", "1.5m", "500m", "0"},
	}
	sizes = dict{
		good: []string{"1Gi", "10Gi", "100Gi", "1Ti", "500Mi", "1G"},
		bad:  []string{"1.1Gi", "0", "-1Gi", "ten", "512m"},
	}
	scratchSizes = dict{
		good: []string{"1Gi", "100Mi", "512Mi"},
		bad:  []string{"2Gi", "10Gi", "512m", "0"},
	}
	scratchPaths = dict{
		good: []string{"/tmp", "/cache", "/scratch", "/home/user"},
		bad:  []string{"/data", "/", "tmp", "/a/../b", "/dev/shm", "/a:b"},
	}
	mountPaths = dict{
		good: []string{"/data", "/models", "/mnt/a", "/var/lib/in"},
		bad:  []string{"/tmp", "/", "data", "/a/../b", "/dev/shm", "/data/x", "/a:b", "/cache"},
	}
	envNames = dict{
		good: []string{"LOG_LEVEL", "XDG_CACHE_HOME", "A", "a.b", "HF_HOME"},
		bad:  []string{"HOME", "JOB_COMPLETION_INDEX", "1BAD", "with space", "KUBERNETES_SERVICE_HOST", "API_ENDPOINT", ""},
	}
	envValues = dict{
		good: []string{"info", "", "/home/user", "$(HOME)/.cache", "x y"},
		bad:  []string{"$$(X)", "\u0085", "x\ty", "hf_" + strings.Repeat("aB3", 12)},
	}
	// notSecrets are the field paths a NotSecrets list names.
	notSecrets = dict{good: []string{"Env[0].Value", "Args[1]", "Labels[team]"}, bad: []string{"Env", "Nope[0]"}}
	cronSpecs  = dict{
		good: []string{"0 2 * * *", "@daily", "@hourly", "*/15 8-18 * * 1-5", "0 0 29 2 *", "0 0 31 * *", "0 0 1 1 *", "@yearly", "* * * * *"},
		bad:  []string{"0 2 30 2 *", "0 0 31 4 *", "60 2 * * *", "TZ=UTC 0 2 * * *", "@every 1h", "@every -1s", "@every 0s", "@every 500ms", "@every 1.5s", "0 0 30,31 2 *", "0 0 L * *", "0 0 ? * *", ""},
	}
	zones = dict{
		good: []string{"", "Etc/UTC", "Europe/Berlin", "America/New_York", "UTC"},
		bad:  []string{"Local", "Mars/Base"},
	}
	cidrs = dict{
		good: []string{"10.20.0.0/16", "0.0.0.0/0", "192.168.1.0/24", "192.168.1.7/32", "fd00::/8", "::/0"},
		bad:  []string{"10.20.0.5/16", "fd00::1/8", "10.0.0.0/33", "10.0.0.0", "x", "010.0.0.0/8", "::ffff:10.0.0.0/104", ""},
	}
	accelResources = dict{
		good: []string{"", "nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "aws.amazon.com/neuron", "nvidia.com/mig-1g.5gb"},
		bad:  []string{"requests.nvidia.com/gpu", "nvida.com/gpu", "cpu", "memory", "gpu", "kubernetes.io/gpu", "hugepages-2Mi", "nvidia.com/GPU", "example.com/fpga"},
	}
	protocols = dict{
		good: []string{"", "TCP"},
		bad:  []string{"UDP", "SCTP", "tcp", "QUIC"},
	}
	modes = dict{
		good: []string{"ReadWriteMany", "ReadOnlyMany"},
		bad:  []string{"ReadWriteOnce", "ReadWriteOncePod", "RWX"},
	}
	hosts = dict{
		good: []string{"", "api.example.com", "*.example.com"},
		bad:  []string{"192.168.1.10", "Bad_Host", "a." + rep("b", 63) + ".com"},
	}
	budgets = dict{
		good: []string{"1", "50%", "25%"},
		bad:  []string{"0", "100%", "4294967295", "4294967296", "2147483648", "-1", "101%", "1.5", "x"},
	}
	portNames = dict{
		good: []string{"http", "grpc", "web"},
		bad:  []string{"Bad_Port", "", "metrics", "a-very-long-port-name"},
	}
	counts       = []int32{1, 2, 3, 4, 10}
	badCounts    = []int32{0, 100, 1000, 100000, 200000, 20000, 10001, -1, 2147483647}
	durations    = []time.Duration{0, time.Second, 30 * time.Second, time.Minute, time.Hour, 24 * time.Hour}
	badDurations = []time.Duration{1500 * time.Millisecond, -time.Second, 80 * 365 * 24 * time.Hour, 2147483647 * time.Second}
)

func rep(s string, n int) string {
	out := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		out = append(out, s...)
	}
	return string(out)
}
