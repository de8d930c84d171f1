package synth

import (
	"errors"
	"fmt"
	"path/filepath"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// WriteEnvironments writes one app per environment from a single
// definition: for each name in envs it creates a cdk8s App, calls define
// with the environment's name and the App (define adds its charts and
// pipelines, choosing per-environment settings in Go), and writes the
// result to <Dir>/<name>/<env>/. The problems of every environment are
// reported together, each prefixed with its environment; nothing is
// written unless every environment synthesizes. The upgrade check
// compares the new output of all environments with the whole previous
// output of the app (its environments' folders, those of environments it
// no longer has, and the manifests of a previous single-folder layout),
// and two environments that would write the same object are a problem.
func WriteEnvironments(name string, envs []string, opts Options, define func(env string, app cdk8s.App)) error {
	dir, links, err := appDir(opts, name)
	if err != nil {
		return err
	}
	if len(envs) == 0 {
		return fmt.Errorf("synth: app %s: no environments", name)
	}
	seen := map[string]bool{}
	for _, env := range envs {
		if err := checkName("environment", env); err != nil {
			return fmt.Errorf("synth: app %s: environment %q must be a plain directory name: %v", name, env, err)
		}
		if seen[env] {
			return fmt.Errorf("synth: app %s: environment %q is listed twice", name, env)
		}
		seen[env] = true
	}
	out, err := openOutput(dir, links, opts.notify)
	if err != nil {
		return err
	}
	defer out.close()
	all, problems, err := environments(dir, envs, seen, opts, define)
	if err != nil {
		return err
	}
	if len(problems) > 0 {
		return &stagecraft.ValidationError{Problems: problems}
	}
	return out.replace(all)
}

// environments synthesizes every environment, checks the whole against
// the previous output in dir, and lays out each environment under its
// name.
func environments(dir string, envs []string, kept map[string]bool, opts Options, define func(env string, app cdk8s.App)) (map[string][]byte, []stagecraft.Problem, error) {
	var problems []stagecraft.Problem
	var synths []named
	whole := &stagecraft.Synthesis{}
	for _, env := range envs {
		s, envProblems, err := environment(env, define)
		if err != nil {
			return nil, nil, fmt.Errorf("environment %s: %w", env, err)
		}
		problems = append(problems, envProblems...)
		if s != nil {
			synths = append(synths, named{env, s})
			whole.Manifests = append(whole.Manifests, s.Manifests...)
			whole.Accepted = append(whole.Accepted, s.Accepted...)
		}
	}
	problems = append(problems, duplicates(synths)...)
	if len(problems) > 0 {
		// An environment that did not synthesize has no output to compare:
		// the upgrade check would take every object of its previous output
		// for one the change removes, and advise accepting the loss.
		return nil, problems, nil
	}
	found, used := checkPrevious(dir, whole, kept, opts)
	problems = append(problems, found...)
	if used != nil {
		for _, n := range unmatched(whole.Accepted, used) {
			opts.notify("%s", n)
		}
	}
	if len(problems) > 0 {
		return nil, problems, nil
	}
	all := map[string][]byte{}
	for _, e := range synths {
		files, err := layoutFiles(e.s, opts.Layout)
		if err != nil {
			return nil, nil, fmt.Errorf("environment %s: %w", e.name, err)
		}
		for n, data := range files {
			all[e.name+"/"+n] = data
		}
	}
	return all, nil, nil
}

// environment synthesizes one environment; its problems are prefixed with
// its name.
func environment(env string, define func(env string, app cdk8s.App)) (*stagecraft.Synthesis, []stagecraft.Problem, error) {
	app := cdk8s.NewApp(nil)
	define(env, app)
	s, err := stagecraft.Synthesize(app)
	var verr *stagecraft.ValidationError
	switch {
	case errors.As(err, &verr):
		problems := make([]stagecraft.Problem, len(verr.Problems))
		for i, p := range verr.Problems {
			p.Construct = "[" + env + "] " + p.Construct
			problems[i] = p
		}
		return nil, problems, nil
	case err != nil:
		return nil, nil, err
	}
	return s, nil, nil
}

// named is a synthesis with the name of what it belongs to: an
// environment, or "" for an app without.
type named struct {
	name string
	s    *stagecraft.Synthesis
}

// duplicates finds objects (by API group, kind, namespace and name) that
// two syntheses, or two charts of one, would both write: applied, one
// replaces the other.
func duplicates(synths []named) []stagecraft.Problem {
	owner := map[objectKey]string{} // the construct path, after its environment
	var problems []stagecraft.Problem
	for _, e := range synths {
		for _, m := range e.s.Manifests {
			for _, o := range m.Objects {
				k := keyOf(o.APIVersion, o.Kind, o.Namespace, o.Name)
				path := o.Construct
				if e.name != "" {
					path = "[" + e.name + "] " + path
				}
				prev, dup := owner[k]
				if !dup {
					owner[k] = path
					continue
				}
				problems = append(problems, stagecraft.Problem{Construct: path, Object: k.String(), Type: field.ErrorTypeDuplicate, Field: "metadata.name", Value: o.Name,
					Detail: fmt.Sprintf("%s is also written by %s: applied, one replaces the other, and removing either deletes the object of both. Give them different names or namespaces", k, prev)})
			}
		}
	}
	return problems
}

// appDir returns the output directory of the app called name, and where
// a link there may lead.
func appDir(opts Options, name string) (string, linkPolicy, error) {
	if err := checkName("app", name); err != nil {
		return "", linkPolicy{}, fmt.Errorf("synth: app name %q must be a plain directory name: %v", name, err)
	}
	dist := opts.Dir
	if dist == "" {
		dist = "dist"
	}
	return filepath.Join(dist, name), linkPolicy{root: dist, outside: opts.LinkOutsideDir}, nil
}
