package main

import (
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

func TestScaffoldWritesParsableApp(t *testing.T) {
	apps := t.TempDir()
	if err := scaffold(apps, "fraud-scoring"); err != nil {
		t.Fatal(err)
	}
	for _, f := range []string{"main.go", "main_test.go"} {
		path := filepath.Join(apps, "fraud-scoring", f)
		src, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := parser.ParseFile(token.NewFileSet(), path, src, parser.AllErrors); err != nil {
			t.Errorf("%s does not parse: %v", f, err)
		}
		if !strings.Contains(string(src), `"fraud-scoring"`) {
			t.Errorf("%s does not use the app's name", f)
		}
	}
	if err := scaffold(apps, "fraud-scoring"); err == nil || !strings.Contains(err.Error(), "already exists") {
		t.Errorf("a second scaffold of the same app: %v", err)
	}
}

func TestScaffoldRejectsBadNames(t *testing.T) {
	for _, name := range []string{"", "Fraud", "a_b", "-x", strings.Repeat("a", 64)} {
		if err := scaffold(t.TempDir(), name); err == nil {
			t.Errorf("name %q was accepted", name)
		}
	}
}
