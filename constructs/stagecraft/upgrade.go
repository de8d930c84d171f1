package stagecraft

import (
	"regexp"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// kindPattern is the form of a Kubernetes kind: CamelCase, from a capital.
var kindPattern = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*$`)

// Change identifies a change to one of a pipeline's objects that the
// upgrade check refuses: package synth compares what an app writes with
// its previous output and reports every change a Kubernetes API server
// refuses on update (an immutable field) or that destroys data (a claim
// removed), naming the object and the field. Accepting a change lets the
// app be written; the check then tells what to do on the cluster before
// applying it.
type Change struct {
	// Kind of the object, as the problem names it, for example
	// "StatefulSet". Required.
	Kind string
	// Name of the object, as the problem names it. Required.
	Name string
	// Field is the field path the problem names, or a prefix of it (for
	// example "spec.volumeClaimTemplates"). Default: every refused change
	// of the object.
	Field string
	// Namespace of the object. Default: the pipeline's; set it to accept
	// changes to objects in the namespace a renamed pipeline leaves.
	Namespace string
}

// AcceptedChange is a change a pipeline accepted; its Namespace is set
// (cluster-scoped objects match by kind and name alone).
type AcceptedChange struct {
	Change
	// Pipeline is the path of the pipeline that accepted it.
	Pipeline string
}

// AcceptChange accepts a change to one of the pipeline's objects that
// the upgrade check refuses, after the team has read what the check says
// must be done on the cluster (for example, to grow a stateful stage's
// volumes: resize the claims, delete the StatefulSet with
// --cascade=orphan, then apply). Accept changes for the next write only,
// and remove the call once the change is applied: a change accepted for
// good would hide the next one of the same field. The check notes an
// accepted change that matched nothing it refused.
// On a nil *Pipeline, AcceptChange does nothing.
func (p *Pipeline) AcceptChange(c Change) {
	if p == nil {
		return
	}
	defer lockConstructs()()
	p.accepted = append(p.accepted, c)
}

// validateAccepted checks the pipeline's accepted changes.
func (p *Pipeline) validateAccepted() field.ErrorList {
	var errs field.ErrorList
	for i, c := range p.accepted {
		fld := field.NewPath("AcceptChange").Index(i)
		switch {
		case c.Kind == "":
			errs = append(errs, required(fld.Child("Kind"), "the kind of the object, as the upgrade check names it"))
		case !kindPattern.MatchString(c.Kind):
			errs = append(errs, invalid(fld.Child("Kind"), c.Kind, "a Kubernetes kind, as the upgrade check names it, for example \"StatefulSet\" or \"PersistentVolumeClaim\""))
		}
		if c.Namespace != "" {
			errs = append(errs, each(fld.Child("Namespace"), c.Namespace, validation.IsDNS1123Label(c.Namespace))...)
		}
		if strings.ContainsAny(c.Field, " \t\n") {
			errs = append(errs, invalid(fld.Child("Field"), c.Field, "a field path as the upgrade check names it, for example \"spec.volumeClaimTemplates\""))
		}
		if c.Name == "" {
			errs = append(errs, required(fld.Child("Name"), "the name of the object, as the upgrade check names it"))
		}
	}
	return errs
}

// acceptedChanges returns what the pipelines accepted.
func acceptedChanges(pipelines []analyzed) []AcceptedChange {
	var out []AcceptedChange
	for _, a := range pipelines {
		for _, c := range a.p.accepted {
			if c.Namespace == "" {
				c.Namespace = a.p.namespace
			}
			out = append(out, AcceptedChange{Change: c, Pipeline: a.p.path})
		}
	}
	return out
}
