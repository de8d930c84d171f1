package yamlout

import (
	"bytes"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	yamlv2 "go.yaml.in/yaml/v2"
	yamlv3 "go.yaml.in/yaml/v3"
	"sigs.k8s.io/yaml"
)

// yaml11NotString matches the plain scalars that YAML 1.1's type
// repository (https://yaml.org/type/) resolves to another type than a
// string: bool, null, int, float (with PyYAML's wider float: 1e3),
// timestamp, merge, value and yaml.
var yaml11NotString = regexp.MustCompile(`^(?:` +
	`y|Y|yes|Yes|YES|n|N|no|No|NO|true|True|TRUE|false|False|FALSE|on|On|ON|off|Off|OFF` +
	`|~|null|Null|NULL|` +
	`|[-+]?0b[0-1_]+|[-+]?0[0-7_]+|[-+]?(?:0|[1-9][0-9_]*)|[-+]?0x[0-9a-fA-F_]+|[-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+` +
	`|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+` +
	`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?` +
	`|<<|=|[!&*]` +
	`)$`)

// yaml11Problems lists the plain scalars of doc that YAML 1.2 reads as
// strings and YAML 1.1 does not.
func yaml11Problems(t *testing.T, doc []byte) []string {
	t.Helper()
	var root yamlv3.Node
	if err := yamlv3.Unmarshal(doc, &root); err != nil {
		t.Fatalf("YAML 1.2 reader: %v\n%s", err, doc)
	}
	var bad []string
	var walk func(n *yamlv3.Node)
	walk = func(n *yamlv3.Node) {
		if n.Kind == yamlv3.ScalarNode && n.Style == 0 && (n.Tag == "!!str" || n.Tag == "!!merge") && yaml11NotString.MatchString(n.Value) {
			bad = append(bad, n.Value)
		}
		for _, c := range n.Content {
			walk(c)
		}
	}
	walk(&root)
	return bad
}

// yaml11Values are strings that YAML 1.1 could read as another type.
var yaml11Values = []string{"=", "<<", "y", "n", "Y", "yes", "no", "on", "off", "~", "0777", "0o17", "1e3", "1.5e3", "1_000",
	"0b101", "0x1F", "12:30", "190:20:30", ".inf", ".NaN", "2001-12-14", "2001-12-14 21:59:43.10 -5", "+1", ".5", "!", "&", "*", "null", "-"}

// TestYAML11Readable writes strings that YAML 1.1 could read as another
// type, as keys, values and list items, in the direct and the slow path
// (an object with a multi-line string), and checks with two readers that
// each is read back as the string it is: the YAML 1.1 resolver above over
// a YAML 1.2 parse, and go.yaml.in/yaml/v2 (YAML 1.1's merge key).
func TestYAML11Readable(t *testing.T) {
	for _, v := range yaml11Values {
		for _, multi := range []bool{false, true} {
			obj := map[string]any{"k": v, v: "x", "l": []any{v, map[string]any{v: v}}}
			if multi {
				obj["m"] = "line one\nline two\n"
			}
			got, err := Marshal(obj)
			if err != nil {
				t.Fatalf("%q: %v", v, err)
			}
			if bad := yaml11Problems(t, got); len(bad) > 0 {
				t.Errorf("%q (multi-line %v): plain scalars YAML 1.1 does not read as strings: %q in\n%s", v, multi, bad, got)
			}
			var back map[string]any
			if err := yamlv2.Unmarshal(got, &back); err != nil {
				t.Errorf("%q: go.yaml.in/yaml/v2 cannot read it: %v\n%s", v, err, got)
			} else if back["k"] != v {
				t.Errorf("%q: go.yaml.in/yaml/v2 reads k as %#v", v, back["k"])
			}
		}
	}
	// The readers have teeth: sigs.k8s.io/yaml's own output of "<<" as a
	// key is a merge key to yaml.v2, and "=" a plain scalar to the resolver.
	sigs, _ := yaml.Marshal(map[string]any{"<<": "x", "k": "="})
	var back map[string]any
	if err := yamlv2.Unmarshal(sigs, &back); err == nil {
		t.Errorf("go.yaml.in/yaml/v2 read a plain << key: %v", back)
	}
	if bad := yaml11Problems(t, sigs); len(bad) != 2 {
		t.Errorf("the YAML 1.1 resolver found %q in %s; want << and =", bad, sigs)
	}
}

// TestGoldenFilesYAML11 checks every golden manifest of the repository,
// as yamlout writes it, with the YAML 1.1 resolver.
func TestGoldenFilesYAML11(t *testing.T) {
	files, _ := filepath.Glob("../../constructs/stagecraft/testdata/*.golden.yaml")
	more, _ := filepath.Glob("../../apps/*/testdata/*.golden.yaml")
	n := 0
	for _, f := range append(files, more...) {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj["kind"] == nil {
				continue
			}
			got, err := Marshal(obj)
			if err != nil {
				t.Fatal(err)
			}
			if bad := yaml11Problems(t, got); len(bad) > 0 {
				t.Errorf("%s: %q", f, bad)
			}
			n++
		}
	}
	if n < 100 {
		t.Errorf("checked only %d objects", n)
	}
}

func TestStringQuotesForYAML11(t *testing.T) {
	for _, c := range []struct{ in, want string }{
		{"seed.k8s.yaml", "seed.k8s.yaml"}, {"=", `"="`}, {"<<", `"<<"`}, {"yes", `"yes"`}, {"a: b.yaml", `'a: b.yaml'`},
		{"#x.yaml", `'#x.yaml'`}, {"tab\there", `"tab\there"`},
	} {
		if got := String(c.in); got != c.want {
			t.Errorf("String(%q) = %s, want %s", c.in, got, c.want)
		}
	}
}

// sigsExempt undoes the first divergence from sigs.k8s.io/yaml in got:
// the strings of obj that sigs.k8s.io/yaml writes plain and YAML 1.1
// reads as another type, double-quoted. (The second, strings with NEL,
// is not undone: see hasBreak.)
func sigsExempt(obj any, got []byte) []byte {
	quoted, foreign := map[string]bool{}, false
	swapTags(obj, quoted, map[string]string{}, &foreign)
	for s := range quoted {
		got = bytes.ReplaceAll(got, []byte(quote(s)), []byte(s))
	}
	return got
}

// yaml11Breaks are YAML 1.1's line breaks and the other characters a
// YAML 1.1 reader treats specially around or inside a scalar: NEL, LS,
// PS, CR, tab, the byte order mark, no-break space, and C1 controls
// DEL and U+FFFE (which sigs.k8s.io/yaml refuses to write).
var yaml11Breaks = []string{"\u0085", "\u2028", "\u2029", "\r", "\t", "\ufeff", "\u00a0", "\u0080", "\u009f", "\u007f", "\ufffe"}

// TestYAML11Breaks writes strings holding each of yaml11Breaks, at their
// start, middle and end, next to a ": " and a line break, as keys,
// values and list items, in the direct and the slow path, and reads them
// back with YAML 1.1's reader (go.yaml.in/yaml/v2, which folds a NEL
// written plain into a space, as PyYAML does) and with sigs.k8s.io/yaml.
// A string with NEL is written double-quoted, the NEL as \N.
func TestYAML11Breaks(t *testing.T) {
	for _, r := range yaml11Breaks {
		for _, s := range []string{"x" + r + "y", r + "y", "y" + r, "a: " + r, "a\n" + r + "b", "a " + r + " b"} {
			for _, multi := range []bool{false, true} {
				obj := map[string]any{"k": s, "l": []any{s, map[string]any{"k": s}}}
				if yaml11Break(r) || !strings.Contains(s, "\n") { // sigs.k8s.io/yaml cannot write other break keys
					obj[s] = "v"
				}
				if multi {
					obj["m"] = "line one\nline two\n"
				}
				got, err := Marshal(obj)
				if err != nil {
					t.Errorf("%q: %v", s, err)
					continue
				}
				var v1 map[any]any
				if err := yamlv2.Unmarshal(got, &v1); err != nil {
					t.Errorf("%q: YAML 1.1 reader: %v\n%s", s, err, got)
				} else if v1["k"] != s || (obj[s] != nil && v1[s] != "v") {
					t.Errorf("%q (multi-line %v): YAML 1.1 reads %q, %q from\n%s", s, multi, v1["k"], v1[s], got)
				}
				var v2 map[string]any
				if err := yaml.Unmarshal(got, &v2); err != nil || v2["k"] != s {
					t.Errorf("%q: sigs.k8s.io/yaml reads %q (%v) from\n%s", s, v2["k"], err, got)
				}
			}
		}
	}
	if got, err := Marshal(map[string]any{"k": "x\u0085y"}); err != nil || string(got) != "k: \"x\\Ny\"\n" {
		t.Errorf("NEL: %q, %v; want k: \"x\\Ny\"", got, err)
	}
	if got := String("a\u0085b.yaml"); got != `"a\Nb.yaml"` {
		t.Errorf("String with NEL: %s", got)
	}
	// The reader has teeth: sigs.k8s.io/yaml's own output of a NEL.
	sigs, _ := yaml.Marshal(map[string]any{"k": "x\u0085y"})
	var back map[string]any
	if err := yamlv2.Unmarshal(sigs, &back); err != nil || back["k"] == "x\u0085y" {
		t.Errorf("go.yaml.in/yaml/v2 read sigs.k8s.io/yaml's plain NEL back (%v): the test has no teeth", err)
	}
}
