package stagecraft

import (
	"fmt"
	"reflect"
	"sort"
	"strings"
	"time"
	"unicode/utf8"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// validateText walks props (a struct) and reports every string that holds
// a control character other than tab, newline and carriage return: YAML
// cannot carry them, so the manifests could not be written.
func validateText(props any) field.ErrorList {
	var errs field.ErrorList
	walkText(&errs, nil, reflect.ValueOf(props))
	return errs
}

var durationType = reflect.TypeOf(time.Duration(0))

func walkText(errs *field.ErrorList, fld *field.Path, v reflect.Value) {
	switch v.Kind() {
	case reflect.Pointer, reflect.Interface:
		if !v.IsNil() {
			// Constructs referred to (storage, stages) are checked on their own.
			if _, ok := v.Interface().(part); ok {
				return
			}
			walkText(errs, fld, v.Elem())
		}
	case reflect.Struct:
		t := v.Type()
		for i := 0; i < t.NumField(); i++ {
			f := t.Field(i)
			if !f.IsExported() {
				continue
			}
			child := fld
			if !f.Anonymous {
				if child == nil {
					child = field.NewPath(f.Name)
				} else {
					child = child.Child(f.Name)
				}
			}
			walkText(errs, child, v.Field(i))
		}
	case reflect.Slice, reflect.Array:
		for i := 0; i < v.Len(); i++ {
			walkText(errs, fld.Index(i), v.Index(i))
		}
	case reflect.Map:
		keys := v.MapKeys()
		sort.Slice(keys, func(i, j int) bool { return fmt.Sprint(keys[i]) < fmt.Sprint(keys[j]) })
		for _, k := range keys {
			kf := fld.Key(fmt.Sprint(k.Interface()))
			walkText(errs, kf, k)
			walkText(errs, kf, v.MapIndex(k))
		}
	case reflect.String:
		if v.Type() == durationType {
			return
		}
		if !utf8.ValidString(v.String()) {
			*errs = append(*errs, invalid(fld, v.String(), "is not valid UTF-8, which a YAML manifest must be"))
		} else if r, ok := controlChar(v.String()); ok {
			*errs = append(*errs, invalid(fld, v.String(), fmt.Sprintf("holds the character %U, which a YAML manifest cannot carry (control characters other than tab and line breaks, and U+FFFE and U+FFFF)", r)))
		}
	}
}

// controlChar returns the first character of s that YAML's printable set
// lacks.
func controlChar(s string) (rune, bool) {
	i := strings.IndexFunc(s, func(r rune) bool {
		return (r < 0x20 && r != '\t' && r != '\n' && r != '\r') || (r >= 0x7f && r <= 0x9f && r != 0x85) ||
			(r >= 0xd800 && r <= 0xdfff) || r == 0xfffe || r == 0xffff
	})
	if i < 0 {
		return 0, false
	}
	return []rune(s[i:])[0], true
}
