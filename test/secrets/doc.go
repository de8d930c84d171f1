// Package secrets holds stagecraft's secret detector to gitleaks'
// (github.com/zricethezav/gitleaks/v8): every string that gitleaks' own
// detector, with its default rules, finds in an object stagecraft writes
// must be refused by stagecraft's scan, unless it is a known exception
// listed with its reason; and the values stagecraft's tables call no
// secrets must not be findings of gitleaks either. The corpus is the true
// positives of gitleaks' rules (read from the rules' source in the module
// cache, and generated the way those rules generate theirs) and the rows
// of testdata/rows.tsv. It is a module of its own so that gitleaks and its
// dependencies stay out of the library's go.mod. Run it with
// `make secrets-oracle`.
package secrets
