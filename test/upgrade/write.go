package upgrade

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"

	"github.com/aws/jsii-runtime-go"
	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

// Entry is one edit of the matrix as written: its folders and what it
// must do.
type Entry struct {
	Edit
	// Namespace of both versions.
	Namespace string `json:"namespace"`
	// V1 and V2 are the output folders of the versions, relative to the
	// matrix's folder.
	V1 string `json:"v1"`
	V2 string `json:"v2"`
	// Messages are the upgrade check's problems for the second version
	// before it accepted them.
	Messages []string `json:"messages,omitempty"`
	// Notices are what the check said of the accepted changes.
	Notices []string `json:"notices,omitempty"`
}

// WriteEdit writes the two versions of edit number i into out/<slug>/v1
// and v2, the second checked against the first by the upgrade check, and
// returns the entry. The refusals of the check must be exactly the edit's
// Refused.
func WriteEdit(out string, i int, e Edit) (Entry, error) {
	slug := fmt.Sprintf("%02d-%s", i, strings.Trim(regexp.MustCompile(`[^a-z0-9]+`).ReplaceAllString(strings.ToLower(e.Name), "-"), "-"))
	en := Entry{Edit: e, Namespace: fmt.Sprintf("up-%02d", i), V1: filepath.Join(slug, "v1"), V2: filepath.Join(slug, "v2")}
	dir := filepath.Join(out, slug)
	v := Base(en.Namespace)
	if _, err := write(dir, "v1", v); err != nil {
		return en, fmt.Errorf("%s: version 1: %w", e.Name, err)
	}
	if err := copyDir(filepath.Join(dir, "v1"), filepath.Join(dir, "v2")); err != nil {
		return en, err
	}
	e.Change(&v)
	_, err := write(dir, "v2", v)
	var verr *stagecraft.ValidationError
	if errors.As(err, &verr) {
		for _, p := range verr.Problems {
			en.Messages = append(en.Messages, p.String())
		}
		v.Accept = e.Accept
		en.Notices, err = write(dir, "v2", v)
	}
	if err != nil {
		return en, fmt.Errorf("%s: version 2: %w", e.Name, err)
	}
	return en, nil
}

// write writes version v as the app called name in dir, and returns the
// notices.
func write(dir, name string, v Version) ([]string, error) {
	var notices []string
	app := cdk8s.NewApp(nil)
	Define(cdk8s.NewChart(app, jsii.String("up"), nil), v)
	err := synth.Write(app, name, synth.Options{Dir: dir, Notify: func(m string) { notices = append(notices, m) }})
	return notices, err
}

// copyDir copies the files of src into a new directory dst.
func copyDir(src, dst string) error {
	entries, err := os.ReadDir(src)
	if err != nil {
		return err
	}
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	for _, e := range entries {
		data, err := os.ReadFile(filepath.Join(src, e.Name()))
		if err != nil {
			return err
		}
		if err := os.WriteFile(filepath.Join(dst, e.Name()), data, 0o644); err != nil {
			return err
		}
	}
	return nil
}
