package yamlout

import (
	"encoding"
	"encoding/base64"
	"encoding/json"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/api/resource"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// key writes a mapping key at indentation n (first: it continues the
// current line).
func (e *emitter) key(k string, n int, first bool) error {
	if !first {
		e.indent(n)
	}
	// yaml.v2 writes long keys and keys with line breaks in the "? key"
	// form; leave every unusual key to it.
	if !plainSafe(k) && (len(k) > 32 || !utf8.ValidString(k) || strings.ContainsAny(k, "\r\n\u0085\u2028\u2029")) {
		return errSlowPath
	}
	if !utf8.ValidString(k) {
		return errFallback // encoding/json would have replaced the bad bytes
	}
	return e.scalar(k)
}

// scalarValue writes a string, number or boolean as ToMap's JSON round
// trip leaves it: every number a float64.
func (e *emitter) scalarValue(v reflect.Value) error {
	switch v.Kind() {
	case reflect.String:
		s := v.String()
		if !utf8.ValidString(s) {
			return errFallback
		}
		return e.scalar(s)
	case reflect.Bool:
		return e.scalar(v.Bool())
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		return e.scalar(float64(v.Int()))
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		return e.scalar(float64(v.Uint()))
	case reflect.Float64:
		return e.scalar(v.Float())
	case reflect.Slice:
		if isBytes(v) {
			return e.scalar(base64.StdEncoding.EncodeToString(v.Bytes()))
		}
	}
	return errFallback // float32, complex, chan, func, ...
}

// deref follows pointers and interfaces; ok is false for a nil one.
func deref(v reflect.Value) (reflect.Value, bool) {
	for v.Kind() == reflect.Pointer || v.Kind() == reflect.Interface {
		if v.IsNil() {
			return v, false
		}
		if v.Kind() == reflect.Pointer && isMarshaler(v) && !isMarshaler(v.Elem()) {
			return v, true // a pointer-receiver marshaler
		}
		v = v.Elem()
	}
	return v, true
}

func isBytes(v reflect.Value) bool {
	return v.Kind() == reflect.Slice && v.Type().Elem().Kind() == reflect.Uint8
}

var (
	jsonMarshaler = reflect.TypeFor[json.Marshaler]()
	textMarshaler = reflect.TypeFor[encoding.TextMarshaler]()
)

// isMarshaler reports whether encoding/json would call v's own MarshalJSON
// or MarshalText.
func isMarshaler(v reflect.Value) bool {
	t := v.Type()
	if t.Implements(jsonMarshaler) || t.Implements(textMarshaler) {
		return true
	}
	return v.CanAddr() && (reflect.PointerTo(t).Implements(jsonMarshaler) || reflect.PointerTo(t).Implements(textMarshaler))
}

// toGeneric returns what ToMap makes of a value that marshals itself:
// its JSON decoded into maps, lists and scalars, pruned.
func toGeneric(v reflect.Value) (any, error) {
	switch x := v.Interface().(type) {
	case resource.Quantity:
		return x.String(), nil
	case intstr.IntOrString:
		if x.Type == intstr.Int {
			return float64(x.IntVal), nil
		}
		if utf8.ValidString(x.StrVal) {
			return x.StrVal, nil
		}
	case metav1.Time:
		if x.IsZero() {
			return nil, nil
		}
	}
	if v.CanAddr() && !v.Type().Implements(jsonMarshaler) && !v.Type().Implements(textMarshaler) {
		v = v.Addr()
	}
	raw, err := json.Marshal(v.Interface())
	if err != nil {
		return nil, err
	}
	var g any
	if err := json.Unmarshal(raw, &g); err != nil {
		return nil, err
	}
	if m, ok := g.(map[string]any); ok {
		prune(m)
	} else {
		prune(g)
	}
	return g, nil
}

// generic writes "key: value" for a value that marshals itself, as member
// does for the others.
func (e *emitter) generic(key string, v reflect.Value, n int, first bool) (bool, error) {
	g, err := toGeneric(v)
	if err != nil || g == nil {
		return false, err
	}
	if m, ok := g.(map[string]any); ok && len(m) == 0 && !keepEmpty[key] {
		return false, nil
	}
	if err := e.key(key, n, first); err != nil {
		return false, err
	}
	switch t := g.(type) {
	case map[string]any:
		if len(t) == 0 {
			e.buf.WriteString(": {}\n")
			return true, nil
		}
		e.buf.WriteString(":\n")
		return true, e.mapping(t, n+2, false)
	case []any:
		if len(t) == 0 {
			e.buf.WriteString(": []\n")
			return true, nil
		}
		e.buf.WriteString(":\n")
		return true, e.sequence(t, n)
	}
	e.buf.WriteString(": ")
	if err := e.scalar(g); err != nil {
		return false, err
	}
	e.buf.WriteByte('\n')
	return true, nil
}

// genericItem writes a list element that marshals itself, after its "- ".
func (e *emitter) genericItem(v reflect.Value, n int) error {
	g, err := toGeneric(v)
	if err != nil {
		return err
	}
	switch t := g.(type) {
	case map[string]any:
		if len(t) == 0 {
			e.buf.WriteString("{}\n")
			return nil
		}
		return e.mapping(t, n+2, true)
	case []any:
		return errSlowPath
	}
	if err := e.scalar(g); err != nil {
		return err
	}
	e.buf.WriteByte('\n')
	return nil
}

// isEmptyValue is encoding/json's test for omitempty.
func isEmptyValue(v reflect.Value) bool {
	switch v.Kind() {
	case reflect.Array, reflect.Map, reflect.Slice, reflect.String:
		return v.Len() == 0
	case reflect.Bool, reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64,
		reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr,
		reflect.Float32, reflect.Float64, reflect.Interface, reflect.Pointer:
		return v.IsZero()
	}
	return false
}

// isZero is encoding/json's test for omitzero: the value's own IsZero
// method, or the zero value.
func isZero(v reflect.Value) bool {
	if z, ok := v.Interface().(interface{ IsZero() bool }); ok {
		if v.Kind() == reflect.Pointer && v.IsNil() {
			return true
		}
		return z.IsZero()
	}
	if v.CanAddr() {
		if z, ok := v.Addr().Interface().(interface{ IsZero() bool }); ok {
			return z.IsZero()
		}
	}
	return v.IsZero()
}

// field is one JSON member of a struct type.
type field struct {
	name                string
	index               []int
	omitEmpty, omitZero bool
}

var fieldCache sync.Map // reflect.Type -> []field, or errFallback

// fieldsOf returns the JSON members of struct type t, embedded structs'
// included, sorted as sortKeys sorts keys.
func fieldsOf(t reflect.Type) ([]field, error) {
	if c, ok := fieldCache.Load(t); ok {
		if fs, ok := c.([]field); ok {
			return fs, nil
		}
		return nil, errFallback
	}
	fs, ok := collect(t, nil, map[reflect.Type]bool{})
	seen := map[string]bool{}
	for _, f := range fs {
		ok = ok && !seen[f.name] // Go's rules for clashing names: leave them to encoding/json
		seen[f.name] = true
	}
	if !ok {
		fieldCache.Store(t, errFallback)
		return nil, errFallback
	}
	sort.SliceStable(fs, func(i, j int) bool { return keyLess(fs[i].name, fs[j].name) })
	fieldCache.Store(t, fs)
	return fs, nil
}

// collect lists the members of struct type t at index prefix; ok is false
// for a tag this encoder does not follow.
func collect(t reflect.Type, prefix []int, visiting map[reflect.Type]bool) ([]field, bool) {
	if visiting[t] {
		return nil, false
	}
	visiting[t] = true
	defer delete(visiting, t)
	var out []field
	for i := 0; i < t.NumField(); i++ {
		sf := t.Field(i)
		tag := sf.Tag.Get("json")
		if tag == "-" {
			continue
		}
		name, opts, _ := strings.Cut(tag, ",")
		index := append(append([]int(nil), prefix...), i)
		if sf.Anonymous && name == "" {
			et := sf.Type
			if et.Kind() == reflect.Pointer {
				et = et.Elem()
			}
			if et.Kind() == reflect.Struct {
				inner, ok := collect(et, index, visiting)
				if !ok {
					return nil, false
				}
				out = append(out, inner...)
				continue
			}
		}
		if !sf.IsExported() {
			continue
		}
		if name == "" {
			name = sf.Name
		}
		if strings.Contains(","+opts+",", ",string,") || !validTagName(name) {
			return nil, false
		}
		out = append(out, field{name: name, index: index, omitEmpty: strings.Contains(","+opts+",", ",omitempty,"),
			omitZero: strings.Contains(","+opts+",", ",omitzero,")})
	}
	return out, true
}

// validTagName is a conservative form of encoding/json's check of a tag's
// name: anything unusual takes the JSON round trip.
func validTagName(s string) bool {
	for _, c := range s {
		if !(c == '-' || c == '_' || c == '.' || c == '/' || c == '$' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z') {
			return false
		}
	}
	return s != "" && strconv.IsPrint(rune(s[0]))
}

// fieldByIndex is reflect's FieldByIndex that reports a nil embedded
// pointer instead of panicking.
func fieldByIndex(v reflect.Value, index []int) (reflect.Value, bool) {
	for i, x := range index {
		if i > 0 && v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return v, false
			}
			v = v.Elem()
		}
		v = v.Field(x)
	}
	return v, true
}
