package yamlout

import (
	"bytes"
	"os"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"sigs.k8s.io/yaml"
)

// same fails unless Marshal writes obj exactly as sigs.k8s.io/yaml does.
func same(t *testing.T, obj map[string]any) {
	t.Helper()
	want, err := yaml.Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	got, err := Marshal(obj)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(sigsExempt(obj, got), want) {
		t.Errorf("differs from sigs.k8s.io/yaml:\n--- want\n%s--- got\n%s", want, got)
	}
}

func TestScalarsAsSigsYAML(t *testing.T) {
	for _, v := range []any{
		"", "plain", "yes", "No", "on", "null", "~", "true", "123", "0x1F", "1e3", "0.5", "-1", ".inf",
		"a: b", "a:b", "x:", "- x", "#comment", "a #b", " lead", "trail ", "ünïcödé", "*", "&a", "!tag",
		"%", "@x", "`x", "{a}", "[a]", "'q'", `"q"`, "a\tb", "http://x.example.com:8080/p?q=1",
		"0 2 * * *", "@daily", "500m", "2Gi", "1", "08", "1_000", "Etc/UTC", "--flag=value", "=", "<<",
		float64(0), float64(3), float64(-7), float64(1 << 40), 0.25, 1e21, true, false, nil,
	} {
		same(t, map[string]any{"k": v, "list": []any{v}})
	}
}

func TestStructuresAsSigsYAML(t *testing.T) {
	same(t, map[string]any{
		"empty":  map[string]any{},
		"none":   []any{},
		"nested": map[string]any{"a": []any{map[string]any{"x": "1", "y": []any{"p", "q"}}, map[string]any{}}},
		"multi":  "line one\nline two\n",
		"lists":  []any{[]any{"a", "b"}, []any{}},
		"keys":   map[string]any{"b": 1.0, "a10": 1.0, "a9": 1.0, "A": 1.0, "_x": 1.0, "9": 1.0, "a.b/c": 1.0},
	})
}

// TestGoldenFilesAsSigsYAML rewrites every golden manifest of the
// repository and compares with sigs.k8s.io/yaml.
func TestGoldenFilesAsSigsYAML(t *testing.T) {
	files, _ := filepath.Glob("../../constructs/stagecraft/testdata/*.golden.yaml")
	more, _ := filepath.Glob("../../apps/*/testdata/*.golden.yaml")
	files = append(files, more...)
	n := 0
	for _, f := range files {
		data, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		for _, doc := range strings.Split(string(data), "\n---\n") {
			var obj map[string]any
			if err := yaml.Unmarshal([]byte(doc), &obj); err != nil || obj["kind"] == nil {
				continue // a diagram or a diff, not a manifest
			}
			same(t, obj)
			n++
		}
	}
	if n < 100 {
		t.Errorf("compared only %d objects", n)
	}
}

func FuzzMarshalAsSigsYAML(f *testing.F) {
	for _, s := range []string{"plain", "yes", "a: b", "line\nline", "0 2 * * *", "ü", ""} {
		f.Add(s, s+"k", 1.5)
	}
	f.Fuzz(func(t *testing.T, value, key string, num float64) {
		obj := map[string]any{key: value, "n": num, "l": []any{value, map[string]any{key: num}}}
		want, err := yaml.Marshal(obj)
		if err != nil {
			t.Skip() // sigs.k8s.io/yaml cannot write it either
		}
		got, err := Marshal(obj)
		if err != nil {
			t.Fatalf("Marshal: %v", err)
		}
		if bad := yaml11Problems(t, got); len(bad) > 0 {
			t.Errorf("plain scalars YAML 1.1 does not read as strings: %q in\n%s", bad, got)
		}
		if yaml11Break(key + value) { // written double-quoted: compare what is read
			var back, sigs any
			if err := yaml.Unmarshal(got, &back); err != nil || yaml.Unmarshal(want, &sigs) != nil || !reflect.DeepEqual(back, sigs) {
				t.Errorf("reads back as %v (%v), sigs.k8s.io/yaml's as %v:\n%s", back, err, sigs, got)
			}
			return
		}
		if !bytes.Equal(sigsExempt(obj, got), want) {
			t.Errorf("differs from sigs.k8s.io/yaml for %q %q %v:\n--- want\n%s--- got\n%s", key, value, num, want, got)
		}
	})
}

func TestWriterSeparatesDocuments(t *testing.T) {
	w := NewWriter()
	for _, o := range []map[string]any{{"a": "1"}, {"b": "x\ny"}, {"c": true}} {
		if err := w.Add(o); err != nil {
			t.Fatal(err)
		}
	}
	want := "a: \"1\"\n---\nb: |-\n  x\n  y\n---\nc: true\n"
	if got := string(w.Bytes()); got != want {
		t.Errorf("got %q, want %q", got, want)
	}
}

func TestEncoderAndAddDocumentMatchAdd(t *testing.T) {
	objs := []map[string]any{{"a": "1", "b": "yes"}, {"b": "x\ny"}, {"a": "1", "c": []any{"100m"}}}
	plain, joined := NewWriter(), NewWriter()
	enc := NewEncoder()
	for _, o := range objs {
		if err := plain.Add(o); err != nil {
			t.Fatal(err)
		}
		doc, err := enc.Encode(o)
		if err != nil {
			t.Fatal(err)
		}
		joined.AddDocument(doc)
	}
	if !bytes.Equal(plain.Bytes(), joined.Bytes()) {
		t.Errorf("Encode+AddDocument wrote\n%s\nAdd wrote\n%s", joined.Bytes(), plain.Bytes())
	}
}
