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
	// jsonPair is "name": "value" in JSON or YAML text.
	jsonPair = regexp.MustCompile(`"([A-Za-z][A-Za-z0-9_.-]*)"\s*:\s*"([^"]*)"`)
	// flagWord is a flag followed by its value in a command line.
	flagWord = regexp.MustCompile(`(?:^|\s)--?([A-Za-z][A-Za-z0-9_-]*)\s+("[^"]*"|'[^']*'|[^\s;&|'"-][^\s;&|'"]*)`)
	// bearer is an HTTP bearer token.
	bearer = regexp.MustCompile(`(?i)\bbearer\s+([A-Za-z0-9._~+/-]{8,}=*)`)
	// mysqlPassword is the password of the mysql clients, glued to -p.
	mysqlPassword = regexp.MustCompile(`\bmysql(?:dump|admin|import|check|sh)?\b[^|;&]*?\s-p([^\s;&|'"]+)`)
	// base64Blob is a run of base64 (standard or URL-safe alphabet).
	base64Blob = regexp.MustCompile(`[A-Za-z0-9+/_-]{12,}={0,2}`)
	// userPassword is a decoded "user:password" pair (HTTP basic auth).
	userPassword = regexp.MustCompile(`^[A-Za-z0-9._@+-]{1,64}:[^\s:]{3,}$`)
)

// unquote drops the quotes around a captured value.
func unquote(v string) string {
	if len(v) >= 2 && (v[0] == '"' || v[0] == '\'') && v[len(v)-1] == v[0] {
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

// textSecret returns why the free text v holds a secret, or "".
func textSecret(v string) string {
	if strings.IndexByte(v, '=') >= 0 {
		for _, m := range assignment.FindAllStringSubmatch(v, -1) {
			if strong, _ := secretName(m[1]); strong && literalValue(m[2]) {
				return "assigns a literal to the secret-like name " + quote(m[1])
			}
		}
	}
	if strings.IndexByte(v, '"') >= 0 {
		for _, m := range jsonPair.FindAllStringSubmatch(v, -1) {
			if strong, _ := secretName(m[1]); strong && literalValue(m[2]) {
				return "gives a literal to the secret-like key " + quote(m[1])
			}
		}
	}
	if strings.IndexByte(v, ' ') >= 0 {
		for _, m := range flagWord.FindAllStringSubmatch(v, -1) {
			if strong, _ := secretName(m[1]); strong && literalValue(m[2]) {
				return "passes a literal to the secret-like flag " + quote(m[1])
			}
		}
		for _, m := range bearer.FindAllStringSubmatch(v, -1) {
			if literalValue(m[1]) && strings.IndexFunc(m[1], func(r rune) bool { return !unicode.IsLower(r) }) >= 0 {
				return "holds a literal bearer token"
			}
		}
		if m := mysqlPassword.FindStringSubmatch(v); m != nil && literalValue(m[1]) {
			return "passes a literal password to mysql's -p"
		}
	}
	return ""
}

// base64Secret returns why a base64 blob in v decodes to a credential, or
// "". Only blobs that decode to printable text are read, once (no
// base64 inside base64).
func base64Secret(v string) string {
	if len(v) < 12 {
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
		if why := textSecret(text); why != "" {
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
