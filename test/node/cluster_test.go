package node

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/x509"
	"encoding/hex"
	"encoding/json"
	"encoding/pem"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"time"

	corev1 "k8s.io/api/core/v1"
	apierrors "k8s.io/apimachinery/pkg/api/errors"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/types"
	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
)

// binaries maps a component to its path, as printed by build-bins.sh --paths.
type binaries map[string]string

func readBinaries() (binaries, error) {
	out, err := exec.Command("bash", "build-bins.sh", "--paths").Output()
	if err != nil {
		return nil, fmt.Errorf("build-bins.sh --paths: %w", err)
	}
	b := binaries{}
	var missing []string
	for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
		name, path, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		b[name] = path
		if _, err := os.Stat(path); err != nil {
			missing = append(missing, path)
		}
	}
	if len(missing) > 0 {
		return nil, fmt.Errorf("binaries missing (run test/node/build-bins.sh): %s", strings.Join(missing, ", "))
	}
	return b, nil
}

// cluster is the control plane and the one real node.
type cluster struct {
	dir     string
	bins    binaries
	ca      *ca
	cfg     *rest.Config
	client  kubernetes.Interface
	dynamic dynamic.Interface
	admin   string // admin kubeconfig
	procs   []*proc
	// policyEngine enforces NetworkPolicies; policyErr says why it does
	// not, if it does not.
	policyEngine *proc
	policyErr    error
	// gateImageID is the image ID (config digest) of the gate's image.
	gateImageID string
	// audit is the API server's audit log (audit_test.go).
	audit string
}

var (
	nodeOnce sync.Once
	theNode  *cluster
	nodeErr  error
)

// requireNode starts the cluster the first time it is asked for.
func requireNode() (*cluster, error) {
	nodeOnce.Do(func() {
		start := time.Now()
		theNode, nodeErr = startNode()
		if nodeErr == nil {
			fmt.Printf("node: cluster with one real node ready in %.1fs\n", time.Since(start).Seconds())
		}
	})
	return theNode, nodeErr
}

func stopNode() { stopAll() }

func (c *cluster) token(name string) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return name + "-" + hex.EncodeToString(b)
}

func startNode() (*cluster, error) {
	bins, err := readBinaries()
	if err != nil {
		return nil, err
	}
	c := &cluster{dir: filepath.Join(scratchRoot, "cluster"), bins: bins}
	pki := filepath.Join(c.dir, "pki")
	if err := os.MkdirAll(pki, 0o755); err != nil {
		return nil, err
	}
	if c.ca, err = newCA(pki); err != nil {
		return nil, err
	}
	steps := []struct {
		name string
		run  func() error
	}{
		{"control plane", c.startControlPlane},
		{"containerd", c.startContainerd},
		{"images", c.loadImages},
		{"kubelet", c.startKubelet},
		{"kube-proxy", c.startKubeProxy},
		{"network policy engine", c.startPolicyEngine},
		{"cluster DNS", c.startDNS},
		{"probe sentinel", c.startSentinel},
		{"CRDs and the stand-in for Kueue", c.prerequisites},
	}
	for _, s := range steps {
		t0 := time.Now()
		if err := s.run(); err != nil {
			return nil, fmt.Errorf("%s: %w", s.name, err)
		}
		fmt.Printf("node: %s up in %.1fs\n", s.name, time.Since(t0).Seconds())
	}
	return c, nil
}

// prerequisites installs what the target cluster is expected to have: the
// CRDs of the apps' custom resources and Kueue's LocalQueue, and the
// stand-in for Kueue's webhook.
func (c *cluster) prerequisites() error {
	if err := c.installCRDs(); err != nil {
		return err
	}
	return c.installKueueStandIn(context.Background())
}

func (c *cluster) start(name string, env []string, args ...string) (*proc, error) {
	p, err := startProc(name, c.bins[name], env, args...)
	if err != nil {
		return nil, err
	}
	c.procs = append(c.procs, p)
	return p, nil
}

// kubeconfig writes a kubeconfig for a bearer token and returns its path.
func (c *cluster) kubeconfig(name, token string) (string, error) {
	path := filepath.Join(c.dir, name+".kubeconfig")
	data := fmt.Sprintf(`apiVersion: v1
kind: Config
clusters:
- name: node
  cluster:
    server: https://%s:6443
    certificate-authority: %s
users:
- name: %s
  user:
    token: %s
contexts:
- name: node
  context: {cluster: node, user: %s}
current-context: node
`, nodeIP, c.ca.file, name, token, name)
	return path, os.WriteFile(path, []byte(data), 0o600)
}

func (c *cluster) startControlPlane() error {
	pki := filepath.Join(c.dir, "pki")
	etcdURL := "http://127.0.0.1:2379"
	if _, err := c.start("etcd", nil,
		"--name=node", "--data-dir="+filepath.Join(c.dir, "etcd"),
		"--listen-client-urls="+etcdURL, "--advertise-client-urls="+etcdURL,
		"--listen-peer-urls=http://127.0.0.1:2380", "--initial-advertise-peer-urls=http://127.0.0.1:2380",
		"--initial-cluster=node=http://127.0.0.1:2380",
		"--unsafe-no-fsync", "--log-level=warn"); err != nil {
		return err
	}

	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		return err
	}
	saKeyFile, saPubFile := filepath.Join(pki, "sa.key"), filepath.Join(pki, "sa.pub")
	pub, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		return err
	}
	if err := os.WriteFile(saKeyFile, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}), 0o600); err != nil {
		return err
	}
	if err := os.WriteFile(saPubFile, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pub}), 0o644); err != nil {
		return err
	}
	serving, servingKey, err := c.ca.issue(pki, "apiserver", "kube-apiserver", nil,
		nodeIP, apiService, "127.0.0.1", "kubernetes", "kubernetes.default", "kubernetes.default.svc", "kubernetes.default.svc.cluster.local")
	if err != nil {
		return err
	}
	kubeletClient, kubeletClientKey, err := c.ca.issue(pki, "apiserver-kubelet-client", "kube-apiserver-kubelet-client", []string{"system:masters"})
	if err != nil {
		return err
	}
	// Identities by bearer token (kubelet's is the node identity the Node
	// authorizer and NodeRestriction expect; kube-proxy's is bound to
	// system:node-proxier by the default RBAC policy).
	users := []struct{ name, user, groups string }{
		{"admin", "stagecraft-admin", "system:masters"},
		{"kubelet", "system:node:" + nodeName, "system:nodes"},
		{"kube-proxy", "system:kube-proxy", ""},
	}
	var tokens strings.Builder
	tok := map[string]string{}
	for _, u := range users {
		tok[u.name] = c.token(u.name)
		fmt.Fprintf(&tokens, "%s,%s,%s,%q\n", tok[u.name], u.user, u.user, u.groups)
	}
	tokenFile := filepath.Join(pki, "tokens.csv")
	if err := os.WriteFile(tokenFile, []byte(tokens.String()), 0o600); err != nil {
		return err
	}
	for _, u := range users {
		path, err := c.kubeconfig(u.name, tok[u.name])
		if err != nil {
			return err
		}
		if u.name == "admin" {
			c.admin = path
		}
	}

	audit, err := c.auditFlags(pki)
	if err != nil {
		return err
	}
	apiserver, err := c.start("kube-apiserver", nil, append(audit,
		"--etcd-servers="+etcdURL,
		"--bind-address=0.0.0.0", "--advertise-address="+nodeIP, "--secure-port=6443",
		"--tls-cert-file="+serving, "--tls-private-key-file="+servingKey,
		"--client-ca-file="+c.ca.file,
		"--kubelet-client-certificate="+kubeletClient, "--kubelet-client-key="+kubeletClientKey,
		"--kubelet-preferred-address-types=InternalIP",
		"--token-auth-file="+tokenFile,
		"--authorization-mode=Node,RBAC",
		"--enable-admission-plugins=NodeRestriction",
		"--service-account-key-file="+saPubFile,
		"--service-account-signing-key-file="+saKeyFile,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range="+serviceNet,
		"--allow-privileged=true",
		"--profiling=false",
	)...)
	if err != nil {
		return err
	}
	c.cfg = &rest.Config{
		Host:            "https://" + nodeIP + ":6443",
		BearerToken:     tok["admin"],
		TLSClientConfig: rest.TLSClientConfig{CAFile: c.ca.file},
		QPS:             100,
		Burst:           200,
	}
	if c.client, err = kubernetes.NewForConfig(c.cfg); err != nil {
		return err
	}
	if c.dynamic, err = dynamic.NewForConfig(c.cfg); err != nil {
		return err
	}
	if err := waitFor(90*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
		body, err := c.client.Discovery().RESTClient().Get().AbsPath("/readyz").DoRaw(context.Background())
		return err == nil && string(body) == "ok", err
	}); err != nil {
		return fmt.Errorf("kube-apiserver not ready: %w", err)
	}
	_ = apiserver

	if _, err := c.start("kube-controller-manager", nil,
		"--kubeconfig="+c.admin,
		"--service-account-private-key-file="+saKeyFile,
		"--root-ca-file="+c.ca.file,
		"--use-service-account-credentials=false",
		"--controllers=*",
		"--leader-elect=false",
		// The node's pod range (the CNI's), which kube-router reads.
		"--allocate-node-cidrs=true", "--cluster-cidr=10.244.0.0/16", "--node-cidr-mask-size=24",
		"--service-cluster-ip-range="+serviceNet,
		"--profiling=false",
	); err != nil {
		return err
	}
	if _, err := c.start("kube-scheduler", nil, "--kubeconfig="+c.admin, "--leader-elect=false", "--profiling=false"); err != nil {
		return err
	}
	// The default ServiceAccount of kube-system appears once the
	// controllers run.
	return waitFor(60*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
		_, err := c.client.CoreV1().ServiceAccounts("kube-system").Get(context.Background(), "default", metav1.GetOptions{})
		return err == nil, err
	})
}

func (c *cluster) startContainerd() error {
	dir := filepath.Join(c.dir, "containerd")
	cniDir := filepath.Join(c.dir, "cni")
	binDir := filepath.Join(c.dir, "bin")
	for _, d := range []string{dir, cniDir, binDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return err
		}
	}
	// containerd finds its shim on PATH.
	if err := os.Symlink(c.bins["containerd-shim-runc-v2"], filepath.Join(binDir, "containerd-shim-runc-v2")); err != nil {
		return err
	}
	// One bridge for the node's pods; host-local hands out addresses from
	// the node's pod range and keeps its leases under the private /run.
	cni := fmt.Sprintf(`{
  "cniVersion": "1.0.0",
  "name": "stagecraft",
  "plugins": [
    {"type": "bridge", "bridge": "cni0", "isGateway": true, "ipMasq": false, "hairpinMode": true,
     "ipam": {"type": "host-local", "dataDir": "/run/cni-ipam", "ranges": [[{"subnet": %q}]], "routes": [{"dst": "0.0.0.0/0"}]}},
    {"type": "portmap", "capabilities": {"portMappings": true}}
  ]
}
`, podCIDR)
	if err := os.WriteFile(filepath.Join(cniDir, "10-stagecraft.conflist"), []byte(cni), 0o644); err != nil {
		return err
	}
	config := fmt.Sprintf(`version = 3
root = %q
state = "/run/containerd"

[grpc]
  address = "/run/containerd/containerd.sock"

[plugins."io.containerd.cri.v1.images"]
  snapshotter = "overlayfs"
  [plugins."io.containerd.cri.v1.images".pinned_images]
    sandbox = %q

[plugins."io.containerd.cri.v1.runtime"]
  # Non-root containers may bind ports below 1024 (CoreDNS on 53).
  enable_unprivileged_ports = true
  # This machine withholds CAP_SYS_RESOURCE even from root, so no process
  # may lower its OOM score below 0 (kubelet asks -998 for sandboxes, -997
  # for Guaranteed pods): containerd clamps them to its own score (0), as
  # for a rootless node.
  restrict_oom_score_adj = true
  [plugins."io.containerd.cri.v1.runtime".containerd]
    default_runtime_name = "runc"
    [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc]
      runtime_type = "io.containerd.runc.v2"
      [plugins."io.containerd.cri.v1.runtime".containerd.runtimes.runc.options]
        BinaryName = %q
        SystemdCgroup = false
  [plugins."io.containerd.cri.v1.runtime".cni]
    bin_dirs = ["/usr/lib/cni"]
    conf_dir = %q
`, filepath.Join(dir, "root"), pauseImage, c.bins["runc"], cniDir)
	configFile := filepath.Join(dir, "config.toml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		return err
	}
	if _, err := c.start("containerd", []string{"PATH=" + binDir + ":" + os.Getenv("PATH")}, "--config="+configFile); err != nil {
		return err
	}
	return waitFor(30*time.Second, 100*time.Millisecond, c.procs, func() (bool, error) {
		out, err := c.ctr("version")
		return err == nil, fmt.Errorf("%v: %s", err, out)
	})
}

// ctr runs containerd's client in the namespace the CRI plugin uses.
func (c *cluster) ctr(args ...string) ([]byte, error) {
	return exec.Command(c.bins["ctr"], append([]string{"--address=/run/containerd/containerd.sock", "--namespace=k8s.io"}, args...)...).CombinedOutput()
}

func (c *cluster) startKubelet() error {
	dir := filepath.Join(c.dir, "kubelet")
	pki := filepath.Join(c.dir, "pki")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	serving, servingKey, err := c.ca.issue(pki, "kubelet", nodeName, nil, nodeIP, nodeName)
	if err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubelet.config.k8s.io/v1beta1
kind: KubeletConfiguration
# This host mounts cgroup v1 controllers (with an empty v2 hierarchy beside
# them); kubelet 1.35+ refuses to start there unless told (KEP-5573).
failCgroupV1: false
# No systemd on the machine: kubelet and runc write cgroups directly.
cgroupDriver: cgroupfs
cgroupRoot: %q
containerRuntimeEndpoint: unix:///run/containerd/containerd.sock
address: %s
port: 10250
readOnlyPort: 0
healthzBindAddress: 127.0.0.1
healthzPort: 10248
tlsCertFile: %q
tlsPrivateKeyFile: %q
authentication:
  anonymous: {enabled: false}
  webhook: {enabled: true}
  x509: {clientCAFile: %q}
authorization:
  mode: Webhook
clusterDNS: [%s]
clusterDomain: cluster.local
# Pods get only the cluster DNS: no resolver of the machine is copied in.
resolvConf: ""
podLogsDir: %q
# kubelet only checks the kernel settings it wants (see ns_test.go).
protectKernelDefaults: true
failSwapOn: false
serializeImagePulls: false
# The suite imports every image before the pods start; nothing may be
# garbage-collected or evicted under it on a busy shared disk.
imageGCHighThresholdPercent: 100
imageGCLowThresholdPercent: 99
evictionHard:
  memory.available: "50Mi"
  nodefs.available: "1%%"
  imagefs.available: "1%%"
  nodefs.inodesFree: "1%%"
# No CAP_SYS_RESOURCE here: kubelet cannot protect itself from the OOM
# killer (its default -999 fails).
oomScoreAdj: 0
nodeStatusUpdateFrequency: 4s
syncFrequency: 10s
fileCheckFrequency: 10s
`, cgroupRoot, nodeIP, serving, servingKey, c.ca.file, dnsService, filepath.Join(dir, "pod-logs"))
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		return err
	}
	if _, err := c.start("kubelet", nil,
		"--config="+configFile,
		"--kubeconfig="+filepath.Join(c.dir, "kubelet.kubeconfig"),
		"--root-dir="+filepath.Join(dir, "root"),
		"--hostname-override="+nodeName,
		"--node-ip="+nodeIP,
		"--v=1",
	); err != nil {
		return err
	}
	ctx := context.Background()
	if err := waitFor(90*time.Second, 500*time.Millisecond, c.procs, func() (bool, error) {
		n, err := c.client.CoreV1().Nodes().Get(ctx, nodeName, metav1.GetOptions{})
		if err != nil {
			return false, err
		}
		for _, cond := range n.Status.Conditions {
			if cond.Type == corev1.NodeReady {
				return cond.Status == corev1.ConditionTrue, fmt.Errorf("node Ready=%s: %s", cond.Status, cond.Message)
			}
		}
		return false, fmt.Errorf("node has no Ready condition")
	}); err != nil {
		return err
	}
	return c.advertise(ctx)
}

// advertise gives the node the extended resources the apps ask for (a GPU
// count): a device plugin would, but there is no device. Containers that ask
// for one get no device; the workload needs none.
func (c *cluster) advertise(ctx context.Context) error {
	patch := map[string]any{"status": map[string]any{"capacity": map[string]string{}}}
	capacity := patch["status"].(map[string]any)["capacity"].(map[string]string)
	for _, r := range extendedResources {
		capacity[r] = "16"
	}
	return patchJSON(ctx, c.client.CoreV1().RESTClient().Patch(types.MergePatchType).Resource("nodes").Name(nodeName).SubResource("status"), patch)
}

// extendedResources are advertised by the node for GPU-using stages.
var extendedResources = []string{"nvidia.com/gpu", "amd.com/gpu"}

func (c *cluster) startKubeProxy() error {
	dir := filepath.Join(c.dir, "kube-proxy")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	config := fmt.Sprintf(`apiVersion: kubeproxy.config.k8s.io/v1alpha1
kind: KubeProxyConfiguration
clientConnection:
  kubeconfig: %q
hostnameOverride: %s
bindAddress: %s
clusterCIDR: %s
mode: iptables
# Leave the kernel's connection tracking settings as they are: the global
# ones are not kube-proxy's to change on a shared machine.
conntrack:
  maxPerCore: 0
  min: 0
  tcpEstablishedTimeout: 0s
  tcpCloseWaitTimeout: 0s
oomScoreAdj: 0
metricsBindAddress: 127.0.0.1:10249
healthzBindAddress: 127.0.0.1:10256
`, filepath.Join(c.dir, "kube-proxy.kubeconfig"), nodeName, nodeIP, podCIDR)
	configFile := filepath.Join(dir, "config.yaml")
	if err := os.WriteFile(configFile, []byte(config), 0o644); err != nil {
		return err
	}
	if _, err := c.start("kube-proxy", nil, "--config="+configFile); err != nil {
		return err
	}
	return waitFor(30*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
		resp, err := http.Get("http://127.0.0.1:10256/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("kube-proxy /healthz: %s", resp.Status)
	})
}

// startPolicyEngine runs kube-router's NetworkPolicy controller alone (no
// routing, no service proxy: the bridge and kube-proxy do that). It
// enforces the policies with iptables chains and ipsets per pod. If it
// cannot run here, the policies are reported NOT PROVEN with its words.
func (c *cluster) startPolicyEngine() error {
	p, err := c.start("kube-router", nil,
		"--kubeconfig="+c.admin,
		"--hostname-override="+nodeName,
		"--run-firewall=true", "--run-router=false", "--run-service-proxy=false",
		"--enable-cni=false", "--enable-ipv6=false",
		"--service-cluster-ip-range="+serviceNet,
		"--health-port=20244", "--metrics-port=0",
		"--v=1",
	)
	if err != nil {
		return err
	}
	c.policyEngine = p
	err = waitFor(60*time.Second, 300*time.Millisecond, nil, func() (bool, error) {
		if err := p.check(); err != nil {
			return false, permanent{Err: err}
		}
		resp, err := http.Get("http://127.0.0.1:20244/healthz")
		if err != nil {
			return false, err
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK, fmt.Errorf("kube-router /healthz: %s", resp.Status)
	})
	if err != nil {
		c.policyErr = fmt.Errorf("kube-router did not become healthy: %w; last lines of its log:\n%s", err, p.tail(15))
		fmt.Printf("node: NetworkPolicy engine: %v\n", c.policyErr)
	}
	return nil
}

// ensure creates obj unless it exists.
func ensure(err error) error {
	if apierrors.IsAlreadyExists(err) {
		return nil
	}
	return err
}

func patchJSON(ctx context.Context, req *rest.Request, v any) error {
	return req.Body(mustJSON(v)).Do(ctx).Error()
}

func mustJSON(v any) []byte {
	b, err := json.Marshal(v)
	if err != nil {
		panic(err)
	}
	return b
}

// policySyncedAfter reports whether kube-router's log shows a full sync of
// its rules that started after t (klog lines: "I1129 21:14:19.123456 ...").
func (c *cluster) policySyncedAfter(t time.Time) bool {
	if c.policyEngine == nil {
		return false
	}
	data, err := os.ReadFile(c.policyEngine.LogPath)
	if err != nil {
		return false
	}
	var started time.Time
	for _, line := range strings.Split(string(data), "\n") {
		switch {
		case strings.Contains(line, "Starting sync of iptables"):
			started = klogTime(line, t.Year())
		case strings.Contains(line, "sync iptables took") && started.After(t):
			return true
		}
	}
	return false
}

func klogTime(line string, year int) time.Time {
	if len(line) < 21 {
		return time.Time{}
	}
	ts, err := time.ParseInLocation("0102 15:04:05.000000", line[1:21], time.Local)
	if err != nil {
		return time.Time{}
	}
	return ts.AddDate(year, 0, 0)
}
