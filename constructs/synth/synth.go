package synth

import (
	"fmt"
	"strings"
	"unicode"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/internal/yamlout"
)

// Options configure where and how an app's output is written.
type Options struct {
	// Dir is the directory apps write into: an app named "seed" is written
	// to <Dir>/seed/. Default: "dist", relative to the working directory;
	// Main, MainChart and MainEnvironments first take $STAGECRAFT_DIST.
	Dir string
	// Layout arranges the objects into manifest files. Default:
	// FilePerChart.
	Layout Layout
	// Notify receives what does not stop a write: for each change a
	// pipeline accepted, what to do on the cluster before applying it, and
	// a skipped upgrade check. Default: none; Main, MainChart and
	// MainEnvironments print them to standard error.
	Notify func(message string)
	// SkipUpgradeCheck writes without comparing with the previous output.
	// It is for a previous output that cannot be read (a merge conflict, a
	// hand edit) and that you mean to replace; the changes the upgrade check
	// would have refused are then yours to apply. Default: false, a
	// previous output that cannot be read stops the write with a problem
	// naming the file. Main, MainChart and MainEnvironments also set it
	// when $STAGECRAFT_SKIP_UPGRADE_CHECK is "1".
	SkipUpgradeCheck bool
	// LinkOutsideDir lets <Dir>/<name> be a symbolic link to a folder
	// outside Dir, which is then replaced as a whole: a folder that holds
	// MarkerFile or does not exist yet. Default: false, such a link is a
	// problem; a link inside Dir is followed on the same terms. Main,
	// MainChart and MainEnvironments also set it when
	// $STAGECRAFT_LINK_OUTSIDE_DIST is "1".
	LinkOutsideDir bool
}

func (o Options) notify(format string, args ...any) {
	if o.Notify != nil {
		o.Notify(fmt.Sprintf(format, args...))
	}
}

// The files Write puts beside the manifests.
const (
	// KustomizationFile lists the manifests, so that "kubectl apply -k",
	// Argo CD and Flux take the folder as a kustomization. It sets no
	// sortOptions: kubectl's -k would warn that its own ordering (by kind:
	// namespaces first) is overridden.
	KustomizationFile = "kustomization.yaml"
	// DiagramFile is the Mermaid diagram of the app's pipelines.
	DiagramFile = "pipeline.md"
)

// Files returns everything Write writes for app, in memory: the manifests
// as layout arranges them (FilePerChart when nil), a kustomization.yaml
// that lists them in order, and the diagram (WriteDir adds MarkerFile). It validates the app first:
// problems are returned as a *stagecraft.ValidationError.
func Files(app cdk8s.App, layout Layout) (map[string][]byte, error) {
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		return nil, err
	}
	return layoutFiles(s, layout)
}

// layoutFiles lays out a synthesis as the files of an output folder.
func layoutFiles(s *stagecraft.Synthesis, layout Layout) (map[string][]byte, error) {
	if layout == nil {
		layout = FilePerChart{}
	}
	manifests, err := layout.Files(s)
	if err != nil {
		return nil, err
	}
	files := map[string][]byte{DiagramFile: []byte(s.Diagram)}
	names := make([]string, 0, len(manifests))
	for _, f := range manifests {
		if err := nameProblem("file", f.Name, 255); err != nil {
			return nil, fmt.Errorf("synth: layout %T: file name %q: %v", layout, f.Name, err)
		}
		if _, dup := files[f.Name]; dup {
			return nil, fmt.Errorf("synth: layout %T: file name %q is not unique", layout, f.Name)
		}
		files[f.Name] = f.Data
		names = append(names, f.Name)
	}
	files[KustomizationFile] = kustomization(names)
	return files, nil
}

// checkedFiles compares s with the whole previous output in dir (the
// upgrade check; see previousApp) and lays it out. Refused changes are
// returned as problems; used holds the accepted changes that matched one,
// and is nil when there was nothing to compare with.
func checkedFiles(dir string, s *stagecraft.Synthesis, opts Options) (files map[string][]byte, problems []stagecraft.Problem, used map[stagecraft.AcceptedChange]bool, err error) {
	problems = duplicates([]named{{"", s}})
	found, used := checkPrevious(dir, s, nil, opts)
	problems = append(problems, found...)
	if len(problems) > 0 {
		return nil, problems, used, nil
	}
	files, err = layoutFiles(s, opts.Layout)
	return files, nil, used, err
}

// checkPrevious runs the upgrade check of every folder of the previous
// output in dir against s, the whole new output (all environments'
// objects); envs holds the environments the app now has (nil for an app
// without). Problems and notices are prefixed with the folder they come
// from when it is not the one the object is written to now. used is nil
// when there was nothing to compare with.
func checkPrevious(dir string, s *stagecraft.Synthesis, envs map[string]bool, opts Options) (problems []stagecraft.Problem, used map[stagecraft.AcceptedChange]bool) {
	if opts.SkipUpgradeCheck {
		opts.notify("the upgrade check is skipped (SkipUpgradeCheck): changes the API server refuses are not reported")
		return nil, nil
	}
	groups, err := previousApp(dir)
	if err != nil {
		return []stagecraft.Problem{unreadable(dir, err)}, nil
	}
	for _, g := range groups {
		found, notices, u := upgradeCheck(g.docs, s)
		if used == nil {
			used = map[stagecraft.AcceptedChange]bool{}
		}
		for a := range u {
			used[a] = true
		}
		prefix := groupPrefix(g.env, envs)
		for _, n := range notices {
			opts.notify("%s%s", prefix, n)
		}
		for _, p := range found {
			p.Construct = prefix + p.Construct
			problems = append(problems, p)
		}
	}
	return problems, used
}

// groupPrefix names a folder of the previous output in a problem: "" for
// the folder an app without environments writes, "[env] " for a folder
// the app still writes, "[env, removed] " for an environment it no longer
// has, and "[previous layout] " or "[env, previous layout] " for a folder
// of the other layout.
func groupPrefix(env string, envs map[string]bool) string {
	switch {
	case envs == nil && env == "":
		return ""
	case envs == nil:
		return "[" + env + ", previous layout] "
	case env == "":
		return "[previous layout] "
	case envs[env]:
		return "[" + env + "] "
	}
	return "[" + env + ", removed] "
}

// kustomization lists the manifests, in order.
func kustomization(names []string) []byte {
	var k strings.Builder
	k.WriteString(kustomizationHeader)
	k.WriteString("apiVersion: kustomize.config.k8s.io/v1beta1\nkind: Kustomization\n")
	k.WriteString("resources:\n")
	for _, n := range names {
		k.WriteString("- " + yamlout.String(n) + "\n")
	}
	return []byte(k.String())
}

// Write validates app and writes its files (see Files) into
// <Dir>/<name>/. First it compares the objects with those of the previous
// output there (the upgrade check): a change the API server would refuse
// on update, or that deletes data when the old object is pruned, is a
// problem unless the pipeline accepted it (Pipeline.AcceptChange). The
// directory is replaced as a whole and only on success: a failed or
// interrupted write leaves the previous output exactly as it was. Writes
// of one app from several processes at once take turns (see WriteDir):
// each compares with, and replaces, the output of the one before.
func Write(app cdk8s.App, name string, opts Options) error {
	dir, links, err := appDir(opts, name)
	if err != nil {
		return err
	}
	out, err := openOutput(dir, links, opts.notify)
	if err != nil {
		return err
	}
	defer out.close()
	s, err := stagecraft.Synthesize(app)
	if err != nil {
		return err
	}
	files, problems, used, err := checkedFiles(dir, s, opts)
	if err != nil {
		return err
	}
	if used != nil {
		for _, n := range unmatched(s.Accepted, used) {
			opts.notify("%s", n)
		}
	}
	if len(problems) > 0 {
		return &stagecraft.ValidationError{Problems: problems}
	}
	return out.replace(files)
}

// MaxNameBytes is the longest app or environment name: 239 bytes, so that
// the working names synth puts beside an output folder
// (".<name>.tmp-<up to 10 digits>") fit in a file name of NAME_MAX (255)
// bytes.
const MaxNameBytes = 255 - len("..tmp-") - 10

// checkName returns why name cannot be an app's or an environment's
// folder (what is "app" or "environment"), or nil.
func checkName(what, name string) error { return nameProblem(what, name, MaxNameBytes) }

// nameProblem returns why name cannot be a file or folder of synth's
// output, of at most max bytes.
func nameProblem(what, name string, max int) error {
	switch {
	case name == "":
		return fmt.Errorf("the %s name is empty", what)
	case len(name) > max && max < 255:
		return fmt.Errorf("the %s name is %d bytes long; at most %d fit in a file name (NAME_MAX 255, less the working names synth puts beside its folder)", what, len(name), max)
	case len(name) > max:
		return fmt.Errorf("the %s name is %d bytes long; a file name holds at most %d (NAME_MAX)", what, len(name), max)
	case strings.ContainsAny(name, "/\\\x00"):
		return fmt.Errorf("the %s name holds a '/', '\\' or NUL, which a file name cannot", what)
	case strings.HasPrefix(name, "."):
		return fmt.Errorf("the %s name starts with '.' (\".\", \"..\" and hidden names are the file system's or synth's own)", what)
	case strings.IndexFunc(name, unicode.IsControl) >= 0:
		return fmt.Errorf("the %s name holds a control character", what)
	}
	return nil
}

// plainName reports whether name can be a file of an output folder: a
// name checkName accepts, of at most 255 bytes (NAME_MAX).
func plainName(name string) bool { return nameProblem("file", name, 255) == nil }
