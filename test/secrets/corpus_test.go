package secrets

import (
	"bufio"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"

	"github.com/lucasjones/reggen"
	"github.com/zricethezav/gitleaks/v8/cmd/generate/config/utils"
)

// entry is one string of the corpus, written as the value of a pod
// annotation under key. want is "secret" or "plain" for our own rows
// (what stagecraft must say), "" for gitleaks' true positives.
type entry struct {
	source, key, value, want string
}

const noteKey = "example.com/note"

// gitleaksModuleDir returns where the go command keeps gitleaks' module.
func gitleaksModuleDir() (string, error) {
	out, err := exec.Command("go", "list", "-m", "-f", "{{.Dir}}", "github.com/zricethezav/gitleaks/v8").Output()
	if err != nil {
		return "", fmt.Errorf("go list gitleaks: %w", err)
	}
	return strings.TrimSpace(string(out)), nil
}

// gitleaksTruePositives reads the true positives of gitleaks' rules from
// their source (cmd/generate/config/rules): the strings given to the
// variable tps, with the calls that build them evaluated where their
// arguments are constants (utils.GenerateSampleSecrets, secrets.NewSecret
// and the pattern helpers of utils).
func gitleaksTruePositives() ([]entry, error) {
	dir, err := gitleaksModuleDir()
	if err != nil {
		return nil, err
	}
	files, err := filepath.Glob(filepath.Join(dir, "cmd", "generate", "config", "rules", "*.go"))
	if err != nil {
		return nil, err
	}
	var out []entry
	fset := token.NewFileSet()
	for _, f := range files {
		if strings.HasSuffix(f, "_test.go") {
			continue
		}
		file, err := parser.ParseFile(fset, f, nil, 0)
		if err != nil {
			return nil, err
		}
		ast.Inspect(file, func(n ast.Node) bool {
			as, ok := n.(*ast.AssignStmt)
			if !ok || len(as.Lhs) != 1 {
				return true
			}
			if id, ok := as.Lhs[0].(*ast.Ident); !ok || id.Name != "tps" {
				return true
			}
			for _, s := range tpStrings(as.Rhs[0]) {
				out = append(out, entry{source: "gitleaks:" + filepath.Base(f), key: noteKey, value: s})
			}
			return false
		})
	}
	return out, nil
}

// tpStrings evaluates the strings of an expression assigned to tps.
func tpStrings(e ast.Expr) []string {
	switch t := e.(type) {
	case *ast.CompositeLit:
		var out []string
		for _, el := range t.Elts {
			if _, kv := el.(*ast.KeyValueExpr); kv {
				return nil // a map of paths: rules that need a file path
			}
			out = append(out, tpStrings(el)...)
		}
		return out
	case *ast.CallExpr:
		switch callName(t) {
		case "append":
			var out []string
			for _, a := range t.Args[1:] {
				out = append(out, tpStrings(a)...)
			}
			return out
		case "utils.GenerateSampleSecrets":
			id, ok1 := constString(t.Args[0])
			s, ok2 := constString(t.Args[1])
			if !ok1 || !ok2 {
				return nil
			}
			// The secret alone too, in several draws: in every sample
			// it stands under a name ending in "token", which
			// stagecraft refuses by that name without knowing the
			// shape (so SendGrid's went unnoticed).
			out := append(utils.GenerateSampleSecrets(id, s), s)
			for range bareDraws - 1 {
				if s, ok := constString(t.Args[1]); ok {
					out = append(out, s)
				}
			}
			return out
		}
	}
	if s, ok := constString(e); ok {
		return []string{s}
	}
	return nil
}

func callName(c *ast.CallExpr) string {
	switch f := c.Fun.(type) {
	case *ast.Ident:
		return f.Name
	case *ast.SelectorExpr:
		if x, ok := f.X.(*ast.Ident); ok {
			return x.Name + "." + f.Sel.Name
		}
	}
	return ""
}

// patterns are the helpers of gitleaks' utils that build a regular
// expression for secrets.NewSecret.
var patterns = map[string]func(string) string{
	"utils.Numeric": utils.Numeric, "utils.Hex": utils.Hex, "utils.AlphaNumeric": utils.AlphaNumeric,
	"utils.AlphaNumericExtendedShort": utils.AlphaNumericExtendedShort, "utils.AlphaNumericExtended": utils.AlphaNumericExtended,
	"utils.AlphaNumericExtendedLong": utils.AlphaNumericExtendedLong,
}

// constString evaluates a string expression of constants and the calls
// gitleaks' rules build their samples with.
func constString(e ast.Expr) (s string, ok bool) {
	defer func() {
		if recover() != nil {
			s, ok = "", false // a pattern secrets.NewSecret cannot generate from
		}
	}()
	switch t := e.(type) {
	case *ast.BasicLit:
		if t.Kind == token.STRING {
			v, err := strconv.Unquote(t.Value)
			return v, err == nil
		}
	case *ast.ParenExpr:
		return constString(t.X)
	case *ast.BinaryExpr:
		if t.Op == token.ADD {
			a, ok1 := constString(t.X)
			b, ok2 := constString(t.Y)
			return a + b, ok1 && ok2
		}
	case *ast.CallExpr:
		name := callName(t)
		if name == "utils.Hex8_4_4_4_12" {
			return utils.Hex8_4_4_4_12(), true
		}
		if len(t.Args) != 1 {
			return "", false
		}
		arg, ok := constString(t.Args[0])
		if !ok {
			return "", false
		}
		if f, ok := patterns[name]; ok {
			return f(arg), true
		}
		if name == "secrets.NewSecret" {
			return newSecret(arg), true
		}
	}
	return "", false
}

// bareDraws is how many bare secrets each rule's sample call adds to the
// corpus, each drawn anew from its pattern.
const bareDraws = 4

// seed makes the generated secrets the same on every run; set
// STAGECRAFT_SECRETS_SEED to draw others.
var seed = func() int64 {
	if n, err := strconv.ParseInt(os.Getenv("STAGECRAFT_SECRETS_SEED"), 10, 64); err == nil {
		return n
	}
	return 23
}()

// newSecret generates a string matching regex, as gitleaks' own
// secrets.NewSecret does, but from a seeded source.
func newSecret(regex string) string {
	g, err := reggen.NewGenerator(regex)
	if err != nil {
		panic(err)
	}
	seed++
	g.SetSeed(seed)
	return g.Generate(1)
}

// ourRows reads testdata/rows.tsv: want, annotation key, value (with \n
// for a line break and \\ for a backslash), one a line; '#' starts a
// comment.
func ourRows() ([]entry, error) {
	f, err := os.Open(filepath.Join("testdata", "rows.tsv"))
	if err != nil {
		return nil, err
	}
	defer f.Close()
	var out []entry
	sc := bufio.NewScanner(f)
	for n := 1; sc.Scan(); n++ {
		line := sc.Text()
		if line == "" || strings.HasPrefix(line, "#") {
			continue
		}
		parts := strings.SplitN(line, "\t", 3)
		if len(parts) != 3 || (parts[0] != "secret" && parts[0] != "plain") {
			return nil, fmt.Errorf("testdata/rows.tsv:%d: want \"secret|plain<TAB>key<TAB>value\"", n)
		}
		out = append(out, entry{source: fmt.Sprintf("rows.tsv:%d", n), key: parts[1], value: unescapeRow(parts[2]), want: parts[0]})
	}
	return out, sc.Err()
}

// unescapeRow turns the \n of a row's value into a line break and its \\
// into a backslash.
func unescapeRow(v string) string {
	var b strings.Builder
	for i := 0; i < len(v); i++ {
		if v[i] == '\\' && i+1 < len(v) && (v[i+1] == 'n' || v[i+1] == '\\') {
			i++
			if v[i] == 'n' {
				b.WriteByte('\n')
				continue
			}
		}
		b.WriteByte(v[i])
	}
	return b.String()
}
