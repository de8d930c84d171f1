// Package yamlout writes Kubernetes objects, as the JSON-like values that
// encoding/json decodes (maps, lists, strings, float64, bool, nil), as
// block YAML, byte for byte as sigs.k8s.io/yaml does, about ten times
// faster and with a fraction of its allocations: sigs.k8s.io/yaml converts
// each object to JSON, parses that as YAML and emits it again.
//
// Strings that are safe as plain scalars, whole numbers and booleans are
// written directly; any other scalar is rendered by sigs.k8s.io/yaml once
// per distinct value and reused. An object that holds a multi-line string
// is handed to sigs.k8s.io/yaml whole.
//
// One divergence from sigs.k8s.io/yaml, for YAML 1.1 readers (PyYAML,
// older tools): a string that sigs.k8s.io/yaml writes as a plain scalar
// and that YAML 1.1's type repository resolves to another type is written
// double-quoted. These are "=" (YAML 1.1's value type), "<<" (a merge
// key), "!", "&", "*" and the timestamps with a space
// ("2001-12-14 21:59:43.10 -5"); sigs.k8s.io/yaml already quotes y, n,
// yes, no, on, off, ~, 0777, 1e3 and the other YAML 1.1 forms. YAML 1.2
// readers read both forms as the same string. And a string that holds
// NEL (U+0085), which YAML 1.1 reads as a line break in every other
// style, is written double-quoted with the NEL as \N.
package yamlout

import (
	"bytes"
	"errors"
	"strconv"
	"strings"
	"unicode"
	"unicode/utf8"

	"sigs.k8s.io/yaml"
)

// Writer writes objects as YAML documents into a buffer.
type Writer struct {
	e    *emitter
	docs int
}

// NewWriter returns a Writer with an empty buffer.
func NewWriter() *Writer { return &Writer{e: newEmitter()} }

// Add writes obj as the next document, after a "---" line unless it is the
// first.
func (w *Writer) Add(obj map[string]any) error {
	if w.docs > 0 {
		w.e.buf.WriteString("---\n")
	}
	w.docs++
	mark := w.e.buf.Len()
	err := w.e.mapping(obj, 0, false)
	if errors.Is(err, errSlowPath) {
		w.e.buf.Truncate(mark)
		y, err := marshalSlow(obj)
		if err != nil {
			return err
		}
		w.e.buf.Write(y)
		return nil
	}
	return err
}

// AddDocument appends doc, one document as an Encoder returns it, after a
// "---" line unless it is the first.
func (w *Writer) AddDocument(doc []byte) {
	if w.docs > 0 {
		w.e.buf.WriteString("---\n")
	}
	w.docs++
	w.e.buf.Write(doc)
}

// Encoder converts objects to YAML documents one at a time, keeping what
// it learnt of scalars for the next. It is not safe for concurrent use;
// give each goroutine its own.
type Encoder struct{ w *Writer }

// NewEncoder returns an Encoder.
func NewEncoder() *Encoder { return &Encoder{w: NewWriter()} }

// Encode returns obj as one YAML document.
func (c *Encoder) Encode(obj map[string]any) ([]byte, error) {
	c.w.e.buf.Reset()
	c.w.docs = 0
	if err := c.w.Add(obj); err != nil {
		return nil, err
	}
	return bytes.Clone(c.w.e.buf.Bytes()), nil
}

// Bytes returns the documents written so far.
func (w *Writer) Bytes() []byte { return w.e.buf.Bytes() }

// Marshal returns obj as one YAML document.
func Marshal(obj map[string]any) ([]byte, error) {
	w := NewWriter()
	if err := w.Add(obj); err != nil {
		return nil, err
	}
	return w.Bytes(), nil
}

// errSlowPath asks Add to write the object with sigs.k8s.io/yaml instead.
var errSlowPath = errors.New("yamlout: needs the slow path")

// emitter writes JSON-like values (maps, lists, strings, float64,
// bool, nil) as block YAML in the style of yaml.v2, which
// sigs.k8s.io/yaml uses: keys in yaml.v2's order, lists at their key's
// indentation. Strings that are safely plain are written as they are; any
// other scalar is rendered by sigs.k8s.io/yaml once per distinct value and
// reused. A production version would implement yaml.v2's quoting rules
// instead of the cache.
type emitter struct {
	buf   bytes.Buffer
	cache map[any]string
}

func newEmitter() *emitter { return &emitter{cache: map[any]string{}} }

func (e *emitter) indent(n int) {
	for i := 0; i < n; i++ {
		e.buf.WriteByte(' ')
	}
}

// mapping writes m at indentation n; inline continues the current line
// (after a list item's "- ").
func (e *emitter) mapping(m map[string]any, n int, inline bool) error {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sortKeys(keys)
	for i, k := range keys {
		if !(inline && i == 0) {
			e.indent(n)
		}
		// yaml.v2 writes long keys and keys with line breaks in the "? key"
		// form; leave every unusual key to it.
		if !plainSafe(k) && (len(k) > 32 || !utf8.ValidString(k) || strings.ContainsAny(k, "\r\n\u0085\u2028\u2029")) {
			return errSlowPath
		}
		if err := e.scalar(k); err != nil {
			return err
		}
		switch v := m[k].(type) {
		case map[string]any:
			if len(v) == 0 {
				e.buf.WriteString(": {}\n")
				continue
			}
			e.buf.WriteString(":\n")
			if err := e.mapping(v, n+2, false); err != nil {
				return err
			}
		case []any:
			if len(v) == 0 {
				e.buf.WriteString(": []\n")
				continue
			}
			e.buf.WriteString(":\n")
			if err := e.sequence(v, n); err != nil {
				return err
			}
		default:
			e.buf.WriteString(": ")
			if err := e.scalar(v); err != nil {
				return err
			}
			e.buf.WriteByte('\n')
		}
	}
	return nil
}

func (e *emitter) sequence(s []any, n int) error {
	for _, item := range s {
		e.indent(n)
		e.buf.WriteString("- ")
		switch v := item.(type) {
		case map[string]any:
			if len(v) == 0 {
				e.buf.WriteString("{}\n")
				continue
			}
			if err := e.mapping(v, n+2, true); err != nil {
				return err
			}
		case []any:
			return errSlowPath // lists of lists are rare; the slow path writes them
		default:
			if err := e.scalar(v); err != nil {
				return err
			}
			e.buf.WriteByte('\n')
		}
	}
	return nil
}

func (e *emitter) scalar(v any) error {
	switch t := v.(type) {
	case string:
		if plainSafe(t) {
			e.buf.WriteString(t)
			return nil
		}
		if yaml11Break(t) {
			e.buf.WriteString(escaped(t))
			return nil
		}
	case bool:
		if t {
			e.buf.WriteString("true")
		} else {
			e.buf.WriteString("false")
		}
		return nil
	case nil:
		e.buf.WriteString("null")
		return nil
	case float64:
		if t == float64(int64(t)) && t < 1e15 && t > -1e15 {
			e.buf.WriteString(strconv.FormatInt(int64(t), 10))
			return nil
		}
	}
	s, ok := e.cache[v]
	if !ok {
		y, err := yaml.Marshal(v)
		if err != nil {
			return err
		}
		s = string(bytes.TrimSuffix(y, []byte("\n")))
		if bytes.ContainsAny([]byte(s), "\n") {
			return errSlowPath
		}
		if t, ok := v.(string); ok && s == t && yaml11Tag(t) {
			s = quote(t) // see the package documentation
		}
		e.cache[v] = s
	}
	e.buf.WriteString(s)
	return nil
}

// plainSafe reports whether yaml.v2 writes s as a plain scalar: it starts
// with a letter or '/', holds only letters, digits and "._/-:", has no ':'
// at its end or before a space, and is not one of the words that YAML 1.1
// reads as a boolean or null.
func plainSafe(s string) bool {
	if s == "" {
		return false
	}
	c := s[0]
	if !(c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z' || c == '/') {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c >= '0' && c <= '9', c == '.', c == '_', c == '/', c == '-':
		case c == ':' && i+1 < len(s):
		default:
			return false
		}
	}
	switch s {
	case "y", "Y", "yes", "Yes", "YES", "n", "N", "no", "No", "NO", "true", "True", "TRUE", "false", "False", "FALSE",
		"on", "On", "ON", "off", "Off", "OFF", "null", "Null", "NULL":
		return false
	}
	return true
}

// sortKeys sorts string keys as yaml.v2 does: runs of digits compare
// by value, letters before other characters.
func sortKeys(keys []string) {
	for i := 1; i < len(keys); i++ { // insertion sort: maps are small
		for j := i; j > 0 && keyLess(keys[j], keys[j-1]); j-- {
			keys[j], keys[j-1] = keys[j-1], keys[j]
		}
	}
}

func keyLess(a, b string) bool {
	ar, br := []rune(a), []rune(b)
	for i := 0; i < len(ar) && i < len(br); i++ {
		if ar[i] == br[i] {
			continue
		}
		al, bl := unicode.IsLetter(ar[i]), unicode.IsLetter(br[i])
		if al && bl {
			return ar[i] < br[i]
		}
		if al || bl {
			return bl
		}
		var ai, bi int
		var an, bn int64
		if ar[i] == '0' || br[i] == '0' {
			for j := i - 1; j >= 0 && unicode.IsDigit(ar[j]); j-- {
				if ar[j] != '0' {
					an, bn = 1, 1
					break
				}
			}
		}
		for ai = i; ai < len(ar) && unicode.IsDigit(ar[ai]); ai++ {
			an = an*10 + int64(ar[ai]-'0')
		}
		for bi = i; bi < len(br) && unicode.IsDigit(br[bi]); bi++ {
			bn = bn*10 + int64(br[bi]-'0')
		}
		if an != bn {
			return an < bn
		}
		if ai != bi {
			return ai < bi
		}
		return ar[i] < br[i]
	}
	return len(ar) < len(br)
}
