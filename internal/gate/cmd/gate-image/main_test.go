package main

import "testing"

// The image must be one a container runtime accepts: among others, its
// config must name every layer by its uncompressed digest (containerd
// refuses to import it otherwise: "number of layers and diffIDs don't
// match").
func TestImageIsValid(t *testing.T) {
	img, err := image([]byte("#!/gate\n"), "amd64")
	if err != nil {
		t.Fatal(err)
	}
	cfg, err := img.ConfigFile()
	if err != nil {
		t.Fatal(err)
	}
	layers, err := img.Layers()
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.RootFS.DiffIDs) != len(layers) {
		t.Fatalf("config lists %d diff IDs for %d layers", len(cfg.RootFS.DiffIDs), len(layers))
	}
	want, _ := layers[0].DiffID()
	if cfg.RootFS.DiffIDs[0] != want {
		t.Errorf("diff ID %s, want the layer's %s", cfg.RootFS.DiffIDs[0], want)
	}
	if u := cfg.Config.User; u != "65532:65532" {
		t.Errorf("user %q, want 65532:65532", u)
	}
}
