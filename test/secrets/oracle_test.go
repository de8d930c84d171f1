package secrets

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strings"
	"sync"
	"testing"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/zricethezav/gitleaks/v8/detect"
	batchv1 "k8s.io/api/batch/v1"
	"k8s.io/apimachinery/pkg/runtime"
)

// exception is a finding of gitleaks that stagecraft does not refuse, on
// purpose or for now: gitleaks' rule, the values it applies to, and why.
type exception struct {
	rule   string
	values *regexp.Regexp
	reason string
}

var uuidUnderKey = regexp.MustCompile(`(?i)^(?:const )?[a-z_]*(?:key|clientid)[\s=:"]*[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}"?$`)

var exceptions = []exception{
	{"generic-api-key", uuidUnderKey, "a UUID under a *_KEY name is an identifier (an idempotency or partition key), which issue 23 asks stagecraft not to refuse; under a secret-like name (API_KEY, TOKEN) it is refused"},
	{"generic-api-key", regexp.MustCompile(`^(?:CACHE|PARTITION|SORT|SHARD|IDEMPOTENCY|OBJECT|S3)_KEY=[0-9a-z-]+$`), "a hash under a data key's name (CACHE_KEY) is a digest, which issue 23 asks stagecraft not to refuse; gitleaks' generic rule reads any long value under a *key* name"},
	{"heroku-api-key", uuidUnderKey, "as generic-api-key: a UUID under a *_KEY name"},
	{"hubspot-api-key", uuidUnderKey, "as generic-api-key: a UUID under a *_KEY name"},
	{"snyk-api-token", uuidUnderKey, "as generic-api-key: a UUID under a *_KEY name"},
	{"messagebird-client-id", uuidUnderKey, "a client ID names an account, as AWS_ACCESS_KEY_ID does; its secret is refused"},
	{"sumologic-access-id", regexp.MustCompile(`(?i)access_?id`), "an access ID names a key, as AWS_ACCESS_KEY_ID does; the key that goes with it is refused"},
	{"sonar-api-token", regexp.MustCompile(`SONAR[._]LOGIN`), "SONAR_LOGIN holds a token by one tool's convention; a login is a user name elsewhere"},
	{"sidekiq-secret", regexp.MustCompile(`BUNDLE_[A-Z_]+__COM`), "Bundler's per-host credential variables: one tool's naming convention"},
	{"curl-auth-user", regexp.MustCompile(`(?:-u|--user) "[^"]*(?::"|":")`), "curl -u forms where the user part is the secret, or the two parts are quoted apart"},
	{"easypost-api-token", regexp.MustCompile(`EZAK`), "a vendor shape without a separator, outside AI data pipelines; not among stagecraft's shapes"},
	{"easypost-test-api-token", regexp.MustCompile(`EZTK`), "as easypost-api-token"},
	{"facebook-page-access-token", regexp.MustCompile(`^EAA`), "a vendor shape without a separator; not among stagecraft's shapes"},
	{"facebook-access-token", regexp.MustCompile(`\d{15,16}\|`), "an app id|secret pair without a secret-like name; not among stagecraft's shapes"},
	{"1password-secret-key", regexp.MustCompile(`^A3-`), "a bare 1Password secret key (dashed groups); under a secret-like name it is refused"},
	{"intra42-client-secret", regexp.MustCompile(`^s-s4t2`), "a vendor shape with a lowercase hex body; not among stagecraft's shapes"},
	{"adobe-client-secret", regexp.MustCompile(`^adobeClient `), "a hex secret under a name with no secret-like word (adobeClient)"},
	{"sourcegraph-access-token", regexp.MustCompile(`^sourcegraph: `), "a hex token under a vendor name with no secret-like word"},
}

// excused returns the reason an exception gives for a finding, or "".
func excused(rules []string, value string) string {
	for _, r := range rules {
		for _, e := range exceptions {
			if e.rule == r && e.values.MatchString(value) {
				return e.reason
			}
		}
	}
	return ""
}

var detector = sync.OnceValues(detect.NewDetectorDefaultConfig)

// gitleaksFindings returns the ids of the rules gitleaks' default config
// finds in text.
func gitleaksFindings(t *testing.T, text string) []string {
	t.Helper()
	d, err := detector()
	if err != nil {
		t.Fatal(err)
	}
	var ids []string
	for _, f := range d.DetectString(text) {
		ids = append(ids, f.RuleID)
	}
	sort.Strings(ids)
	return ids
}

const (
	batchSize = 200
	image     = "ghcr.io/acme/worker:1.0.0"
	annotated = "spec.template.metadata.annotations["
)

// synthesize writes each entry's value as an annotation of the pod
// template of its own BatchStage's Job, through an Override, and
// synthesizes the app. With allow, each stage lists that field in its
// NotSecrets. It returns the stagecraft problems and objects by entry.
func synthesize(t *testing.T, entries []entry, allow bool) (map[int][]stagecraft.Problem, map[int][]byte) {
	t.Helper()
	app := cdk8s.NewApp(nil)
	p := stagecraft.NewPipeline(cdk8s.NewChart(app, jsii.String("t"), nil), "p", stagecraft.PipelineProps{})
	for i, e := range entries {
		w := stagecraft.Workload{Image: image}
		if allow {
			w.NotSecrets = []string{"Job:" + annotated + e.key + "]"}
		}
		s := stagecraft.NewBatchStage(p, fmt.Sprintf("s%d", i), stagecraft.BatchStageProps{Workload: w})
		key, value := e.key, e.value
		s.Override(func(o runtime.Object) {
			if j, ok := o.(*batchv1.Job); ok {
				if j.Spec.Template.Annotations == nil {
					j.Spec.Template.Annotations = map[string]string{}
				}
				j.Spec.Template.Annotations[key] = value
			}
		})
	}
	problems := map[int][]stagecraft.Problem{}
	objects := map[int][]byte{}
	out, err := stagecraft.Synthesize(app)
	var verr *stagecraft.ValidationError
	switch {
	case errors.As(err, &verr):
		for _, pr := range verr.Problems {
			var i int
			if _, err := fmt.Sscanf(pr.Construct, "t/p/s%d", &i); err != nil {
				t.Fatalf("a problem of no entry: %v", pr)
			}
			problems[i] = append(problems[i], pr)
		}
	case err != nil:
		t.Fatal(err)
	default:
		for _, m := range out.Manifests {
			for _, o := range m.Objects {
				var i int
				if _, err := fmt.Sscanf(o.Construct, "t/p/s%d", &i); err == nil && o.Kind == "Job" {
					objects[i] = o.YAML
				}
			}
		}
	}
	return problems, objects
}

// verdict is what stagecraft and gitleaks say of one entry.
type verdict struct {
	e        entry
	refused  bool     // stagecraft refused the annotation as a secret
	findings []string // gitleaks' rules that found it in the written Job
}

// judge runs the entries through stagecraft (refusals) and, with the
// fields listed in NotSecrets, through gitleaks over the Jobs written.
func judge(t *testing.T, entries []entry) []verdict {
	t.Helper()
	var out []verdict
	for start := 0; start < len(entries); start += batchSize {
		batch := append([]entry{{source: "baseline", key: noteKey, value: "plain"}}, entries[start:min(start+batchSize, len(entries))]...)
		problems, _ := synthesize(t, batch, false)
		allowed, objects := synthesize(t, batch, true)
		if len(allowed) > 0 {
			t.Fatalf("with NotSecrets, want no problem, got %v", allowed)
		}
		base := gitleaksFindings(t, string(objects[0]))
		if len(base) > 0 || len(problems[0]) > 0 {
			t.Fatalf("the baseline Job: gitleaks finds %v, stagecraft %v", base, problems[0])
		}
		for i, e := range batch[1:] {
			v := verdict{e: e, findings: gitleaksFindings(t, string(objects[i+1]))}
			for _, pr := range problems[i+1] {
				if strings.HasPrefix(pr.Field, annotated) && strings.Contains(pr.Detail, "plain text") {
					v.refused = true
				} else {
					t.Errorf("%s: a problem other than the secret's: %v", e.source, pr)
				}
				if strings.Contains(pr.String(), e.value) {
					t.Errorf("%s: the problem repeats the value: %v", e.source, pr)
				}
			}
			out = append(out, v)
		}
	}
	return out
}

// TestGitleaksFindingsAreRefused: every string of the corpus that gitleaks
// finds in a Job that stagecraft writes, stagecraft refuses (or it is an
// exception of its rule); our own rows get the verdict they are listed
// with, and gitleaks agrees with the rows that hold no secret.
func TestGitleaksFindingsAreRefused(t *testing.T) {
	tps, err := gitleaksTruePositives()
	if err != nil {
		t.Fatal(err)
	}
	rows, err := ourRows()
	if err != nil {
		t.Fatal(err)
	}
	// Each value once: stagecraft reports a secret where it is first
	// written, not again in the same pipeline.
	var corpus []entry
	seen := map[[2]string]bool{}
	for _, e := range append(tps, rows...) {
		if k := [2]string{e.key, e.value}; !seen[k] {
			seen[k] = true
			corpus = append(corpus, e)
		}
	}
	var found, refused, missed, known, stricter, plainPassed int
	missedBy := map[string]int{}
	covered := map[string]int{} // rule -> true positives it finds that stagecraft refuses or excuses
	for _, v := range judge(t, corpus) {
		switch {
		case v.e.want == "plain" && v.refused:
			t.Errorf("%s: stagecraft refuses a value that holds no secret: %q", v.e.source, v.e.value)
		case v.e.want == "plain" && len(v.findings) > 0 && excused(v.findings, v.e.key+"="+v.e.value) == "":
			t.Errorf("%s: gitleaks (%v) finds a secret in a row listed as plain: %q", v.e.source, v.findings, v.e.value)
		case v.e.want == "plain":
			plainPassed++
		case v.e.want == "secret" && !v.refused:
			t.Errorf("%s: stagecraft does not refuse a row listed as a secret", v.e.source)
		}
		if v.e.want == "plain" {
			continue
		}
		switch {
		case len(v.findings) > 0 && v.refused:
			found++
			refused++
			for _, r := range v.findings {
				covered[r]++
			}
		case len(v.findings) > 0 && excused(v.findings, v.e.value) != "":
			found++
			known++
			for _, r := range v.findings {
				covered[r]++
			}
		case len(v.findings) > 0:
			found++
			missed++
			missedBy[v.findings[0]]++
			t.Errorf("%s: gitleaks (%v) finds a secret that stagecraft writes: %.80q", v.e.source, v.findings, v.e.value)
		case v.refused:
			stricter++
		}
	}
	checkCoverage(t, covered)
	t.Logf("corpus: %d gitleaks true positives, %d rows of ours, %d distinct", len(tps), len(rows), len(corpus))
	t.Logf("gitleaks found %d in the written Jobs: %d refused by stagecraft, %d known exceptions, %d missed %v", found, refused, known, missed, missedBy)
	t.Logf("refused by stagecraft and not found by gitleaks: %d; rows without a secret that both pass: %d", stricter, plainPassed)
}

// uncovered are the rules of gitleaks' default config that no string of
// the corpus can exercise, with the reason.
var uncovered = map[string]string{
	"freemius-secret-key":    byPath,
	"hashicorp-tf-password":  byPath,
	"kubernetes-secret-yaml": byPath,
	"nuget-config-password":  byPath,
	"pkcs12-file":            byPath,
}

// byPath is why a rule cannot find a secret in a written object: it
// applies only to files whose path it names (.php, .tf, .yaml,
// nuget.config, .p12), and DetectString reads text without a path.
const byPath = "applies only to files of the paths it names; the oracle reads text without a path"

// checkCoverage fails for each rule of gitleaks' default config that
// finds none of the corpus's true positives in a written Job: without
// one, a token shape of that rule that stagecraft does not know would go
// unnoticed (as SendGrid's did, whose samples all stood under a name
// ending in "Token" until the bare tokens joined the corpus).
func checkCoverage(t *testing.T, covered map[string]int) {
	t.Helper()
	d, err := detector()
	if err != nil {
		t.Fatal(err)
	}
	ids := make([]string, 0, len(d.Config.Rules))
	for id := range d.Config.Rules {
		ids = append(ids, id)
	}
	sort.Strings(ids)
	for _, id := range ids {
		reason, skip := uncovered[id]
		switch {
		case covered[id] == 0 && !skip:
			t.Errorf("gitleaks rule %s: no true positive of the corpus is found by it in a written Job; add one to testdata/rows.tsv", id)
		case covered[id] > 0 && skip:
			t.Errorf("gitleaks rule %s is listed as uncovered (%s) but finds %d true positives", id, reason, covered[id])
		}
	}
	t.Logf("gitleaks rules: %d, each exercised by the corpus but %d listed as uncovered", len(ids), len(uncovered))
}

// TestGitleaksFindsNothingInOurOutput: gitleaks finds no secret in any
// golden file or in dist/, which stagecraft's scan passed.
func TestGitleaksFindsNothingInOurOutput(t *testing.T) {
	files := 0
	for _, root := range []string{"../../constructs", "../../apps", "../../dist"} {
		err := filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
			if err != nil || d.IsDir() || !strings.HasSuffix(path, ".yaml") || !strings.Contains(path, "testdata") && !strings.HasPrefix(path, "../../dist") {
				return err
			}
			b, err := os.ReadFile(path)
			if err != nil {
				return err
			}
			files++
			if ids := gitleaksFindings(t, string(b)); len(ids) > 0 {
				t.Errorf("%s: gitleaks finds %v", path, ids)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
	}
	if files == 0 {
		t.Fatal("no output files found")
	}
	t.Logf("gitleaks read %d files of golden output and dist/", files)
}
