package stagecraft

import (
	"regexp"
	"strings"
)

// The tokens of services whose shape the generic "API token" shape does
// not hold: a prefix with no separator after it (SG.<66>, dapi<32>), a
// body of one case only, or several parts. Each is a rule of gitleaks'
// default set, held to it by the secrets oracle (test/secrets), which
// fails for any gitleaks rule whose bare token stagecraft would write.

// vendor is one service's token: its name, the literal prefixes a token
// starts with (or holds), and the pattern of the whole token.
// minEntropy is the least entropy, in bits per byte, a match must have.
type vendor struct {
	name       string
	keywords   []string
	re         *regexp.Regexp
	minEntropy float64
}

// vendorToken is a token that is random: a prefix and a random body have
// an entropy of 3.5 or more; a run of one letter at a length limit
// (AAAA...) has less than minVendorEntropy.
func vendorToken(name, pattern string, keywords ...string) vendor {
	return vendor{name: name, keywords: keywords, re: regexp.MustCompile(pattern), minEntropy: minVendorEntropy}
}

// markedToken is a token whose prefix alone says what it is, whatever
// its body.
func markedToken(name, pattern string, keywords ...string) vendor {
	return vendor{name: name, keywords: keywords, re: regexp.MustCompile(pattern)}
}

var vendors = []vendor{
	vendorToken("a SendGrid API key", `\bSG\.[A-Za-z0-9=_.-]{66}`, "SG."),
	markedToken("an age secret key", `AGE-SECRET-KEY-1[0-9A-Z]{58}`, "AGE-SECRET-KEY-1"),
	vendorToken("a ClickHouse Cloud API secret", `\b4b1d[A-Za-z0-9]{38}\b`, "4b1d"),
	vendorToken("a Clojars token", `(?i:CLOJARS_)[A-Za-z0-9]{60}`, "CLOJARS_", "clojars_"),
	vendorToken("a Cloudflare origin CA key", `\bv1\.0-[a-f0-9]{24}-[a-f0-9]{146}`, "v1.0-"),
	vendorToken("a Databricks token", `\bdapi[a-f0-9]{32}(?:-\d)?\b`, "dapi"),
	vendorToken("a DigitalOcean token", `\bdo[opr]_v1_[a-fA-F0-9]{64}`, "_v1_"),
	vendorToken("a Doppler token", `\bdp\.pt\.[A-Za-z0-9]{43}`, "dp.pt."),
	vendorToken("a Duffel token", `\bduffel_(?:test|live)_[A-Za-z0-9_=-]{43}`, "duffel_"),
	vendorToken("a Dynatrace token", `\bdt0c01\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{64}`, "dt0c01."),
	vendorToken("a Flutterwave key", `\bFLW(?:SECK|PUBK)(?:_TEST)?-[A-Za-z0-9]{12,}`, "FLWSECK", "FLWPUBK"),
	vendorToken("a Fly.io token", `\b(?:fo1_[\w-]{43}|fm1[ar]_[A-Za-z0-9+/]{100,}|fm2_[A-Za-z0-9+/]{100,})`, "fo1_", "fm1", "fm2_"),
	vendorToken("a Frame.io token", `\bfio-u-[A-Za-z0-9_=-]{64}`, "fio-u-"),
	vendorToken("a GitLab token", `\b(?:gl(?:pat|cbt|ffct|ft|imt|agent|oas|ptt|rt|soat|dt|rtr|ddt)-[A-Za-z0-9_.-]{20,}|GR1348941[\w-]{20,})`,
		"gl", "GR1348941"),
	vendorToken("a GitLab session cookie", `_gitlab_session=[0-9a-z]{32}`, "_gitlab_session="),
	vendorToken("a Grafana token", `\b(?:eyJrIjoi[A-Za-z0-9]{70,}|glc_[A-Za-z0-9+/]{32,}|glsa_[A-Za-z0-9]{32}_[A-Fa-f0-9]{8})`, "eyJrIjoi", "glc_", "glsa_"),
	vendorToken("a Harness token", `\b(?:pat|sat)\.[A-Za-z0-9_-]{22}\.[A-Za-z0-9]{24}\.[A-Za-z0-9]{20}`, "pat.", "sat."),
	vendorToken("a Terraform Cloud token", `\b[A-Za-z0-9]{14}\.atlasv1\.[A-Za-z0-9_=-]{60,}`, ".atlasv1."),
	vendorToken("a Vault token", `\bhv[sbr]\.[\w-]{24,}`, "hvs.", "hvb.", "hvr."),
	vendorToken("a Linear API key", `\blin_(?:api|oauth)_[A-Za-z0-9]{40}`, "lin_"),
	vendorToken("an npm token", `\bnpm_[A-Za-z0-9]{36}\b`, "npm_"),
	vendorToken("a PlanetScale token", `\bpscale_(?:pw|tkn|oauth)_[\w=.-]{32,}`, "pscale_"),
	vendorToken("a Postman API key", `\bPMAK-[a-fA-F0-9]{24}-[a-fA-F0-9]{34}`, "PMAK-"),
	vendorToken("a Prefect API key", `\bpnu_[A-Za-z0-9]{36}`, "pnu_"),
	vendorToken("a Pulumi token", `\bpul-[a-f0-9]{40}`, "pul-"),
	vendorToken("a ReadMe API key", `\brdme_[a-z0-9]{70}`, "rdme_"),
	vendorToken("a RubyGems key", `\brubygems_[a-f0-9]{48}`, "rubygems_"),
	vendorToken("a Scalingo token", `\btk-us-[\w-]{48}`, "tk-us-"),
	vendorToken("a Brevo (Sendinblue) key", `\bxkeysib-[a-f0-9]{64}-[A-Za-z0-9]{16}`, "xkeysib-"),
	vendorToken("a Sentry token", `\bsntry[us]_[A-Za-z0-9+/=]{64,}`, "sntry"),
	vendorToken("a SettleMint token", `\bsm_[pas]at_[A-Za-z0-9]{16}`, "sm_"),
	vendorToken("a Shippo token", `\bshippo_(?:live|test)_[a-fA-F0-9]{40}`, "shippo_"),
	vendorToken("a Shopify token", `\bshp(?:ss|at|ca|pa)_[a-fA-F0-9]{32}`, "shp"),
	vendorToken("a Square token", `\b(?:EAAA|sq0(?:atp|csp)-)[\w-]{22,}`, "sq0", "EAAA"),
	vendorToken("a Defined Networking token", `\bdnkey-[A-Za-z0-9=_-]{26}-[A-Za-z0-9=_-]{52}`, "dnkey-"),
	vendorToken("a Twilio API key", `\bSK[0-9a-fA-F]{32}\b`, "SK"),
	vendorToken("an Authress access key", `\b(?:sc|ext|scauth|authress)_[A-Za-z0-9]{5,30}\.[A-Za-z0-9]{4,6}\.acc[_-][A-Za-z0-9-]{10,32}\.[A-Za-z0-9+/_=-]{30,}`, ".acc"),
	vendorToken("a Dropbox token", `\b(?:[A-Za-z0-9]{11}AAAAAAAAAA[A-Za-z0-9_=-]{43}|sl\.[A-Za-z0-9_=-]{135})`, "AAAAAAAAAA", "sl."),
	vendorToken("a Telegram bot token", `\b[0-9]{5,16}:A[A-Za-z0-9_-]{34}\b`, ":A"),
}

// minVendorEntropy is the least entropy of a vendorToken, in bits per
// byte.
const minVendorEntropy = 3.0

// vendorStarts indexes the vendors' keywords by their first byte, so
// that one pass over a value tells whether any vendor may match.
var vendorStarts = func() (out [256][]string) {
	for _, v := range vendors {
		for _, k := range v.keywords {
			out[k[0]] = append(out[k[0]], k)
		}
	}
	return out
}()

// mayHoldVendorToken reports whether v holds a keyword of any vendor.
func mayHoldVendorToken(v string) bool {
	for i := 0; i < len(v); i++ {
		for _, k := range vendorStarts[v[i]] {
			if strings.HasPrefix(v[i:], k) {
				return true
			}
		}
	}
	return false
}

// vendorSpans calls f with the name and place of each vendor token in v,
// until f returns false.
func vendorSpans(v string, f func(name string, start, end int) bool) {
	if len(v) < 20 || !mayHoldVendorToken(v) {
		return
	}
	for _, t := range vendors {
		hit := false
		for _, k := range t.keywords {
			hit = hit || strings.Contains(v, k)
		}
		if !hit {
			continue
		}
		for _, m := range t.re.FindAllStringIndex(v, -1) {
			if entropy(v[m[0]:m[1]]) >= t.minEntropy && !f(t.name, m[0], m[1]) {
				return
			}
		}
	}
}
