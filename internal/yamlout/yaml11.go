package yamlout

import (
	"bytes"
	"encoding/json"
	"errors"
	"regexp"
	"strings"

	"sigs.k8s.io/yaml"
)

// yaml11Other matches the plain scalars that YAML 1.1's type repository
// (https://yaml.org/type/) resolves to another type than a string: bool,
// null, int, float (PyYAML's too: 1e3), timestamp, merge ("<<"), value
// ("=") and yaml ("!", "&", "*").
var yaml11Other = regexp.MustCompile(`^(?:` +
	`[yYnN]|[yY]es|YES|[nN]o|NO|[tT]rue|TRUE|[fF]alse|FALSE|[oO]n|ON|[oO]ff|OFF|~|[nN]ull|NULL|` +
	`|[-+]?(?:0b[01_]+|0[0-7_]+|0|[1-9][0-9_]*|0x[0-9a-fA-F_]+|[1-9][0-9_]*(?::[0-5]?[0-9])+)` +
	`|[-+]?(?:[0-9][0-9_]*)?\.[0-9_]*(?:[eE][-+]?[0-9]+)?|[-+]?[0-9][0-9_]*(?:\.[0-9_]*)?[eE][-+]?[0-9]+` +
	`|[-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*|[-+]?\.(?:inf|Inf|INF)|\.(?:nan|NaN|NAN)` +
	`|[0-9]{4}-[0-9]{1,2}-[0-9]{1,2}(?:(?:[Tt]|[ \t]+)[0-9]{1,2}:[0-9]{2}:[0-9]{2}(?:\.[0-9]*)?(?:[ \t]*(?:Z|[-+][0-9]{1,2}(?::[0-9]{2})?))?)?` +
	`|<<|=|[!&*]` +
	`)$`)

// yaml11Tag reports whether s, written plain, is not a string to a YAML
// 1.1 reader.
func yaml11Tag(s string) bool { return yaml11Other.MatchString(s) }

// quote writes s, a string sigs.k8s.io/yaml writes plain (so free of
// control characters), double-quoted.
func quote(s string) string {
	return `"` + strings.ReplaceAll(strings.ReplaceAll(s, `\`, `\\`), `"`, `\"`) + `"`
}

// String returns s as yamlout writes a string scalar on one line: plain
// when that reads back as the same string under YAML 1.1 and 1.2, else
// quoted. It is for files written by hand around the objects, such as a
// kustomization's list of resources.
func String(s string) string {
	e := newEmitter()
	if e.scalar(s) != nil {
		j, _ := json.Marshal(s) // a JSON string is a YAML double-quoted scalar
		return string(j)
	}
	return e.buf.String()
}

// sigsPlain reports whether sigs.k8s.io/yaml writes s plain.
func sigsPlain(s string) bool {
	y, err := yaml.Marshal(s)
	return err == nil && string(y) == s+"\n"
}

// placeholder follows each string that yaml11Tag matches in an object
// that goes through sigs.k8s.io/yaml whole (the slow path), so that it can
// be quoted in its output: "<s><placeholder>", written plain, becomes
// quote(s). Since the string comes first, a key keeps its place among the
// others but for keys that start with it.
const placeholder = "yamlout-yaml11-quote-4f1c"

// marshalSlow writes obj with sigs.k8s.io/yaml, then quotes the strings
// yaml11Tag matches as the direct path does.
func marshalSlow(obj map[string]any) ([]byte, error) {
	quoted, foreign := map[string]bool{}, false
	swapped := swapTags(obj, quoted, &foreign)
	if foreign {
		return nil, errors.New("yamlout: a string holds yamlout's own placeholder " + placeholder)
	}
	y, err := yaml.Marshal(swapped)
	if err != nil || len(quoted) == 0 {
		return y, err
	}
	for t := range quoted {
		y = bytes.ReplaceAll(y, []byte(t+placeholder), []byte(quote(t)))
	}
	if bytes.Contains(y, []byte(placeholder)) { // written in another form than plain
		return nil, errors.New("yamlout: sigs.k8s.io/yaml quoted yamlout's placeholder")
	}
	return y, nil
}

// swapTags returns v with every string (key or value) that yaml11Tag
// matches and sigs.k8s.io/yaml writes plain followed by placeholder, in copies of its maps and
// lists; n collects them, and foreign is set by a string that holds
// placeholder.
func swapTags(v any, n map[string]bool, foreign *bool) any {
	switch t := v.(type) {
	case string:
		if yaml11Tag(t) && sigsPlain(t) {
			n[t] = true
			return t + placeholder
		}
		*foreign = *foreign || strings.Contains(t, placeholder)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[swapTags(k, n, foreign).(string)] = swapTags(x, n, foreign)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = swapTags(x, n, foreign)
		}
		return out
	}
	return v
}
