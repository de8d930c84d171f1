package codeshape

import (
	"go/ast"
	"go/doc"
	"go/parser"
	"go/token"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

const (
	maxFuncLines = 60
	maxFileLines = 400
)

// libraryFiles returns the non-test Go files under constructs/.
func libraryFiles(t *testing.T) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(filepath.Join("..", "..", "constructs"), func(p string, d os.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() && d.Name() == "testdata" {
			return filepath.SkipDir
		}
		if !d.IsDir() && strings.HasSuffix(p, ".go") && !strings.HasSuffix(p, "_test.go") {
			files = append(files, p)
		}
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if len(files) < 20 {
		t.Fatalf("found only %d library files", len(files))
	}
	return files
}

// TestFunctionAndFileSizes: in constructs/, no function is longer than 60
// lines and no file longer than 400, so that a reader finds each phase of
// each construct in a room of its own.
func TestFunctionAndFileSizes(t *testing.T) {
	fset := token.NewFileSet()
	for _, f := range libraryFiles(t) {
		src, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if n := strings.Count(string(src), "\n"); n > maxFileLines {
			t.Errorf("%s has %d lines; split it (at most %d)", f, n, maxFileLines)
		}
		af, err := parser.ParseFile(fset, f, src, 0)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range af.Decls {
			fd, ok := d.(*ast.FuncDecl)
			if !ok {
				continue
			}
			if n := fset.Position(fd.End()).Line - fset.Position(fd.Pos()).Line + 1; n > maxFuncLines {
				t.Errorf("%s: %s has %d lines (at most %d)", f, fd.Name.Name, n, maxFuncLines)
			}
		}
	}
}

// parsePackage parses the non-test files of constructs/<name> with their
// comments.
func parsePackage(t *testing.T, name string) (*token.FileSet, []*ast.File, *doc.Package) {
	t.Helper()
	fset := token.NewFileSet()
	paths, err := filepath.Glob(filepath.Join("..", "..", "constructs", name, "*.go"))
	if err != nil {
		t.Fatal(err)
	}
	var files []*ast.File
	for _, path := range paths {
		if strings.HasSuffix(path, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, path, nil, parser.ParseComments)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, f)
	}
	p, err := doc.NewFromFiles(fset, files, "github.com/stagecraft-dev/stagecraft/constructs/"+name)
	if err != nil {
		t.Fatal(err)
	}
	return fset, files, p
}

// outputAPI matches exported names that belong to the output package.
var outputAPI = regexp.MustCompile(`^(Main|Write|Synth$|SynthEnvironments$)|(Env|File|Dir)$`)

// TestConstructPackageWritesNothing: package stagecraft builds objects in
// memory; writing files, the layout of dist/ and the environment variables
// that steer them belong to package synth. go doc of stagecraft shows no
// such API, and no code of it reads the environment.
func TestConstructPackageWritesNothing(t *testing.T) {
	fset, files, p := parsePackage(t, "stagecraft")
	var names []string
	for _, f := range p.Funcs {
		names = append(names, f.Name)
	}
	for _, ty := range p.Types {
		names = append(names, ty.Name)
		for _, f := range ty.Funcs {
			names = append(names, f.Name)
		}
		for _, m := range ty.Methods {
			names = append(names, ty.Name+"."+m.Name)
		}
	}
	for _, vs := range append(p.Consts, p.Vars...) {
		names = append(names, vs.Names...)
	}
	for _, n := range names {
		short := n[strings.LastIndex(n, ".")+1:]
		if outputAPI.MatchString(short) && short != "Env" {
			t.Errorf("stagecraft exports %s, which belongs to package synth", n)
		}
	}
	for _, f := range files {
		name := fset.Position(f.Pos()).Filename
		ast.Inspect(f, func(n ast.Node) bool {
			sel, ok := n.(*ast.SelectorExpr)
			if ok {
				if x, ok := sel.X.(*ast.Ident); ok && x.Name == "os" && (sel.Sel.Name == "Getenv" || sel.Sel.Name == "LookupEnv" || sel.Sel.Name == "Environ") {
					t.Errorf("%s reads the environment (os.%s): only an app's entry point may", filepath.Base(name), sel.Sel.Name)
				}
			}
			return true
		})
	}
}

// TestExportedNamesDocumented: every exported name of the library's
// packages has a doc comment.
func TestExportedNamesDocumented(t *testing.T) {
	for _, pkg := range []string{"stagecraft", "synth", "stagetest"} {
		_, _, p := parsePackage(t, pkg)
		check := func(name, text string) {
			if strings.TrimSpace(text) == "" {
				t.Errorf("%s.%s has no doc comment", pkg, name)
			}
		}
		check("package", p.Doc)
		for _, f := range p.Funcs {
			check(f.Name, f.Doc)
		}
		for _, ty := range p.Types {
			check(ty.Name, ty.Doc)
			for _, f := range ty.Funcs {
				check(f.Name, f.Doc)
			}
			for _, m := range ty.Methods {
				check(ty.Name+"."+m.Name, m.Doc)
			}
			for _, spec := range ty.Decl.Specs {
				st, ok := spec.(*ast.TypeSpec).Type.(*ast.StructType)
				if !ok {
					continue
				}
				for _, fl := range st.Fields.List {
					for _, n := range fl.Names {
						if n.IsExported() && fl.Doc == nil {
							t.Errorf("%s.%s.%s has no doc comment", pkg, ty.Name, n.Name)
						}
					}
				}
			}
		}
		for _, vs := range append(p.Consts, p.Vars...) {
			check(strings.Join(vs.Names, ", "), vs.Doc)
		}
	}
}
