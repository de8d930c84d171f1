// Copied from test/e2e (cluster_test.go), which is a module of its own built
// against another client-go: the control plane this suite runs Argo on.

package argo

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"encoding/hex"
	"encoding/pem"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"
	"k8s.io/client-go/tools/clientcmd"
	clientcmdapi "k8s.io/client-go/tools/clientcmd/api"
)

// binaries holds the paths printed by `build-bins.sh --paths`.
type binaries map[string]string

var (
	binsOnce sync.Once
	bins     binaries
	binsErr  error
)

// requireBinaries returns the control-plane binaries, failing the test if any
// is missing (run ./build-bins.sh first).
func requireBinaries(t *testing.T) binaries {
	t.Helper()
	binsOnce.Do(func() {
		out, err := exec.Command("bash", filepath.Join("..", "e2e", "build-bins.sh"), "--paths").Output()
		if err != nil {
			binsErr = fmt.Errorf("build-bins.sh --paths: %w", err)
			return
		}
		bins = binaries{}
		var missing []string
		for _, line := range strings.Split(strings.TrimSpace(string(out)), "\n") {
			name, path, ok := strings.Cut(line, "=")
			if !ok {
				continue
			}
			bins[name] = path
			if _, err := os.Stat(path); err != nil {
				missing = append(missing, path)
			}
		}
		if len(missing) > 0 {
			binsErr = fmt.Errorf("control-plane binaries missing (run test/e2e/build-bins.sh): %s", strings.Join(missing, ", "))
		}
	})
	if binsErr != nil {
		t.Fatal(binsErr)
	}
	return bins
}

// cluster is a control plane on loopback: etcd and kube-apiserver, and after
// startPipeline also kube-controller-manager, kube-scheduler and kwok.
type cluster struct {
	dir        string // scratch directory: data, keys, logs
	cfg        *rest.Config
	client     kubernetes.Interface
	kubeconfig string
	caFile     string
	saKey      string
	procs      []*proc
}

// freePort asks the kernel for an unused loopback port.
func freePort(t *testing.T) int {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("free port: %v", err)
	}
	defer l.Close()
	return l.Addr().(*net.TCPAddr).Port
}

// startControlPlane starts etcd and kube-apiserver and waits until the API
// server's /readyz answers ok. Both are stopped by t.Cleanup.
func startControlPlane(t *testing.T) *cluster {
	t.Helper()
	b := requireBinaries(t)
	start := time.Now()
	dir, err := os.MkdirTemp(scratchRoot, "cluster-")
	if err != nil {
		t.Fatal(err)
	}
	// Registered first, so it runs after the processes have been stopped.
	t.Cleanup(func() {
		if t.Failed() && os.Getenv("STAGECRAFT_E2E_KEEP") != "" {
			t.Logf("keeping %s", dir)
			return
		}
		os.RemoveAll(dir)
	})
	c := &cluster{dir: dir}

	// etcd
	clientPort, peerPort := freePort(t), freePort(t)
	etcdURL := fmt.Sprintf("http://127.0.0.1:%d", clientPort)
	peerURL := fmt.Sprintf("http://127.0.0.1:%d", peerPort)
	etcd := startProc(t, dir, "etcd", b["etcd"], nil,
		"--name=e2e",
		"--data-dir="+filepath.Join(dir, "etcd"),
		"--listen-client-urls="+etcdURL,
		"--advertise-client-urls="+etcdURL,
		"--listen-peer-urls="+peerURL,
		"--initial-advertise-peer-urls="+peerURL,
		"--initial-cluster=e2e="+peerURL,
		"--unsafe-no-fsync", // throw-away data: no need to wait for the disk
		"--log-level=warn",
	)
	c.procs = append(c.procs, etcd)
	if err := waitFor(30*time.Second, 100*time.Millisecond, c.procs, func() (bool, error) {
		resp, err := http.Get(etcdURL + "/health")
		if err != nil {
			return false, err
		}
		defer resp.Body.Close()
		body, _ := io.ReadAll(resp.Body)
		return resp.StatusCode == 200 && strings.Contains(string(body), `"health":"true"`), fmt.Errorf("etcd /health: %s", body)
	}); err != nil {
		t.Fatalf("etcd not healthy: %v", err)
	}

	// Keys and credentials.
	saKey, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	c.saKey = filepath.Join(dir, "sa.key")
	saPub := filepath.Join(dir, "sa.pub")
	pubDER, err := x509.MarshalPKIXPublicKey(&saKey.PublicKey)
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, c.saKey, pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(saKey)}))
	writeFile(t, saPub, pem.EncodeToMemory(&pem.Block{Type: "PUBLIC KEY", Bytes: pubDER}))
	tok := make([]byte, 16)
	if _, err := rand.Read(tok); err != nil {
		t.Fatal(err)
	}
	token := hex.EncodeToString(tok)
	tokenFile := filepath.Join(dir, "tokens.csv")
	writeFile(t, tokenFile, []byte(token+",e2e-admin,e2e-admin,system:masters\n"))

	// kube-apiserver
	port := freePort(t)
	certDir := filepath.Join(dir, "pki")
	apiserver := startProc(t, dir, "kube-apiserver", b["kube-apiserver"], nil,
		"--etcd-servers="+etcdURL,
		"--bind-address=127.0.0.1",
		"--advertise-address=127.0.0.1",
		fmt.Sprintf("--secure-port=%d", port),
		"--cert-dir="+certDir,
		"--token-auth-file="+tokenFile,
		"--authorization-mode=Node,RBAC",
		"--service-account-key-file="+saPub,
		"--service-account-signing-key-file="+c.saKey,
		"--service-account-issuer=https://kubernetes.default.svc.cluster.local",
		"--service-cluster-ip-range=10.96.0.0/16",
		// Like kubeadm: privileged containers are allowed by the cluster, so
		// Pod Security admission is what rejects them in restricted namespaces.
		"--allow-privileged=true",
		"--profiling=false",
	)
	c.procs = append(c.procs, apiserver)
	c.caFile = filepath.Join(certDir, "apiserver.crt")
	host := fmt.Sprintf("https://127.0.0.1:%d", port)
	err = waitFor(90*time.Second, 200*time.Millisecond, c.procs, func() (bool, error) {
		if _, err := os.Stat(c.caFile); err != nil {
			return false, err
		}
		if c.cfg == nil {
			c.cfg = &rest.Config{
				Host:            host,
				BearerToken:     token,
				TLSClientConfig: rest.TLSClientConfig{CAFile: c.caFile},
				QPS:             200,
				Burst:           400,
			}
		}
		return readyz(c.cfg)
	})
	if err != nil {
		t.Fatalf("kube-apiserver not ready: %v", err)
	}
	c.client = kubernetes.NewForConfigOrDie(c.cfg)
	c.kubeconfig = filepath.Join(dir, "kubeconfig")
	writeKubeconfig(t, c.kubeconfig, host, c.caFile, token)
	t.Logf("control plane ready in %v (apiserver %s, etcd %s, dir %s)", time.Since(start).Round(time.Millisecond), host, etcdURL, dir)
	return c
}

// readyz reports whether GET /readyz answers 200 "ok", checking the serving
// certificate against the CA the API server generated.
func readyz(cfg *rest.Config) (bool, error) {
	pemData, err := os.ReadFile(cfg.TLSClientConfig.CAFile)
	if err != nil {
		return false, err
	}
	pool := x509.NewCertPool()
	if !pool.AppendCertsFromPEM(pemData) {
		return false, fmt.Errorf("no certificates in %s", cfg.TLSClientConfig.CAFile)
	}
	hc := &http.Client{
		Timeout:   5 * time.Second,
		Transport: &http.Transport{TLSClientConfig: &tls.Config{RootCAs: pool}},
	}
	req, err := http.NewRequestWithContext(context.Background(), "GET", cfg.Host+"/readyz", nil)
	if err != nil {
		return false, err
	}
	req.Header.Set("Authorization", "Bearer "+cfg.BearerToken)
	resp, err := hc.Do(req)
	if err != nil {
		return false, err
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode == 200 && strings.TrimSpace(string(body)) == "ok" {
		return true, nil
	}
	return false, fmt.Errorf("/readyz %d: %s", resp.StatusCode, body)
}

// startPipeline starts kube-controller-manager, kube-scheduler and kwok, the
// parts that turn applied objects into (simulated) running pods.
func (c *cluster) startPipeline(t *testing.T) {
	t.Helper()
	b := requireBinaries(t)
	kcm := startProc(t, c.dir, "kube-controller-manager", b["kube-controller-manager"], nil,
		"--kubeconfig="+c.kubeconfig,
		"--service-account-private-key-file="+c.saKey,
		"--root-ca-file="+c.caFile,
		"--use-service-account-credentials=false",
		"--controllers=*",
		"--leader-elect=false",
		"--secure-port=0",
		// kwok's node heartbeats lag when the machine is loaded; the
		// default 40s would mark the nodes, and every pod on them, NotReady.
		"--node-monitor-grace-period=10m",
	)
	sched := startProc(t, c.dir, "kube-scheduler", b["kube-scheduler"], nil,
		"--kubeconfig="+c.kubeconfig,
		"--leader-elect=false",
		"--secure-port=0",
	)
	stages, err := filepath.Glob(filepath.Join("..", "e2e", "testdata", "kwok", "*.yaml"))
	if err != nil || len(stages) == 0 {
		t.Fatalf("no kwok stage files in test/e2e/testdata/kwok (%v)", err)
	}
	kwokArgs := []string{
		"--kubeconfig=" + c.kubeconfig,
		"--manage-all-nodes=false",
		"--manage-nodes-with-annotation-selector=" + kwokNodeAnnotation + "=fake",
		"--cidr=10.244.0.1/16",
		"--node-ip=10.255.0.1",
	}
	for _, s := range stages {
		abs, _ := filepath.Abs(s)
		kwokArgs = append(kwokArgs, "--config="+abs)
	}
	kwokDir := filepath.Join(c.dir, "kwok")
	if err := os.MkdirAll(kwokDir, 0o755); err != nil {
		t.Fatal(err)
	}
	kwok := startProc(t, c.dir, "kwok", b["kwok"], []string{"KWOK_WORKDIR=" + kwokDir}, kwokArgs...)
	c.procs = append(c.procs, kcm, sched, kwok)
}

func writeFile(t *testing.T, path string, data []byte) {
	t.Helper()
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
}

func writeKubeconfig(t *testing.T, path, host, caFile, token string) {
	t.Helper()
	cfg := clientcmdapi.NewConfig()
	cfg.Clusters["e2e"] = &clientcmdapi.Cluster{Server: host, CertificateAuthority: caFile}
	cfg.AuthInfos["e2e-admin"] = &clientcmdapi.AuthInfo{Token: token}
	cfg.Contexts["e2e"] = &clientcmdapi.Context{Cluster: "e2e", AuthInfo: "e2e-admin"}
	cfg.CurrentContext = "e2e"
	if err := clientcmd.WriteToFile(*cfg, path); err != nil {
		t.Fatal(err)
	}
}
