package yamlout

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
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

// yaml11Break reports whether s holds NEL (U+0085), a line break to a
// YAML 1.1 reader in every scalar style but an escape of a double-quoted
// one: PyYAML reads a plain "x<NEL>y" as "x y". sigs.k8s.io/yaml writes it
// as any other character (plain, single-quoted or in a block scalar).
// U+2028 and U+2029, YAML 1.1's other line breaks, sigs.k8s.io/yaml
// already quotes so that they read back. It also reports the characters
// outside YAML's printable set that sigs.k8s.io/yaml refuses to write
// ("control characters are not allowed") and YAML allows only as escapes:
// DEL, the other C1 controls (U+007F to U+009F), U+FFFE and U+FFFF.
func yaml11Break(s string) bool {
	return strings.ContainsFunc(s, func(r rune) bool { return r >= 0x7f && r <= 0x9f || r == 0xfffe || r == 0xffff })
}

// escaped writes s as a double-quoted scalar on one line, every line
// break, control character and byte order mark as an escape (NEL as \N,
// U+2028 as \L, U+2029 as \P), which YAML 1.1 and 1.2 readers read back
// as the same string.
func escaped(s string) string {
	var b strings.Builder
	b.WriteByte('"')
	for _, r := range s {
		switch r {
		case '\\':
			b.WriteString(`\\`)
		case '"':
			b.WriteString(`\"`)
		case '\n':
			b.WriteString(`\n`)
		case '\t':
			b.WriteString(`\t`)
		case '\r':
			b.WriteString(`\r`)
		case '\u0085':
			b.WriteString(`\N`)
		case '\u2028':
			b.WriteString(`\L`)
		case '\u2029':
			b.WriteString(`\P`)
		default:
			if r < 0x20 || r >= 0x7f && r < 0xa0 || r == 0xfeff || r >= 0xfffd && r <= 0xffff {
				fmt.Fprintf(&b, `\u%04X`, r)
				continue
			}
			b.WriteRune(r)
		}
	}
	b.WriteByte('"')
	return b.String()
}

// breakToken is the plain scalar that stands for s, a string yaml11Break
// matches, in an object that goes through sigs.k8s.io/yaml whole; it is
// replaced by escaped(s) in the output. It depends on s alone, so that
// the output (and the order of keys) is the same on every run.
func breakToken(s string) string {
	sum := sha256.Sum256([]byte(s))
	return placeholder + "-nel-" + hex.EncodeToString(sum[:8])
}

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
	quoted, breaks, foreign := map[string]bool{}, map[string]string{}, false
	swapped := swapTags(obj, quoted, breaks, &foreign)
	if foreign {
		return nil, errors.New("yamlout: a string holds yamlout's own placeholder " + placeholder)
	}
	y, err := yaml.Marshal(swapped)
	if err != nil || len(quoted)+len(breaks) == 0 {
		return y, err
	}
	for token, s := range breaks {
		y = bytes.ReplaceAll(y, []byte(token), []byte(escaped(s)))
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
// matches and sigs.k8s.io/yaml writes plain followed by placeholder, and
// every string yaml11Break matches replaced by its breakToken, in copies
// of its maps and lists; n collects the first, breaks the second (by
// token), and foreign is set by a string that holds placeholder.
func swapTags(v any, n map[string]bool, breaks map[string]string, foreign *bool) any {
	switch t := v.(type) {
	case string:
		if yaml11Break(t) {
			token := breakToken(t)
			breaks[token] = t
			return token
		}
		if yaml11Tag(t) && sigsPlain(t) {
			n[t] = true
			return t + placeholder
		}
		*foreign = *foreign || strings.Contains(t, placeholder)
	case map[string]any:
		out := make(map[string]any, len(t))
		for k, x := range t {
			out[swapTags(k, n, breaks, foreign).(string)] = swapTags(x, n, breaks, foreign)
		}
		return out
	case []any:
		out := make([]any, len(t))
		for i, x := range t {
			out[i] = swapTags(x, n, breaks, foreign)
		}
		return out
	}
	return v
}
