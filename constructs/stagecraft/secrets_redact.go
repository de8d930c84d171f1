package stagecraft

import (
	"regexp"
	"sort"
	"strings"
)

// No problem repeats a secret of the input, whichever check found the
// value bad: Problem.String and FieldError cut what the detector finds by
// its shape out of everything they render (construct path, object, field
// path, value and detail), and check cuts the values it flagged by their
// names (a literal under DB_PASSWORD) out of every problem of the app.

// redacted stands in a problem for a value that holds a secret.
const redacted = "(redacted)"

// secretSpans returns where the secrets are in v that the detector finds
// by their shape, whatever their name, as [start, end) pairs.
func secretSpans(v string) [][2]int {
	var out [][2]int
	if len(v) >= 14 {
		for _, t := range tokenShapes {
			for _, m := range t.spans(v) {
				out = append(out, [2]int{m[0], m[1]})
			}
		}
		vendorSpans(v, func(_ string, start, end int) bool {
			out = append(out, [2]int{start, end})
			return true
		})
	}
	if strings.Contains(v, "://") {
		for _, m := range urlWithUserinfo.FindAllStringIndex(v, -1) {
			if _, ok := urlPassword(v[m[0]:m[1]]); ok {
				out = append(out, [2]int{m[0], m[1]})
			}
		}
	}
	if strings.IndexByte(v, '@') >= 0 {
		out = append(out, userinfoPasswords(v)...)
	}
	textMatches(v, func(_ string, start, end int) bool {
		out = append(out, [2]int{start, end})
		return true
	})
	if len(v) >= 12 {
		for _, m := range base64Blob.FindAllStringIndex(v, -1) {
			if base64Secret(v[m[0]:m[1]]) != "" {
				out = append(out, [2]int{m[0], m[1]})
			}
		}
	}
	return out
}

// userinfo is user:password@host without a scheme, as an image
// reference or a host name can be mistyped (bot:pw@registry.example.com).
var userinfo = regexp.MustCompile(`(?:^|[^A-Za-z0-9._%+~-])[A-Za-z0-9._%+~-]+:([^\s/@:"']+)@([A-Za-z0-9-]+)`)

// userinfoPasswords returns where the literal passwords of userinfo are
// in v; an image's tag before its digest (x:1.2@sha256:...) is none.
func userinfoPasswords(v string) [][2]int {
	var out [][2]int
	for _, m := range userinfo.FindAllStringSubmatchIndex(v, -1) {
		host := v[m[4]:m[5]]
		if literalValue(v[m[2]:m[3]]) && !(strings.HasPrefix(host, "sha") && m[5] < len(v) && v[m[5]] == ':') {
			out = append(out, [2]int{m[2], m[3]})
		}
	}
	return out
}

// redactText replaces in s each secret found by its shape, and each
// occurrence of the known secrets, with "(redacted)".
func redactText(s string, known []string) string {
	spans := secretSpans(s)
	for _, k := range known {
		for i := 0; len(k) >= minKnownSecret && i < len(s); {
			j := strings.Index(s[i:], k)
			if j < 0 {
				break
			}
			spans = append(spans, [2]int{i + j, i + j + len(k)})
			i += j + len(k)
		}
	}
	if len(spans) == 0 {
		return s
	}
	sort.Slice(spans, func(i, j int) bool { return spans[i][0] < spans[j][0] })
	var b strings.Builder
	at := 0
	for _, sp := range spans {
		if sp[1] <= at {
			continue
		}
		if sp[0] > at {
			b.WriteString(s[at:sp[0]])
		}
		b.WriteString(redacted)
		at = sp[1]
	}
	b.WriteString(s[at:])
	return b.String()
}

// minKnownSecret is the length from which a known secret is cut out of
// any text; a shorter one only where it is the whole value.
const minKnownSecret = 4

// redactValue returns v, or if its rendering holds a secret, the
// rendering with the secrets cut out.
func redactValue(v any, known []string) any {
	if v == nil {
		return nil
	}
	if s, ok := v.(string); ok {
		for _, k := range known {
			if s == k {
				return redacted
			}
		}
		if r := redactText(s, known); r != s {
			return r
		}
		return v
	}
	text := renderValue(v)
	if r := redactText(text, known); r != text {
		return r
	}
	return v
}

// redactProblems cuts the known secrets, and those found by their shape,
// out of the objects, field paths, values and details of ps (the
// construct path stays as it is, for ValidationError.For; String cuts
// what has a secret's shape out of it).
func redactProblems(ps []Problem, known []string) {
	for i := range ps {
		ps[i].Object = redactText(ps[i].Object, known)
		ps[i].Field = redactText(ps[i].Field, known)
		ps[i].Value = redactValue(ps[i].Value, known)
		ps[i].Detail = redactText(ps[i].Detail, known)
	}
}

// reportedSecrets returns the values the scan reported.
func (s *secretScan) reportedSecrets() []string {
	out := make([]string, 0, len(s.reported))
	for v := range s.reported {
		out = append(out, v)
	}
	return out
}

// flaggedLiterals returns the literal values of the pipelines' props that
// the detector flags (and NotSecrets does not accept), longest first.
func flaggedLiterals(pipelines []*Pipeline) []string {
	seen := map[string]bool{}
	add := func(fields []valueField, notSecrets []string) {
		ok := map[string]bool{}
		for _, p := range notSecrets {
			ok[p] = true
		}
		for _, f := range fields {
			if !ok[f.path] && !seen[f.value] && looksSecret(f.name, f.value) != "" {
				seen[f.value] = true
			}
		}
	}
	for _, p := range pipelines {
		add(mapFields("Labels", p.props.Labels, insteadMeta), p.props.NotSecrets)
		for _, c := range p.parts {
			add(secretFields(c))
		}
	}
	out := make([]string, 0, len(seen))
	for v := range seen {
		out = append(out, v)
	}
	sort.Slice(out, func(i, j int) bool { return len(out[i]) > len(out[j]) || len(out[i]) == len(out[j]) && out[i] < out[j] })
	return out
}
