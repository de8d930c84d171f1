// Command scaffold creates a new app under apps/: a main package with an
// example pipeline, and a golden test that uses stagetest. `make app
// NAME=<name>` runs it, then writes the golden file and synthesizes.
package main

import (
	"embed"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"text/template"

	"k8s.io/apimachinery/pkg/util/validation"
)

//go:embed template/*.tmpl
var templates embed.FS

func main() {
	name := flag.String("name", "", "the app's name: a DNS-1123 label, also its directory and its dist/ folder")
	apps := flag.String("apps", "apps", "the directory of the apps")
	flag.Parse()
	if err := scaffold(*apps, *name); err != nil {
		fmt.Fprintln(os.Stderr, "scaffold:", err)
		os.Exit(1)
	}
	fmt.Printf("created %s\n", filepath.Join(*apps, *name))
}

func scaffold(apps, name string) error {
	if msgs := validation.IsDNS1123Label(name); len(msgs) > 0 {
		return fmt.Errorf("NAME=%q: %s", name, strings.Join(msgs, "; "))
	}
	dir := filepath.Join(apps, name)
	if _, err := os.Stat(dir); err == nil {
		return fmt.Errorf("%s already exists", dir)
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	for file, tmpl := range map[string]string{"main.go": "template/main.go.tmpl", "main_test.go": "template/main_test.go.tmpl"} {
		// The Go code is full of "{{", so the templates use [[ ]].
		t, err := template.New(filepath.Base(tmpl)).Delims("[[", "]]").ParseFS(templates, tmpl)
		if err != nil {
			return err
		}
		f, err := os.Create(filepath.Join(dir, file))
		if err != nil {
			return err
		}
		if err := t.Execute(f, struct{ Name string }{name}); err != nil {
			f.Close()
			return err
		}
		if err := f.Close(); err != nil {
			return err
		}
	}
	return nil
}
