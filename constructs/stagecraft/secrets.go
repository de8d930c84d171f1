package stagecraft

import (
	"math"
	"net/url"
	"regexp"
	"strings"
	"unicode"
)

// The secret detector: which literal values look like credentials. A
// compact rule set in the manner of secret scanners (gitleaks, trufflehog,
// detect-secrets): well-known token shapes anywhere, passwords in URLs,
// and literal values under secret-like names. Those libraries were weighed
// and left out: gitleaks' rules live in a package that pulls viper, zerolog
// and about forty modules into the library's go.mod; trufflehog's detectors
// pull more; neither is needed to recognise the shapes below.

// tokenShape is a well-known credential format: re finds it, and ok
// (when set) accepts each match. pre is a cheap test a value must pass
// for re to run at all: most strings of an object hold none of the
// shapes' keywords (as gitleaks' rules have keywords).
type tokenShape struct {
	name string
	re   *regexp.Regexp
	pre  func(v string) bool
	ok   func(match string) bool
}

// shape is a token shape that only values with one of the keywords can
// hold.
func shape(name, pattern string, keywords ...string) tokenShape {
	return tokenShape{name: name, re: regexp.MustCompile(pattern), pre: func(v string) bool {
		for _, k := range keywords {
			if strings.Contains(v, k) {
				return true
			}
		}
		return false
	}}
}

// spans returns where the shape is in v.
func (t tokenShape) spans(v string) [][]int {
	if !t.pre(v) {
		return nil
	}
	ms := t.re.FindAllStringIndex(v, -1)
	if t.ok == nil {
		return ms
	}
	out := ms[:0]
	for _, m := range ms {
		if t.ok(v[m[0]:m[1]]) {
			out = append(out, m)
		}
	}
	return out
}

// tokenShapes are matched anywhere in a value.
var tokenShapes = []tokenShape{
	shape("an OpenAI or Anthropic API key", `\bsk-(?:proj-|ant-|svcacct-)?[A-Za-z0-9_-]{20,}`, "sk-"),
	shape("a GitHub token", `\b(?:gh[pousr]_[A-Za-z0-9]{30,}|github_pat_[A-Za-z0-9_]{30,})`, "gh", "github_pat_"),
	shape("a Hugging Face token", `\b(?:hf_|api_org_)[A-Za-z0-9]{30,}`, "hf_", "api_org_"),
	shape("an AWS access key ID", `\b(?:AKIA|ASIA|ABIA|ACCA)[A-Z0-9]{16}\b`, "AKIA", "ASIA", "ABIA", "ACCA"),
	shape("a GitLab token", `\bglpat-[A-Za-z0-9_-]{20,}`, "glpat-"),
	shape("a Slack token", `\b(?:xox[abposre]|xapp)-[A-Za-z0-9-]{10,}`, "xox", "xapp-"),
	shape("a Slack or Teams webhook URL", `hooks\.slack\.com/(?:services|workflows|triggers)/[A-Za-z0-9/+_-]{20,}|\.webhook\.office\.com/webhookb2/[A-Za-z0-9@/_-]{20,}`,
		"hooks.slack.com", "webhook.office.com"),
	shape("a Google API key", `\bAIza[0-9A-Za-z_-]{35}`, "AIza"),
	shape("a Stripe key", `\b(?:sk|rk)_(?:live|test|prod)_[A-Za-z0-9]{20,}`, "k_live_", "k_test_", "k_prod_"),
	shape("an Azure AD client secret", `(?:^|[^A-Za-z0-9_~.-])[A-Za-z0-9_~.]{3}\dQ~[A-Za-z0-9_~.-]{31,34}`, "Q~"),
	shape("an OpenShift token", `\bsha256~[A-Za-z0-9_-]{43}`, "sha256~"),
	shape("a private key", `-----BEGIN[A-Z ]*PRIVATE KEY(?: BLOCK)?-----`, "PRIVATE KEY"),
	shape("a JSON Web Token", `\bey[A-Za-z0-9_-]{10,}\.ey[A-Za-z0-9/\\_-]{10,}\.[A-Za-z0-9/\\_-]*`, ".ey"),
	// The tokens of many services: a short prefix and a separator, then a
	// long random body (ntn_..., sgp_..., hvs....), in both cases and
	// with digits, which no Kubernetes name and no hex digest has.
	{name: "an API token", re: regexp.MustCompile(`\b[A-Za-z][A-Za-z0-9]{1,9}(?:[_.][A-Za-z0-9]{1,9})?[_.-][A-Za-z0-9_-]{24,}`),
		pre: func(v string) bool { return len(v) >= 27 && mixed(v) }, ok: randomBody},
}

// mixed reports whether v has upper and lower case letters and digits.
func mixed(v string) bool {
	lower, upper, digit := false, false, false
	for i := 0; i < len(v); i++ {
		c := v[i]
		lower = lower || 'a' <= c && c <= 'z'
		upper = upper || 'A' <= c && c <= 'Z'
		digit = digit || '0' <= c && c <= '9'
	}
	return lower && upper && digit
}

// randomBody accepts a prefixed token whose body is random: upper and
// lower case and digits, varied; an integrity hash (sha256-...) is not.
func randomBody(m string) bool {
	if strings.HasPrefix(strings.ToLower(m), "sha") {
		return false
	}
	i := strings.LastIndexAny(m[:min(len(m), 21)], "_.-")
	body := m[i+1:]
	return mixed(body) && entropy(body) >= 3.5
}

// urlWithUserinfo finds URLs that carry a user and a password.
var urlWithUserinfo = regexp.MustCompile(`[A-Za-z][A-Za-z0-9+.-]*://[^\s/@]+@[^\s]*`)

// Words of a name that say its value is a secret, alone or in pairs.
var (
	secretWords = map[string]bool{"password": true, "passwd": true, "pwd": true, "secret": true, "token": true, "apikey": true, "credential": true, "credentials": true, "passphrase": true,
		"accesskey": true, "secretkey": true, "privatekey": true}
	secretWordPairs = map[[2]string]bool{{"api", "key"}: true, {"private", "key"}: true, {"access", "key"}: true, {"secret", "key"}: true, {"auth", "key"}: true, {"signing", "key"}: true,
		{"account", "key"}: true}
	// Endings of one-word names that say the same (PGPASSWORD, apitoken).
	secretSuffixes = []string{"password", "passwd", "token", "secret"}
	// Words that, last in a name, say the value only points at a secret or
	// describes one (TOKEN_FILE, SECRET_NAME, ACCESS_KEY_ID, passwordFromEnv).
	pointerWords = map[string]bool{"file": true, "path": true, "dir": true, "name": true, "ref": true, "id": true, "url": true, "endpoint": true,
		"env": true, "type": true, "length": true, "len": true, "size": true, "ttl": true, "expiry": true, "header": true, "field": true,
		"issuer": true, "iss": true, "audience": true, "aud": true, "algorithm": true, "alg": true, "uri": true, "host": true, "count": true, "limit": true}
	// Words of names under which a long random value is a key.
	keyWords = map[string]bool{"key": true, "auth": true, "signature": true, "salt": true, "hmac": true, "dsn": true}
)

// nameWords splits a name into lower-case words: DB_PASSWORD, apiKey,
// x-auth-token and --api-key all give their words.
func nameWords(name string) []string {
	var words []string
	var cur []rune
	flush := func() {
		if len(cur) > 0 {
			words = append(words, strings.ToLower(string(cur)))
			cur = cur[:0]
		}
	}
	prev := rune(0)
	for _, r := range name {
		switch {
		case !unicode.IsLetter(r) && !unicode.IsDigit(r):
			flush()
		case unicode.IsUpper(r) && unicode.IsLower(prev):
			flush()
			cur = append(cur, r)
		default:
			cur = append(cur, r)
		}
		prev = r
	}
	flush()
	return words
}

// secretName reports whether name says its value is a secret (strong), or
// that a long random value under it is a key (weak).
func secretName(name string) (strong, weak bool) {
	words := nameWords(name)
	if len(words) == 0 || pointerWords[words[len(words)-1]] {
		return false, false
	}
	for i, w := range words {
		if secretWords[w] || (i > 0 && secretWordPairs[[2]string{words[i-1], w}]) || secretSuffix(w) {
			return true, true
		}
		weak = weak || keyWords[w] && !(w == "key" && i > 0 && dataKeys[words[i-1]])
	}
	return false, weak
}

// dataKeys are the words before "key" in the names of keys that address
// data, not secrets (CACHE_KEY, PARTITION_KEY, S3_KEY).
var dataKeys = map[string]bool{"cache": true, "partition": true, "sort": true, "shard": true, "routing": true, "object": true, "s3": true,
	"idempotency": true, "primary": true, "foreign": true, "dedup": true, "hash": true, "row": true, "lookup": true, "group": true, "order": true}

// secretSuffix reports whether a word ends in a secret word, as
// PGPASSWORD and apitoken do.
func secretSuffix(w string) bool {
	for _, suf := range secretSuffixes {
		if len(w) > len(suf) && strings.HasSuffix(w, suf) {
			return true
		}
	}
	return false
}

// notALiteral reports whether a value under a secret-like name is no
// secret itself: empty, a boolean or number, a reference to a variable
// ($(VAR), ${VAR}), a file path, a URL without a password (an issuer or
// an audience), or the name of an algorithm (RS256, AES-256-GCM).
func notALiteral(v string) bool {
	v = strings.TrimSpace(v)
	switch strings.ToLower(v) {
	case "", "true", "false", "yes", "no", "none", "null":
		return true
	}
	if strings.HasPrefix(v, "/") || strings.HasPrefix(v, "$(") || strings.HasPrefix(v, "${") || algorithmName.MatchString(v) {
		return true
	}
	if u, err := url.Parse(v); err == nil && u.Scheme != "" && u.Host != "" && u.User == nil {
		return true
	}
	// A number, unless it is as long as the numeric IDs and secrets of
	// some services (a Discord client secret has 32 digits).
	return len(v) <= maxPlainNumber && strings.IndexFunc(v, func(r rune) bool { return !unicode.IsDigit(r) && r != '.' }) < 0
}

// maxPlainNumber is the length up to which a number under a secret-like
// name is a setting (MAX_TOKENS=4096, a timestamp in milliseconds).
const maxPlainNumber = 14

// Values of fixed shapes that are no secrets, however random they look.
var (
	algorithmName = regexp.MustCompile(`^(?i:[HRPE]S(?:256|384|512)|EdDSA|ES256K|RSA-OAEP(?:-256)?|A(?:128|192|256)(?:GCM|CBC-HS\d+|KW)|AES-?(?:128|192|256)(?:-?(?:GCM|CBC|CTR|SIV))?|SHA-?(?:1|224|256|384|512)|HMAC-?SHA-?(?:1|256|384|512)|ChaCha20-Poly1305|X25519|Ed25519|P-(?:256|384|521))$`)
	digest        = regexp.MustCompile(`^[a-z0-9]+(?:[+._-][a-z0-9]+)*:[0-9a-fA-F]{32,}$`)
	uuid          = regexp.MustCompile(`^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$`)
	// plainName is a name made of words: lowercase letters, '-', '.', '_'.
	plainName = regexp.MustCompile(`^[a-z]+(?:[._-][a-z]+)*$`)
)

// structured reports whether v has the shape of a value that only looks
// random: an object path, a digest, a UUID or a name of words.
func structured(v string) bool {
	return strings.Contains(v, "/") && !strings.ContainsAny(v, "+=") || digest.MatchString(v) || uuid.MatchString(v) || plainName.MatchString(v)
}

// entropy is the Shannon entropy of s, in bits per byte.
func entropy(s string) float64 {
	var counts [256]int
	for i := 0; i < len(s); i++ {
		counts[s[i]]++
	}
	n := float64(len(s))
	var h float64
	for _, c := range counts {
		if c > 0 {
			p := float64(c) / n
			h -= p * math.Log2(p)
		}
	}
	return h
}

// highEntropy reports whether v looks like a random key: long, without
// spaces, and varied.
func highEntropy(v string) bool {
	return len(v) >= 20 && !strings.ContainsAny(v, " \t\n") && !structured(v) && entropy(v) >= 3.5
}

// urlPassword returns the first URL in v whose userinfo holds a literal
// password (not a $(VAR) reference), with the password masked.
func urlPassword(v string) (string, bool) {
	for _, m := range urlWithUserinfo.FindAllString(v, -1) {
		u, err := url.Parse(m)
		if err != nil || u.User == nil {
			continue
		}
		// "xxxxx" is how url.URL.Redacted masks a password.
		if p, ok := u.User.Password(); ok && p != "" && p != "xxxxx" && !notALiteral(p) {
			return u.Redacted(), true
		}
	}
	return "", false
}

// shapeSecret returns why value, whatever its name, holds a secret: a
// token of a well-known shape, a URL with a password, or a secret in its
// text (see textSecret); or "".
func shapeSecret(value string) string {
	if len(value) >= 14 {
		for _, t := range tokenShapes {
			if len(t.spans(value)) > 0 {
				return "holds what looks like " + t.name
			}
		}
		why := ""
		vendorSpans(value, func(name string, _, _ int) bool { why = "holds what looks like " + name; return false })
		if why != "" {
			return why
		}
	}
	if strings.Contains(value, "://") {
		if u, ok := urlPassword(value); ok {
			return "holds a URL with a password (" + u + ")"
		}
	}
	return textSecret(value)
}

// looksSecret returns why the value under name looks like a secret, or "".
func looksSecret(name, value string) string {
	if why := shapeSecret(value); why != "" {
		return why
	}
	if why := base64Secret(value); why != "" {
		return why
	}
	strong, weak := secretName(name)
	switch {
	case strong && !notALiteral(value):
		return "is a literal under the secret-like name " + quote(name)
	case weak && highEntropy(value):
		return "is a long random value under the key-like name " + quote(name)
	}
	return ""
}

func quote(s string) string { return `"` + s + `"` }
