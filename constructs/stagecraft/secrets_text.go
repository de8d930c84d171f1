package stagecraft

import (
	"encoding/base64"
	"regexp"
	"strings"
	"unicode"
	"unicode/utf8"
)

// Secrets inside free text: a shell command, a connection string, a
// config file passed as one value. The shapes are those secret scanners
// look for in source code (gitleaks' generic and curl rules, for one):
// a secret-like name assigned a literal, a literal after a password flag,
// a bearer token, mysql's -p<password>, and base64 blobs that decode to
// any of these or to a user:password pair.

var (
	// assignment is name=value: a shell variable, a flag, a query or a
	// connection string's key (JDBC's password=, Azure's AccountKey=).
	assignment = regexp.MustCompile(`([A-Za-z][A-Za-z0-9_.-]*)=("[^"]*"|'[^']*'|[^\s;&,'"()\]}]+)`)
	// jsonPair is "name": "value" in JSON or YAML text, "name" => "value"
	// in Ruby or PHP, ("name", "value") in a call.
	jsonPair = regexp.MustCompile(`["']([A-Za-z0-9_.-]*[A-Za-z][A-Za-z0-9_.-]*)["']\s*(?::|,|=>)\s*("[^"]*"|'[^']*')`)
	// keyed is a name, an operator of a config or programming language
	// (name: v, name = "v", name := "v", var name string = "v") and a value.
	keyed = regexp.MustCompile(`([A-Za-z0-9_.-]*[A-Za-z][A-Za-z0-9_.-]*)(?:\s+(?:string|str|String))?\s*(?::{1,3}=|\?=|\.=|\|\|=|=>|:|=)\s*` +
		"(\"[^\"\n]*\"|'[^'\n]*'|`[^`\n]*`|[^\\s\"'`;,)]+)")
	// xmlElement is <name>value</name>.
	xmlElement = regexp.MustCompile(`<([A-Za-z0-9_.-]*[A-Za-z][A-Za-z0-9_.-]*)>\s*([^<\s]+)\s*</`)
	// flagWord is a flag followed by its value in a command line.
	flagWord = regexp.MustCompile(`(?:^|\s)--?([A-Za-z][A-Za-z0-9_-]*)\s+("[^"]*"|'[^']*'|[^\s;&|'"-][^\s;&|'"]*)`)
	// bearer is an HTTP bearer token.
	bearer = regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)`)
	// authorization is the credentials of an HTTP Authorization header
	// (after its scheme: Basic, Token, Api-Token).
	authorization = regexp.MustCompile(`(?i)\bauthorization["']?\s*:\s*(?:[A-Za-z-]+\s+)?([^\s"'\\]{8,})`)
	// userFlag is curl's (and wget's) user:password, after -u or --user,
	// or in a curl command after -u last of combined short flags (-su,
	// -fsu, -sku).
	userFlag = regexp.MustCompile(`(?:(?:^|\s)(?:-u|--user|--proxy-user)|\bcurl\b[^|;&\n]*?\s-[A-Za-z]+u)(?:\s+|=)("[^"]*"|'[^']*'|[^\s"']+)`)
	// redisPassword is redis-cli's -a password.
	redisPassword = regexp.MustCompile(`\bredis-cli\b[^|;&]*?\s-a\s+("[^"]*"|'[^']*'|[^\s;&|'"]+)`)
	// mysqlPassword is the password of the mysql clients, glued to -p.
	mysqlPassword = regexp.MustCompile(`\bmysql(?:dump|admin|import|check|sh)?\b[^|;&]*?\s-p([^\s;&|'"]+)`)
	// base64Blob is a run of base64 (standard or URL-safe alphabet).
	base64Blob = regexp.MustCompile(`[A-Za-z0-9+/_-]{12,}={0,2}`)
	// userPassword is a decoded "user:password" pair (HTTP basic auth).
	userPassword = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}:[^\s:]{3,}$`)
)

// secretWordStarts are the words secretName looks for, by first letter:
// a text without one holds no secret-like name.
var secretWordStarts = func() (out [26][]string) {
	for _, w := range []string{"auth", "cred", "dsn", "hmac", "key", "pass", "pwd", "secret", "salt", "signature", "token"} {
		out[w[0]-'a'] = append(out[w[0]-'a'], w)
	}
	return out
}()

// hasSecretWord reports whether v holds one of secretWordStarts, in any
// case.
func hasSecretWord(v string) bool {
	for i := 0; i < len(v); i++ {
		c := v[i] | 0x20 // ASCII lower case
		if c < 'a' || c > 'z' {
			continue
		}
		for _, w := range secretWordStarts[c-'a'] {
			if len(v)-i >= len(w) && strings.EqualFold(v[i:i+len(w)], w) {
				return true
			}
		}
	}
	return false
}

// unquote drops the quotes around a captured value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'' || v[0] == '`') && v[len(v)-1] == v[0] {
		return v[1 : len(v)-1]
	}
	return v
}

// literalValue reports whether v, a value found after a secret-like name
// in free text, is a literal: not empty, no reference to a variable
// ($VAR, $(VAR), ${VAR}), no placeholder (<password>), and not one of the
// values notALiteral accepts.
func literalValue(v string) bool {
	v = unquote(v)
	if v == "" || strings.HasPrefix(v, "$") || strings.HasPrefix(v, "<") || strings.HasPrefix(v, "%") {
		return false
	}
	return !notALiteral(v)
}

// textRule is a shape of a secret in free text: re finds it, the
// submatch name (0 for none) is the name it stands under and value the
// secret; pass reports whether the text may hold re's shape at all.
type textRule struct {
	re          *regexp.Regexp
	name, value int
	pass        func(v string) bool
	why         func(name, value string) string
}

func containsByte(b byte) func(string) bool {
	return func(v string) bool { return strings.IndexByte(v, b) >= 0 }
}

// underSecretName accepts a literal under a secret-like name, or a long
// random value under a key-like one.
func underSecretName(what string) func(name, value string) string {
	return func(name, value string) string {
		strong, weak := secretName(name)
		if strong && literalValue(value) || weak && highEntropy(unquote(value)) {
			return what + " " + quote(name)
		}
		return ""
	}
}

// keyLike reports whether a literal, found after a secret-like name and
// an operator that prose uses too (a colon), looks like a key rather than
// a word: six characters or more, with a digit or both cases.
func keyLike(v string) bool {
	v = unquote(v)
	lower, upper, digit := false, false, false
	for _, r := range v {
		lower = lower || unicode.IsLower(r)
		upper = upper || unicode.IsUpper(r)
		digit = digit || unicode.IsDigit(r)
	}
	return len(v) >= 6 && (digit || lower && upper)
}

// keyedSecret accepts a key-like literal under a secret-like name.
func keyedSecret(what string) func(name, value string) string {
	inner := underSecretName(what)
	return func(name, value string) string {
		if !keyLike(value) {
			return ""
		}
		return inner(name, value)
	}
}

var textRules = []textRule{
	{assignment, 1, 2, containsByte('='), underSecretName("assigns a literal to the secret-like name")},
	{jsonPair, 1, 2, func(v string) bool { return strings.ContainsAny(v, `"'`) }, underSecretName("gives a literal to the secret-like key")},
	{keyed, 1, 2, func(v string) bool { return strings.ContainsAny(v, "=:") }, keyedSecret("gives a literal to the secret-like name")},
	{xmlElement, 1, 2, containsByte('<'), keyedSecret("gives a literal to the secret-like element")},
	{flagWord, 1, 2, containsByte(' '), underSecretName("passes a literal to the secret-like flag")},
	{bearer, 0, 1, func(v string) bool { return strings.Contains(v, "earer ") || strings.Contains(v, "EARER ") }, func(_, v string) string {
		if literalValue(v) && strings.IndexFunc(v, func(r rune) bool { return !unicode.IsLower(r) }) >= 0 {
			return "holds a literal bearer token"
		}
		return ""
	}},
	{authorization, 0, 1, func(v string) bool { return strings.Contains(v, "uthorization") || strings.Contains(v, "UTHORIZATION") }, func(_, v string) string {
		if literalValue(v) && keyLike(v) {
			return "holds a literal Authorization header"
		}
		return ""
	}},
	{userFlag, 0, 1, mayHoldUserFlag, func(_, v string) string {
		if _, pw, _ := strings.Cut(unquote(v), ":"); literalValue(pw) {
			return "passes a literal user:password to -u/--user"
		}
		return ""
	}},
	{redisPassword, 0, 1, func(v string) bool { return strings.Contains(v, "redis-cli") }, func(_, v string) string {
		if literalValue(v) {
			return "passes a literal password to redis-cli's -a"
		}
		return ""
	}},
	{mysqlPassword, 0, 1, func(v string) bool { return strings.Contains(v, "mysql") }, func(_, v string) string {
		if literalValue(v) {
			return "passes a literal password to mysql's -p"
		}
		return ""
	}},
}

// mayHoldUserFlag reports whether v may hold userFlag: a -u, a short
// flag ending in u, or --user.
func mayHoldUserFlag(v string) bool {
	return strings.IndexByte(v, '-') >= 0 && (strings.Contains(v, "u ") || strings.Contains(v, "u=") || strings.Contains(v, "u\t") || strings.Contains(v, "-user"))
}

// spaceEscapes returns v with each escaped line break or tab written as
// two characters (\n, \r, \t, as in printf's or echo -e's argument, or a
// JSON string) turned into two spaces: it separates what it separates
// once printed (printf 'user=etl\npassword=x'), and keeps every offset.
func spaceEscapes(v string) string {
	if strings.IndexByte(v, '\\') < 0 {
		return v
	}
	b := []byte(v)
	for i := 0; i+1 < len(b); i++ {
		if b[i] == '\\' && (b[i+1] == 'n' || b[i+1] == 'r' || b[i+1] == 't') {
			b[i], b[i+1] = ' ', ' '
			i++
		}
	}
	return string(b)
}

// textMatches calls f with why and where (start, end) each secret of the
// text rules is in v, until f returns false.
func textMatches(v string, f func(why string, start, end int) bool) {
	v = spaceEscapes(v)
	named := hasSecretWord(v)
	for _, r := range textRules {
		if r.name > 0 && !named || !r.pass(v) {
			continue
		}
		for _, m := range r.re.FindAllStringSubmatchIndex(v, -1) {
			name := ""
			if r.name > 0 {
				name = v[m[2*r.name]:m[2*r.name+1]]
			}
			start, end := m[2*r.value], m[2*r.value+1]
			if why := r.why(name, unquote(v[start:end])); why != "" && !f(why, start, end) {
				return
			}
		}
	}
}

// textSecret returns why the free text v holds a secret, or "".
func textSecret(v string) string {
	found := ""
	textMatches(v, func(why string, _, _ int) bool { found = why; return false })
	return found
}

// base64Secret returns why a base64 blob in v decodes to a credential, or
// "". Only blobs that decode to printable text are read, once (no
// base64 inside base64).
func base64Secret(v string) string { return base64SecretIn(v, 2) }

// base64SecretIn reads base64 inside base64 down to depth levels (a
// Docker config's "auth" is base64 of user:password inside base64).
func base64SecretIn(v string, depth int) string {
	// Base64 of text has both cases: names and hex digests are no base64.
	if depth == 0 || len(v) < 12 || strings.IndexFunc(v, unicode.IsUpper) < 0 || strings.IndexFunc(v, unicode.IsLower) < 0 {
		return ""
	}
	for _, blob := range base64Blob.FindAllString(v, -1) {
		text, ok := decodeBase64(blob)
		if !ok {
			continue
		}
		if userPassword.MatchString(text) {
			return "holds base64 that decodes to a user:password pair"
		}
		if why := shapeSecret(text); why != "" {
			return "holds base64 that decodes to text that " + why
		}
		if why := base64SecretIn(text, depth-1); why != "" {
			return "holds base64 that decodes to text that " + why
		}
	}
	return ""
}

// decodeBase64 decodes blob in either alphabet, padded or not, and
// returns it if it is printable text.
func decodeBase64(blob string) (string, bool) {
	raw := strings.TrimRight(blob, "=")
	enc := base64.RawStdEncoding
	if strings.ContainsAny(raw, "-_") {
		enc = base64.RawURLEncoding
	}
	b, err := enc.DecodeString(raw)
	if err != nil || len(b) < 6 || !utf8.Valid(b) {
		return "", false
	}
	text := string(b)
	for _, r := range text {
		if !unicode.IsPrint(r) && r != '\n' && r != '\r' && r != '\t' {
			return "", false
		}
	}
	return text, true
}
