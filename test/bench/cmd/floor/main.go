// Command floor is the plain-Go floor of the synth benchmark: it reads the
// benchmark's objects (a JSON array, exported once from stagecraft's
// output), marshals each to YAML with sigs.k8s.io/yaml and writes them as
// one multi-document YAML file. No jsii, no constructs: the least any Go
// program that writes these objects with that library has to do.
package main

import (
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"os"

	"sigs.k8s.io/yaml"
)

func main() {
	in := flag.String("objects", "", "JSON array of objects to write")
	out := flag.String("out", "", "YAML file to write")
	flag.Parse()
	if err := run(*in, *out); err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

func run(in, out string) error {
	raw, err := os.ReadFile(in)
	if err != nil {
		return err
	}
	var objs []any
	if err := json.Unmarshal(raw, &objs); err != nil {
		return err
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
