package yamlout

import (
	"bytes"
	"errors"
	"reflect"
	"sync/atomic"

	"k8s.io/apimachinery/pkg/runtime"
)

// EncodeObject returns obj, a typed Kubernetes object (a pointer to a
// struct with encoding/json tags), as one YAML document: byte for byte
// what Encode(ToMap(obj)) returns, without the JSON round trip to maps. It
// walks obj's fields with reflection in the order ToMap's keys would be
// written, and drops what ToMap drops (status, nulls, empty objects) as it
// goes. An object it cannot write that way (a float32, a ",string" option,
// a map whose keys are not strings, invalid UTF-8, a value that needs
// sigs.k8s.io/yaml) takes the path through ToMap.
func (c *Encoder) EncodeObject(obj runtime.Object) ([]byte, error) {
	e := c.w.e
	e.buf.Reset()
	c.w.docs = 0
	v := reflect.ValueOf(obj)
	for v.Kind() == reflect.Pointer && !v.IsNil() {
		v = v.Elem()
	}
	err := errFallback
	if v.Kind() == reflect.Struct && !isMarshaler(v) {
		_, err = e.structFields(v, 0, false, true)
	}
	if errors.Is(err, errFallback) || errors.Is(err, errSlowPath) {
		fallbacks.Add(1)
		m, err := ToMap(obj)
		if err != nil {
			return nil, err
		}
		return c.Encode(m)
	}
	if err != nil {
		return nil, err
	}
	return bytes.Clone(e.buf.Bytes()), nil
}

// fallbacks counts the objects that EncodeObject wrote through ToMap, for
// tests.
var fallbacks atomic.Int64

// errFallback asks EncodeObject to take the path through ToMap.
var errFallback = errors.New("yamlout: needs the JSON round trip")

// structFields writes the fields of the struct v as a mapping at
// indentation n (inline: the first key continues the current line); top
// drops "status", as ToMap does. It reports whether it wrote any.
func (e *emitter) structFields(v reflect.Value, n int, inline, top bool) (bool, error) {
	info, err := fieldsOf(v.Type())
	if err != nil {
		return false, err
	}
	wrote := false
	for i := range info {
		f := &info[i]
		if top && f.name == "status" {
			continue
		}
		fv, ok := fieldByIndex(v, f.index)
		if !ok || f.omitEmpty && isEmptyValue(fv) || f.omitZero && isZero(fv) {
			continue
		}
		w, err := e.member(f.name, fv, n, inline && !wrote)
		if err != nil {
			return false, err
		}
		wrote = wrote || w
	}
	return wrote, nil
}

// member writes "key: value" at indentation n unless ToMap would drop it:
// a null, or an empty object under a key that keepEmpty does not list. It
// reports whether it wrote it.
func (e *emitter) member(key string, v reflect.Value, n int, first bool) (bool, error) {
	v, ok := deref(v)
	if !ok {
		return false, nil // null
	}
	if isMarshaler(v) {
		return e.generic(key, v, n, first)
	}
	mark := e.buf.Len()
	switch v.Kind() {
	case reflect.Struct, reflect.Map:
		if v.Kind() == reflect.Map && v.IsNil() {
			return false, nil
		}
		if err := e.key(key, n, first); err != nil {
			return false, err
		}
		e.buf.WriteString(":\n")
		wrote, err := e.object(v, n+2, false)
		if err != nil || wrote {
			return wrote, err
		}
		e.buf.Truncate(mark)
		if !keepEmpty[key] {
			return false, nil
		}
		if err := e.key(key, n, first); err != nil {
			return false, err
		}
		e.buf.WriteString(": {}\n")
		return true, nil
	case reflect.Slice, reflect.Array:
		if v.Kind() == reflect.Slice && v.IsNil() {
			return false, nil
		}
		if err := e.key(key, n, first); err != nil {
			return false, err
		}
		if isBytes(v) {
			e.buf.WriteString(": ")
			err := e.scalarValue(v)
			e.buf.WriteByte('\n')
			return true, err
		}
		if v.Len() == 0 {
			e.buf.WriteString(": []\n")
			return true, nil
		}
		e.buf.WriteString(":\n")
		return true, e.items(v, n)
	}
	if err := e.key(key, n, first); err != nil {
		return false, err
	}
	e.buf.WriteString(": ")
	if err := e.scalarValue(v); err != nil {
		return false, err
	}
	e.buf.WriteByte('\n')
	return true, nil
}

// object writes a struct's fields or a map's entries as a mapping.
func (e *emitter) object(v reflect.Value, n int, inline bool) (bool, error) {
	if v.Kind() == reflect.Struct {
		return e.structFields(v, n, inline, false)
	}
	if kt := v.Type().Key(); kt.Kind() != reflect.String || kt.Implements(textMarshaler) {
		return false, errFallback // keys that encoding/json converts
	}
	keys := make([]string, 0, v.Len())
	for it := v.MapRange(); it.Next(); {
		keys = append(keys, it.Key().String())
	}
	sortKeys(keys)
	wrote := false
	for _, k := range keys {
		w, err := e.member(k, v.MapIndex(reflect.ValueOf(k).Convert(v.Type().Key())), n, inline && !wrote)
		if err != nil {
			return false, err
		}
		wrote = wrote || w
	}
	return wrote, nil
}

// items writes the elements of a list at indentation n. ToMap keeps what
// a list holds as it is: nulls and empty objects included.
func (e *emitter) items(v reflect.Value, n int) error {
	for i := 0; i < v.Len(); i++ {
		e.indent(n)
		e.buf.WriteString("- ")
		item, ok := deref(v.Index(i))
		switch {
		case !ok:
			e.buf.WriteString("null\n")
		case isMarshaler(item):
			if err := e.genericItem(item, n); err != nil {
				return err
			}
		case item.Kind() == reflect.Struct || item.Kind() == reflect.Map:
			if item.Kind() == reflect.Map && item.IsNil() {
				e.buf.WriteString("null\n")
				continue
			}
			wrote, err := e.object(item, n+2, true)
			if err != nil {
				return err
			}
			if !wrote {
				e.buf.WriteString("{}\n")
			}
		case item.Kind() == reflect.Slice || item.Kind() == reflect.Array:
			return errSlowPath // lists of lists: the slow path writes them
		default:
			if err := e.scalarValue(item); err != nil {
				return err
			}
			e.buf.WriteByte('\n')
		}
	}
	return nil
}
