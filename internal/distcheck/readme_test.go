package distcheck

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"testing"
)

// TestReadmeAppBuilds builds the example app of the README, so that the
// first code a reader copies keeps compiling as the library changes.
func TestReadmeAppBuilds(t *testing.T) {
	if testing.Short() {
		t.Skip("builds a program")
	}
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	m := regexp.MustCompile("(?s)## An app\n\n```go\n(.*?)```").FindSubmatch(readme)
	if m == nil {
		t.Fatal(`README.md has no "## An app" section with a Go code block`)
	}
	// Inside the module, so that its imports resolve; testdata keeps it out
	// of ./... patterns.
	dir, err := os.MkdirTemp("testdata", "readme-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.WriteFile(filepath.Join(dir, "main.go"), m[1], 0o644); err != nil {
		t.Fatal(err)
	}
	out, err := exec.Command("go", "build", "-o", os.DevNull, "./"+filepath.ToSlash(dir)).CombinedOutput()
	if err != nil {
		t.Fatalf("the README's example app does not build: %v\n%s", err, out)
	}
}

// TestReadmeDiagramIsCurrent checks that the diagram the README shows is
// the one the rag app writes.
func TestReadmeDiagramIsCurrent(t *testing.T) {
	readme, err := os.ReadFile(filepath.Join("..", "..", "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	diagram, err := os.ReadFile(filepath.Join("..", "..", "dist", "rag", "prod", "pipeline.md"))
	if err != nil {
		t.Fatal(err)
	}
	block := regexp.MustCompile("(?s)```mermaid\n.*?```\n")
	want, got := block.Find(diagram), block.Find(readme)
	if want == nil || string(got) != string(want) {
		t.Errorf("README.md's diagram differs from dist/rag/prod/pipeline.md; copy the mermaid block over")
	}
}
