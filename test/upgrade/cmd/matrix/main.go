// Command matrix writes the upgrade matrix (package upgrade) for the
// real-cluster tests: for every edit, the output folders of the app's two
// versions, and matrix.json with what each edit must do.
//
//	go run ./test/upgrade/cmd/matrix -out DIR
package main

import (
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"

	"github.com/aws/jsii-runtime-go"
	"github.com/stagecraft-dev/stagecraft/test/upgrade"
)

func main() {
	out := flag.String("out", "", "directory to write the matrix into (created)")
	flag.Parse()
	if *out == "" {
		fmt.Fprintln(os.Stderr, "matrix: -out is required")
		os.Exit(2)
	}
	err := run(*out)
	jsii.Close()
	if err != nil {
		fmt.Fprintln(os.Stderr, "matrix:", err)
		os.Exit(1)
	}
}

func run(out string) error {
	var entries []upgrade.Entry
	for i, e := range upgrade.Edits() {
		en, err := upgrade.WriteEdit(out, i, e)
		if err != nil {
			return err
		}
		entries = append(entries, en)
	}
	data, err := json.MarshalIndent(entries, "", "  ")
	if err != nil {
		return err
	}
	fmt.Printf("wrote %d edits to %s\n", len(entries), out)
	return os.WriteFile(filepath.Join(out, "matrix.json"), data, 0o644)
}
