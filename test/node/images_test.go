package node

import (
	"archive/tar"
	"bytes"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"sort"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/tarball"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// Images without a registry: the suite builds each image it needs from a
// binary (one layer holding it) with go-containerregistry, writes them as
// one tarball with every name they go by, and imports it into containerd.
// The apps' images all resolve to the workload image, so that
// imagePullPolicy IfNotPresent never pulls. The gate program's containers
// run stagecraft's gate image itself: the tarball `make gate-image` builds
// (build-bins.sh caches it), imported under its own reference, gate.Image.
const (
	pauseImage   = "stagecraft.test/pause:v1"
	corednsImage = "stagecraft.test/coredns:v1"
	workloadPath = "/workload"
)

// buildWorkload compiles ./workload into dir.
func buildWorkload(dir string) (string, error) {
	out := filepath.Join(dir, "workload")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w", "-o", out, "./workload")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0")
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("go build ./workload: %v\n%s", err, b)
	}
	return out, nil
}

// binaryImage is an image of one static binary at path, run as entrypoint.
// It sets no user: the pods' security context must choose one.
func binaryImage(bin, path string, entrypoint []string) (v1.Image, error) {
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	var buf bytes.Buffer
	tw := tar.NewWriter(&buf)
	// Directories the image has, owned by root like any image's.
	for _, d := range dirsOf(path) {
		if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeDir, Name: strings.TrimPrefix(d, "/") + "/", Mode: 0o755, ModTime: time.Unix(0, 0)}); err != nil {
			return nil, err
		}
	}
	if err := tw.WriteHeader(&tar.Header{Typeflag: tar.TypeReg, Name: strings.TrimPrefix(path, "/"), Mode: 0o755, Size: int64(len(data)), ModTime: time.Unix(0, 0)}); err != nil {
		return nil, err
	}
	if _, err := tw.Write(data); err != nil {
		return nil, err
	}
	if err := tw.Close(); err != nil {
		return nil, err
	}
	layerBytes := buf.Bytes()
	layer, err := tarball.LayerFromOpener(func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(layerBytes)), nil })
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(empty.Image, layer)
	if err != nil {
		return nil, err
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		return nil, err
	}
	cfg = cfg.DeepCopy()
	cfg.Architecture, cfg.OS = "amd64", "linux"
	cfg.Config.Entrypoint = entrypoint
	cfg.Config.Env = []string{"PATH=/usr/local/bin:/usr/bin:/bin"}
	return mutate.ConfigFile(img, cfg)
}

// dirsOf lists the parent directories of path, outermost first.
func dirsOf(path string) []string {
	var dirs []string
	for d := filepath.Dir(path); d != "/" && d != "."; d = filepath.Dir(d) {
		dirs = append([]string{d}, dirs...)
	}
	return dirs
}

// importImages writes every image under each of its names into one tarball
// and imports it into containerd.
func (c *cluster) importImages(images map[string]v1.Image) error {
	refs := map[name.Reference]v1.Image{}
	var names []string
	for n, img := range images {
		tag, err := name.NewTag(n, name.WeakValidation)
		if err != nil {
			// A digest names content: no image built here can have it.
			return fmt.Errorf("image %q: %w (an image pinned by digest cannot be stood in for)", n, err)
		}
		refs[tag] = img
		names = append(names, n)
	}
	sort.Strings(names)
	file := filepath.Join(c.dir, fmt.Sprintf("images-%d.tar", time.Now().UnixNano()))
	if err := tarball.MultiRefWriteToFile(file, refs); err != nil {
		return err
	}
	defer os.Remove(file)
	if out, err := c.ctr("images", "import", "--platform=linux/amd64", file); err != nil {
		return fmt.Errorf("ctr images import: %v: %s", err, out)
	}
	out, err := c.ctr("images", "ls", "-q")
	if err != nil {
		return fmt.Errorf("ctr images ls: %v: %s", err, out)
	}
	have := map[string]bool{}
	for _, l := range strings.Fields(string(out)) {
		have[l] = true
	}
	for _, n := range names {
		if ref := containerdName(n); !have[ref] {
			return fmt.Errorf("image %s is not in containerd after the import (have %v)", ref, sortedKeys(have))
		}
	}
	return nil
}

// loadImages imports the images of the cluster itself: the sandbox (pause)
// image, CoreDNS's and the workload image under its own name (for the probe
// sentinel). The apps' image names are imported per app (imagesFor).
func (c *cluster) loadImages() error {
	dir := filepath.Join(c.dir, "images")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	bin, err := buildWorkload(dir)
	if err != nil {
		return err
	}
	c.bins["workload"] = bin
	work, err := binaryImage(bin, workloadPath, []string{workloadPath})
	if err != nil {
		return err
	}
	pause, err := binaryImage(bin, workloadPath, []string{workloadPath, "-pause"})
	if err != nil {
		return err
	}
	dns, err := binaryImage(c.bins["coredns"], "/coredns", []string{"/coredns"})
	if err != nil {
		return err
	}
	if err := c.importImages(map[string]v1.Image{pauseImage: pause, corednsImage: dns, sentinelImage: work}); err != nil {
		return err
	}
	return c.importGateImage()
}

// importGateImage imports the gate's image, as built by `make gate-image`,
// under its exact reference, and records its image ID (the digest of its
// config), which the pods that run it must report.
func (c *cluster) importGateImage() error {
	file := c.bins["gate-image"]
	img, err := tarball.ImageFromPath(file, nil)
	if err != nil {
		return fmt.Errorf("read the gate's image %s: %w", file, err)
	}
	id, err := img.ConfigName()
	if err != nil {
		return err
	}
	if out, err := c.ctr("images", "import", "--platform=linux/amd64", file); err != nil {
		return fmt.Errorf("ctr images import %s: %v: %s", file, err, out)
	}
	out, err := c.ctr("images", "ls", "-q")
	if err != nil {
		return fmt.Errorf("ctr images ls: %v: %s", err, out)
	}
	if !slices.Contains(strings.Fields(string(out)), gate.Image) {
		return fmt.Errorf("image %s is not in containerd after importing %s", gate.Image, file)
	}
	c.gateImageID = id.String()
	fmt.Printf("node: gate image %s (image ID %s) imported from %s\n", gate.Image, c.gateImageID, file)
	return nil
}

// importAppImages makes every image name of an app's workloads resolve to
// the workload image. The gate's image is never among them.
func (c *cluster) importAppImages(workloadNames []string) error {
	if len(workloadNames) == 0 {
		return nil
	}
	img, err := binaryImage(c.bins["workload"], workloadPath, []string{workloadPath})
	if err != nil {
		return err
	}
	images := map[string]v1.Image{}
	for _, n := range workloadNames {
		if containerdName(n) == containerdName(gate.Image) {
			return fmt.Errorf("an app container that does not run the gate program uses the gate's image %s", n)
		}
		images[n] = img
	}
	return c.importImages(images)
}

func sortedKeys[V any](m map[string]V) []string {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	return keys
}

// containerdName is the name containerd lists an image under: Docker Hub
// as docker.io, official images under library/.
func containerdName(n string) string {
	tag, err := name.NewTag(n, name.WeakValidation)
	if err != nil {
		return n
	}
	reg := tag.RegistryStr()
	if reg == name.DefaultRegistry {
		reg = "docker.io"
	}
	return reg + "/" + tag.RepositoryStr() + ":" + tag.TagStr()
}
