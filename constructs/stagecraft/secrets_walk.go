package stagecraft

import (
	"path"
	"reflect"
	"sort"
	"strconv"
	"strings"
	"sync"

	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/util/intstr"
)

// The walk of a rendered object: every string it holds, keys and values,
// with its JSON field path ("spec.template.spec.containers[0].args[2]",
// "metadata.labels[team]") and the name it stands under (its field or
// key, the name of an env var or header, the flag before an argument).
// It reads the typed objects by reflection, as encoding/json would write
// them: exported fields under their json names, inline structs merged.

// stringVisitor is called for each string, with the walker (whose path
// method renders the string's field path); it returns whether it reported
// the string.
type stringVisitor func(w *walker, name, value string) bool

// segment is one step of a path: a field, an index or a map key; it is
// rendered only when a string is reported.
type segment struct {
	field string
	index int // -1 for a field or a key
	key   string
}

// walker holds the path to the value being walked.
type walker struct {
	segs  []segment
	visit stringVisitor
}

// path renders the walker's path.
func (w *walker) path() string {
	var b strings.Builder
	for _, s := range w.segs {
		switch {
		case s.index >= 0:
			b.WriteString("[" + strconv.Itoa(s.index) + "]")
		case s.field == "":
			b.WriteString("[" + s.key + "]")
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(s.field)
		}
	}
	return b.String()
}

func (w *walker) push(s segment) { w.segs = append(w.segs, s) }
func (w *walker) pop()           { w.segs = w.segs[:len(w.segs)-1] }

// str visits one string.
func (w *walker) str(name, value string) bool {
	return value != "" && w.visit(w, name, value)
}

var (
	quantityType    = reflect.TypeFor[resource.Quantity]()
	intOrStringType = reflect.TypeFor[intstr.IntOrString]()
)

// value walks v, which stands under name.
func (w *walker) value(v reflect.Value, name string) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			w.value(v.Elem(), name)
		}
	case reflect.String:
		w.str(name, v.String())
	case reflect.Struct:
		w.structure(v)
	case reflect.Map:
		w.mapping(v)
	case reflect.Slice, reflect.Array:
		w.items(v, name)
	}
}

// structure walks a struct's fields; the value of a struct with a name
// and a value (an env var, a header) stands under the name.
func (w *walker) structure(v reflect.Value) {
	switch v.Type() {
	case quantityType:
		return
	case intOrStringType:
		if v.Field(0).Int() == int64(intstr.String) {
			w.str("", v.FieldByName("StrVal").String())
		}
		return
	}
	fields := jsonFields(v.Type())
	own := ""
	if fields.named >= 0 {
		own = v.FieldByIndex(fields.list[fields.named].index).String()
	}
	for i, f := range fields.list {
		fv, ok := fieldValue(v, f.index)
		if !ok {
			continue
		}
		name := f.name
		if i == fields.valued {
			name = own
		}
		w.push(segment{field: f.name, index: -1})
		w.value(fv, name)
		w.pop()
	}
}

// mapping walks a map in key order; each key is a string too.
func (w *walker) mapping(v reflect.Value) {
	if v.Type().Key().Kind() != reflect.String || v.Len() == 0 {
		return
	}
	if m, ok := v.Interface().(map[string]string); ok {
		for _, k := range sortedKeys(m) {
			w.push(segment{key: k, index: -1})
			w.str("", k)
			w.str(k, m[k])
			w.pop()
		}
		return
	}
	keys := make([]string, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		keys = append(keys, it.Key().String())
	}
	sort.Strings(keys)
	for _, k := range keys {
		w.push(segment{key: k, index: -1})
		w.str("", k)
		w.value(v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), k)
		w.pop()
	}
}

// items walks a list; in a list of strings (a command line) a word
// stands under the flag it belongs to, as argFields names it.
func (w *walker) items(v reflect.Value, name string) {
	if v.Type().Elem().Kind() == reflect.Uint8 {
		return // bytes: a Secret's or ConfigMap's binary data
	}
	words := v.Type().Elem().Kind() == reflect.String
	for i := range v.Len() {
		w.push(segment{index: i})
		if words {
			a := v.Index(i).String()
			if k, val, ok := strings.Cut(a, "="); !ok || !strings.HasPrefix(k, "-") || !w.str(k, val) {
				w.str(flagBefore(v, i), a)
			}
		} else {
			w.value(v.Index(i), name)
		}
		w.pop()
	}
}

// flagBefore returns the name of words[i], see flagName.
func flagBefore(words reflect.Value, i int) string {
	if i == 0 {
		return ""
	}
	return flagName(words.Index(0).String(), words.Index(i-1).String())
}

// flagName returns the name a word of a command line stands under: prev,
// the word before it, if that is a flag without a value of its own
// ("--token" before "x"), else ""; a program's short flag for a password
// (redis-cli -a) is named "--password".
func flagName(program, prev string) string {
	if !strings.HasPrefix(prev, "-") || strings.Contains(prev, "=") {
		return ""
	}
	if len(prev) == 2 && passwordFlags[path.Base(program)+" "+prev] {
		return "--password"
	}
	return prev
}

// passwordFlags are the short flags some programs take a password with.
var passwordFlags = map[string]bool{"redis-cli -a": true, "sshpass -p": true}

// jsonField is an exported field as encoding/json writes it.
type jsonField struct {
	name  string
	index []int
}

// typeFields are a struct type's fields, with the indexes of its "name"
// and "value" fields when it has both as strings (else -1).
type typeFields struct {
	list          []jsonField
	named, valued int
}

var fieldCache sync.Map // reflect.Type -> *typeFields

// jsonFields returns the fields of t, inline structs merged, cached.
func jsonFields(t reflect.Type) *typeFields {
	if f, ok := fieldCache.Load(t); ok {
		return f.(*typeFields)
	}
	tf := &typeFields{named: -1, valued: -1}
	collectFields(t, nil, tf)
	n, val := -1, -1
	for i, f := range tf.list {
		if ft := t.FieldByIndex(f.index).Type; ft.Kind() == reflect.String {
			switch f.name {
			case "name":
				n = i
			case "value":
				val = i
			}
		}
	}
	if n >= 0 && val >= 0 {
		tf.named, tf.valued = n, val
	}
	fieldCache.Store(t, tf)
	return tf
}

func collectFields(t reflect.Type, prefix []int, tf *typeFields) {
	for i := range t.NumField() {
		f := t.Field(i)
		tag, _, _ := strings.Cut(f.Tag.Get("json"), ",")
		index := append(append([]int(nil), prefix...), i)
		switch {
		case !f.IsExported() || tag == "-":
		case f.Anonymous && tag == "" && f.Type.Kind() == reflect.Struct:
			collectFields(f.Type, index, tf)
		default:
			if tag == "" {
				tag = f.Name
			}
			tf.list = append(tf.list, jsonField{name: tag, index: index})
		}
	}
}

// fieldValue returns the field at index of v, false through a nil
// embedded pointer.
func fieldValue(v reflect.Value, index []int) (reflect.Value, bool) {
	for _, i := range index {
		if v.Kind() == reflect.Pointer {
			if v.IsNil() {
				return reflect.Value{}, false
			}
			v = v.Elem()
		}
		v = v.Field(i)
	}
	return v, true
}
