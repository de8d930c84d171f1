// Command gate-image builds the gate's container image from this module:
// one static binary, /gate, as the entrypoint, run as user 65532, on no
// base image. The build is reproducible: the same source and Go version
// give the same image digest.
//
//	gate-image -o build/gate-image.tar [-tag ghcr.io/stagecraft-dev/gate:0.1.0] [-arch amd64]
//	gate-image -push -tag REGISTRY/gate:VERSION [-arch amd64,arm64]
//
// -o writes a docker-archive tarball for one architecture, which
// `ctr images import` and `docker load` read; -push pushes an image index
// for every architecture given, with the credentials of ~/.docker/config.json.
package main

import (
	"archive/tar"
	"bytes"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"time"

	"github.com/google/go-containerregistry/pkg/authn"
	"github.com/google/go-containerregistry/pkg/name"
	v1 "github.com/google/go-containerregistry/pkg/v1"
	"github.com/google/go-containerregistry/pkg/v1/empty"
	"github.com/google/go-containerregistry/pkg/v1/mutate"
	"github.com/google/go-containerregistry/pkg/v1/remote"
	"github.com/google/go-containerregistry/pkg/v1/tarball"
	"github.com/google/go-containerregistry/pkg/v1/types"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

func main() {
	out := flag.String("o", "", "write a docker-archive tarball of the image to this file")
	tag := flag.String("tag", gate.Image, "the image's reference")
	arch := flag.String("arch", runtime.GOARCH, "comma-separated architectures (linux)")
	push := flag.Bool("push", false, "push the image (an index of every -arch) to -tag")
	flag.Parse()
	if err := run(*out, *tag, strings.Split(*arch, ","), *push); err != nil {
		fmt.Fprintln(os.Stderr, "gate-image:", err)
		os.Exit(1)
	}
}

func run(out, tag string, arches []string, push bool) error {
	ref, err := name.NewTag(tag)
	if err != nil {
		return err
	}
	if (out == "") == !push {
		return fmt.Errorf("give -o FILE or -push")
	}
	var images []v1.Image
	for _, a := range arches {
		img, err := build(a)
		if err != nil {
			return err
		}
		images = append(images, img)
	}
	if push {
		idx := v1.ImageIndex(empty.Index)
		idx = mutate.IndexMediaType(idx, types.OCIImageIndex)
		for i, img := range images {
			idx = mutate.AppendManifests(idx, mutate.IndexAddendum{Add: img, Descriptor: v1.Descriptor{Platform: &v1.Platform{OS: "linux", Architecture: arches[i]}}})
		}
		return remote.WriteIndex(ref, idx, remote.WithAuthFromKeychain(authn.DefaultKeychain))
	}
	if len(images) != 1 {
		return fmt.Errorf("a tarball holds one architecture; got %v", arches)
	}
	if err := os.MkdirAll(filepath.Dir(out), 0o755); err != nil {
		return err
	}
	if err := tarball.WriteToFile(out, ref, images[0]); err != nil {
		return err
	}
	d, _ := images[0].Digest()
	fmt.Printf("%s %s (linux/%s) -> %s\n", ref, d, arches[0], out)
	return nil
}

// build compiles the gate for linux/arch and wraps it in an image.
func build(arch string) (v1.Image, error) {
	dir, err := os.MkdirTemp("", "gate-image-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(dir)
	bin := filepath.Join(dir, "gate")
	cmd := exec.Command("go", "build", "-trimpath", "-ldflags=-s -w -buildid=", "-o", bin, "./cmd/gate")
	cmd.Env = append(os.Environ(), "CGO_ENABLED=0", "GOOS=linux", "GOARCH="+arch, "GOFLAGS=-buildvcs=false")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("go build for linux/%s: %w", arch, err)
	}
	data, err := os.ReadFile(bin)
	if err != nil {
		return nil, err
	}
	return image(data, arch)
}

// image wraps the gate binary in an image for linux/arch.
func image(bin []byte, arch string) (v1.Image, error) {
	layer, err := tarball.LayerFromOpener(opener(layerTar(bin)))
	if err != nil {
		return nil, err
	}
	img, err := mutate.AppendLayers(mutate.MediaType(empty.Image, types.OCIManifestSchema1), layer)
	if err != nil {
		return nil, err
	}
	img = mutate.ConfigMediaType(img, types.OCIConfigJSON)
	// The config names the layer by its uncompressed digest: container
	// runtimes refuse an image whose config lists fewer diff IDs than its
	// manifest has layers.
	diffID, err := layer.DiffID()
	if err != nil {
		return nil, err
	}
	user := strconv.Itoa(gate.User)
	return mutate.ConfigFile(img, &v1.ConfigFile{
		OS: "linux", Architecture: arch, Created: v1.Time{Time: time.Unix(0, 0).UTC()},
		Config: v1.Config{Entrypoint: []string{"/gate"}, User: user + ":" + user, WorkingDir: "/",
			Labels: map[string]string{"org.opencontainers.image.source": "https://github.com/stagecraft-dev/stagecraft"}},
		RootFS: v1.RootFS{Type: "layers", DiffIDs: []v1.Hash{diffID}},
	})
}

// layerTar is the image's only layer: /gate, owned by root, executable by
// everyone, with a fixed time.
func layerTar(bin []byte) []byte {
	var b bytes.Buffer
	tw := tar.NewWriter(&b)
	_ = tw.WriteHeader(&tar.Header{Name: "gate", Mode: 0o755, Size: int64(len(bin)), ModTime: time.Unix(0, 0), Typeflag: tar.TypeReg, Format: tar.FormatPAX})
	_, _ = tw.Write(bin)
	_ = tw.Close()
	return b.Bytes()
}

func opener(b []byte) tarball.Opener {
	return func() (io.ReadCloser, error) { return io.NopCloser(bytes.NewReader(b)), nil }
}
