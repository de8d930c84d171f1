package appgen

import "time"

// Dictionaries: valid values, values at the limits, and values known to
// have broken something once.

var (
	ids = []string{"p", "s", "a", "b", "c", "a-b", "b-c", "api", "embed", "train", "data", "models",
		"default", "default-deny", "allow-dns", "1st", "x.y", "A", "", "kube-system", "d" + rep("x", 51), rep("i", 52), rep("j", 62), rep("k", 63), rep("l", 64)}
	namespaces = []string{"", "", "ml", "ml-prod", "default", "kube-system", "a-b", rep("n", 63), "Bad_NS"}
	labelKeys  = []string{"team", "example.com/tier", "app.kubernetes.io/name", "controller-uid", "batch.kubernetes.io/job-name",
		"job-name", "batch.kubernetes.io/controller-uid", "statefulset.kubernetes.io/pod-name", "pod-template-hash", "kueue.x-k8s.io/queue-name",
		"bad key", "kubernetes.io/metadata.name", "a/b/c"}
	labelValues = []string{"data", "", "x", "a.b-c_d", rep("v", 63), rep("v", 64), "bad value!"}
	annKeys     = []string{"example.com/owner", "note", "seccomp.security.alpha.kubernetes.io/pod", "container.seccomp.security.alpha.kubernetes.io/main",
		"container.apparmor.security.beta.kubernetes.io/main", "kubectl.kubernetes.io/last-applied-configuration", "argocd.argoproj.io/sync-wave", "Bad Key"}
	annValues = []string{"x", "unconfined", "runtime/default", "localhost/p", "docker/default", "-5", ""}
	images    = []string{"ghcr.io/acme/worker:1.0.0", "ghcr.io/acme/worker@sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef",
		"busybox:1.36", "worker:latest", "worker", "UPPER/case:1", "registry.example.com:5000/a/b:2"}
	cpus       = []string{"100m", "250m", "1", "2", "1500m", "0.5", "1.1", "0", "-1", "1e3", "100u", "two"}
	memories   = []string{"256Mi", "512Mi", "1Gi", "8Gi", "512m", "1.1Gi", "1000", "1G", "0.5Gi", "100k", "1e9", "0"}
	ephemerals = []string{"64Mi", "1Gi", "2Gi", "10Gi", "100Mi", "1.5Gi", "500m", "0"}
	sizes      = []string{"1Gi", "10Gi", "100Gi", "1Ti", "500Mi", "1.5Gi", "1G", "0", "-1Gi", "ten", "512m"}
	paths      = []string{"/data", "/models", "/tmp", "/scratch", "/cache", "/home/user", "/var/lib/state", "/", "data", "/a/../b", "/dev/shm", "/data/x", "/a:b"}
	envNames   = []string{"LOG_LEVEL", "HOME", "JOB_COMPLETION_INDEX", "XDG_CACHE_HOME", "A", "1BAD", "with space", "a.b", "KUBERNETES_SERVICE_HOST", "API_ENDPOINT"}
	envValues  = []string{"info", "", "/home/user", "x\ty", "$(HOME)", "$$(X)", "\u0085"}
	cronSpecs  = []string{"0 2 * * *", "@daily", "@hourly", "*/15 8-18 * * 1-5", "0 2 30 2 *", "0 0 31 4 *", "0 0 29 2 *", "0 0 31 * *", "60 2 * * *",
		"TZ=UTC 0 2 * * *", "@every 1h", "0 0 31 2,4 *", "0 0 30,31 2 *", "* * * * *", "0 0 1 1 *", "@yearly", "0 0 L * *", "0 0 ? * *", ""}
	zones          = []string{"", "Etc/UTC", "Europe/Berlin", "America/New_York", "Local", "Mars/Base", "UTC"}
	cidrs          = []string{"10.20.0.0/16", "10.20.0.5/16", "0.0.0.0/0", "192.168.1.0/24", "192.168.1.7/32", "fd00::/8", "fd00::1/8", "::/0", "10.0.0.0/33", "10.0.0.0", "x", "010.0.0.0/8", ""}
	accelResources = []string{"", "nvidia.com/gpu", "amd.com/gpu", "gpu.intel.com/i915", "aws.amazon.com/neuron", "requests.nvidia.com/gpu", "nvida.com/gpu",
		"cpu", "memory", "nvidia.com/mig-1g.5gb", "example.com/fpga", "gpu", "kubernetes.io/gpu", "hugepages-2Mi", "nvidia.com/GPU"}
	protocols  = []string{"", "TCP", "UDP", "SCTP", "tcp", "QUIC"}
	modes      = []string{"ReadWriteOnce", "ReadWriteMany", "ReadOnlyMany", "ReadWriteOncePod", "RWX"}
	probePaths = []string{"/healthz", "/", "-", "healthz", "/a b", ""}
	hosts      = []string{"", "api.example.com", "*.example.com", "192.168.1.10", "Bad_Host", "a." + rep("b", 63) + ".com"}
	budgets    = []string{"", "1", "0", "50%", "100%", "4294967295", "4294967296", "2147483648", "-1", "101%", "1.5", "x"}
	counts     = []int32{0, 1, 2, 3, 4, 10, 100, 1000, 100000, 200000, 20000, -1, 2147483647}
	durations  = []time.Duration{0, time.Second, 30 * time.Second, time.Minute, time.Hour, 24 * time.Hour, 1500 * time.Millisecond, -time.Second, 80 * 365 * 24 * time.Hour}
)

func rep(s string, n int) string {
	out := make([]byte, 0, n*len(s))
	for i := 0; i < n; i++ {
		out = append(out, s...)
	}
	return string(out)
}
