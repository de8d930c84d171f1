// Command floor is the plain-Go floor of the synth benchmark: it reads the
// benchmark's objects (a JSON array, exported once from stagecraft's
// output), marshals each to YAML and writes them as one multi-document YAML
// file. No jsii, no constructs: the least any Go program that writes these
// objects has to do. -writer chooses sigs.k8s.io/yaml (the usual library)
// or yamlout (stagecraft's own writer, the stricter floor).
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
	"sigs.k8s.io/yaml"
)

func main() {
	in := flag.String("objects", "", "JSON array of objects to write")
	out := flag.String("out", "", "YAML file to write")
	writer := flag.String("writer", "sigs", "YAML writer: sigs (sigs.k8s.io/yaml) or yamlout")
	flag.Parse()
	if err := run(*in, *out, *writer == "yamlout"); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(in, out string, direct bool) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var objs []any
	if err := json.Unmarshal(raw, &objs); err != nil {
		return err
	}
	if direct {
		w := yamlout.NewWriter()
		for _, o := range objs {
			m, ok := o.(map[string]any)
			if !ok {
				return fmt.Errorf("not an object: %T", o)
			}
			if err := w.Add(m); err != nil {
				return err
			}
		}
		return os.WriteFile(out, w.Bytes(), 0o644)
	}
	var buf bytes.Buffer
	for i, o := range objs {
		y, err := yaml.Marshal(o)
		if err != nil {
			return err
		}
		if i > 0 {
			buf.WriteString("---\n")
		}
		buf.Write(y)
	}
	return os.WriteFile(out, buf.Bytes(), 0o644)
}
