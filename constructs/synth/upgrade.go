package synth

import (
	"bytes"
	"fmt"
	"path/filepath"
	"sort"
	"strings"

	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"k8s.io/apimachinery/pkg/api/resource"
	"k8s.io/apimachinery/pkg/apis/meta/v1/unstructured"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The upgrade check. Before an app's output replaces the previous one,
// every object is compared with the object of the same kind, namespace
// and name there. A change that a Kubernetes API server refuses on update
// (an immutable field) or that destroys data (a claim, a volume or a
// namespace removed, which pruning deletes) is a problem that names the
// object, the field, the old and new values, why, and what to do; a
// pipeline accepts one with Pipeline.AcceptChange, and the check then
// notifies what to do on the cluster before applying.

// objectKey identifies an object across versions of the output: its API
// group (not version), kind, namespace and name.
type objectKey struct {
	group, kind, namespace, name string
}

func keyOf(apiVersion, kind, namespace, name string) objectKey {
	group, _, found := strings.Cut(apiVersion, "/")
	if !found {
		group = ""
	}
	return objectKey{group: group, kind: kind, namespace: namespace, name: name}
}

func (k objectKey) String() string {
	if k.namespace == "" {
		return k.kind + " " + k.name
	}
	return k.kind + " " + k.namespace + "/" + k.name
}

// previousOutput stands for the construct of an object that only the
// previous output has, in a namespace no pipeline uses any more.
const previousOutput = "(previous output)"

// acceptInCode introduces, in a problem, the AcceptChange that accepts it.
const acceptInCode = " Then accept it in code: "

// partOfLabel names the pipeline (its namespace) an object belongs to.
const partOfLabel = "app.kubernetes.io/part-of"

// finding is one refused change of one object.
type finding struct {
	field    string // the leaf that differs
	accept   string // the field to accept: the immutable one
	old, new any
	// acceptNamespace names the object's namespace in the Change to
	// accept: no pipeline runs there any more.
	acceptNamespace bool
	why, fix        string
}

// prevDoc is one document of the previous output: its file and text, and
// the object, decoded only when a rule needs it.
type prevDoc struct {
	file string
	text []byte
	obj  *unstructured.Unstructured
	err  error
}

// object decodes the document on first use. A document that does not
// decode to one object is an error: the check must not compare with an
// object it made up.
func (d *prevDoc) object() (*unstructured.Unstructured, error) {
	if d.obj == nil && d.err == nil {
		objs := map[objectKey]*unstructured.Unstructured{}
		d.err = decodeObjects(d.text, objs)
		if d.err == nil && len(objs) != 1 {
			d.err = fmt.Errorf("a document holds %d objects, want 1", len(objs))
		}
		for _, o := range objs {
			d.obj = o
		}
		if d.err == nil {
			d.err = checkSizes(d.obj)
		}
	}
	return d.obj, d.err
}

// checkSizes finds a storage size of a previous object that is not a
// quantity (a hand edit such as "10Gx"): the check compares sizes.
func checkSizes(u *unstructured.Unstructured) error {
	paths := [][]string{{"spec", "resources", "requests", "storage"}, {"spec", "capacity", "storage"}}
	templates, _, _ := unstructured.NestedSlice(u.Object, "spec", "volumeClaimTemplates")
	for i, t := range templates {
		m, _ := t.(map[string]any)
		if v, ok, _ := unstructured.NestedFieldNoCopy(m, "spec", "resources", "requests", "storage"); ok {
			if _, err := resource.ParseQuantity(fmt.Sprint(v)); err != nil {
				return fmt.Errorf("spec.volumeClaimTemplates[%d].spec.resources.requests.storage %q is not a quantity: %v", i, fmt.Sprint(v), err)
			}
		}
	}
	for _, p := range paths {
		if v, ok, _ := unstructured.NestedFieldNoCopy(u.Object, p...); ok {
			if _, err := resource.ParseQuantity(fmt.Sprint(v)); err != nil {
				return fmt.Errorf("%s %q is not a quantity: %v", strings.Join(p, "."), fmt.Sprint(v), err)
			}
		}
	}
	return nil
}

// unreadable is the problem of a previous output the check cannot read.
func unreadable(dir string, err error) stagecraft.Problem {
	return stagecraft.Problem{Construct: previousOutput, Object: dir, Type: field.ErrorTypeInvalid, Field: "", Value: filepath.Base(dir),
		Detail: fmt.Sprintf("the previous output cannot be read (%v), so the upgrade check cannot compare with it. Restore it (git checkout -- %s) or remove the damaged file; to replace it without the check, set Options.SkipUpgradeCheck (%s=1 for Main)", err, dir, SkipUpgradeCheckEnv)}
}

// upgradeCheck compares s with the objects of the previous output and
// returns the refused changes as problems; notices say what to do on the
// cluster for the accepted ones.
// used holds the accepted changes that matched a refused change.
func upgradeCheck(prev map[objectKey]*prevDoc, s *stagecraft.Synthesis) (problems []stagecraft.Problem, notices []string, used map[stagecraft.AcceptedChange]bool) {
	next := map[objectKey]stagecraft.Object{}
	construct := map[string]string{} // namespace -> a construct path there
	for _, m := range s.Manifests {
		for _, o := range m.Objects {
			k := keyOf(o.APIVersion, o.Kind, o.Namespace, o.Name)
			next[k] = o
			if o.Kind == "Namespace" {
				construct[o.Name] = o.Construct
			}
		}
	}
	used = map[stagecraft.AcceptedChange]bool{}
	for _, k := range sortedKeys(prev) {
		o, kept := next[k]
		var found []finding
		var err error
		if kept && bytes.Equal(o.YAML, prev[k].text) {
			continue // unchanged
		}
		// Changed or removed: a document that does not decode is a
		// problem, whatever its kind.
		if _, err = prev[k].object(); err == nil && kept {
			found, err = changed(k, prev[k], o)
		} else if err == nil {
			found, err = removed(k, prev[k])
		}
		if err != nil {
			problems = append(problems, unreadableDoc(o.Construct, k, prev[k], err))
			continue
		}
		path := o.Construct
		if !kept && len(found) > 0 {
			old, _ := prev[k].object()
			path = firstNonEmpty(construct[k.namespace], construct[k.name], construct[old.GetLabels()[partOfLabel]], previousOutput)
		}
		for _, f := range found {
			f.acceptNamespace = !kept && path == previousOutput && k.namespace != ""
			if i, ok := accepted(s.Accepted, k, f.field); ok {
				used[s.Accepted[i]] = true
				notices = append(notices, fmt.Sprintf("%s: accepted by %s; before you apply it: %s", strings.TrimSpace(k.String()+" "+f.field), s.Accepted[i].Pipeline, f.fix))
				continue
			}
			problems = append(problems, problemOf(path, k, f))
		}
	}
	return problems, notices, used
}

// unmatched returns a notice for each accepted change that matched no
// refused change of the whole app (every environment, removed ones too).
func unmatched(accepted []stagecraft.AcceptedChange, used map[stagecraft.AcceptedChange]bool) []string {
	var notices []string
	for _, a := range accepted {
		if !used[a] {
			notices = append(notices, fmt.Sprintf("%s: AcceptChange(%s) matched no change the upgrade check refuses; remove it once its change is applied, or it will accept the next change of that field without a word", a.Pipeline, describeChange(a.Change)))
		}
	}
	return notices
}

// describeChange writes a Change as Go code, without its empty fields.
func describeChange(c stagecraft.Change) string {
	parts := []string{fmt.Sprintf("Kind: %q", c.Kind), fmt.Sprintf("Name: %q", c.Name)}
	if c.Field != "" {
		parts = append(parts, fmt.Sprintf("Field: %q", c.Field))
	}
	if c.Namespace != "" {
		parts = append(parts, fmt.Sprintf("Namespace: %q", c.Namespace))
	}
	return "stagecraft.Change{" + strings.Join(parts, ", ") + "}"
}

// unreadableDoc is the problem of one document of the previous output
// that the check needs and cannot decode.
func unreadableDoc(construct string, k objectKey, d *prevDoc, err error) stagecraft.Problem {
	p := unreadable(d.file, err)
	p.Construct, p.Object = firstNonEmpty(construct, previousOutput), k.String()
	p.Detail = fmt.Sprintf("its document in the previous output (%s) cannot be read (%v), so the upgrade check cannot compare with it. Restore the file (git checkout) or, to replace it without the check, set Options.SkipUpgradeCheck (%s=1 for Main)", d.file, err, SkipUpgradeCheckEnv)
	return p
}

// problemOf turns a finding into a problem.
func problemOf(path string, k objectKey, f finding) stagecraft.Problem {
	c := stagecraft.Change{Kind: k.kind, Name: k.name, Field: f.accept}
	if f.acceptNamespace {
		c.Namespace = k.namespace
	}
	accept := describeChange(c)
	return stagecraft.Problem{
		Construct: path, Object: k.String(), Type: field.ErrorTypeForbidden, Field: f.field,
		Value:  stagecraft.Transition{Old: f.old, New: f.new},
		Detail: f.why + ". To apply it: " + f.fix + "." + acceptInCode + "pipeline.AcceptChange(" + accept + ")",
	}
}

// accepted finds the accepted change that covers field of object k, by
// its index in list.
func accepted(list []stagecraft.AcceptedChange, k objectKey, fld string) (int, bool) {
	for i, a := range list {
		if a.Kind == k.kind && a.Name == k.name && (k.namespace == "" || a.Namespace == k.namespace) && strings.HasPrefix(fld, a.Field) {
			return i, true
		}
	}
	return -1, false
}

func sortedKeys(m map[objectKey]*prevDoc) []objectKey {
	keys := make([]objectKey, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Slice(keys, func(i, j int) bool { return keys[i].String() < keys[j].String() })
	return keys
}

func firstNonEmpty(s ...string) string {
	for _, v := range s {
		if v != "" {
			return v
		}
	}
	return ""
}

// CheckRemoved runs the upgrade check on the output of an app that no
// longer exists: dir is its folder (dist/<app>), with its manifests, or a
// folder per environment. Deleting that output and applying with pruning
// deletes what the check guards: the app's namespaces, and its claims and
// volumes with their data. It returns a *stagecraft.ValidationError that
// lists them, an error if dir cannot be read, or nil when nothing would be
// lost.
func CheckRemoved(dir string) error {
	problems, _ := checkPrevious(dir, &stagecraft.Synthesis{}, map[string]bool{}, Options{})
	if len(problems) == 0 {
		return nil
	}
	for i := range problems {
		p := &problems[i]
		p.Construct = strings.Replace(strings.Replace(p.Construct, ", removed]", "]", 1), "[previous layout] ", "", 1)
		p.Construct = "[removed app " + filepath.Base(dir) + "] " + p.Construct
		// No pipeline is left to accept the change in code.
		if d, _, cut := strings.Cut(p.Detail, acceptInCode); cut {
			p.Detail = d
		}
	}
	return &stagecraft.ValidationError{Problems: problems}
}
