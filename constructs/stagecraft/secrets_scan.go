package stagecraft

import (
	"reflect"
	"regexp"
	"sort"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// The scan of what a pipeline writes: every string of every object it
// renders, after the overrides, is read by the secret detector. The props
// were read before (validateSecrets), with their names; the scan finds what
// no prop check reads: probes, metrics paths, volume handles and paths, the
// chart's labels, and whatever an override wrote.

// objectEntry is a NotSecrets entry naming a field of a rendered object,
// "Kind:json.path" ("Deployment:spec.template.spec.containers[0].livenessProbe.httpGet.path").
var objectEntry = regexp.MustCompile(`^[A-Z][A-Za-z0-9]*:[a-zA-Z]`)

// isObjectEntry reports whether a NotSecrets entry names a field of a
// rendered object rather than a prop.
func isObjectEntry(e string) bool { return objectEntry.MatchString(e) }

// entryUse is an object entry of a construct's NotSecrets: its index there
// and whether a rendered field matched it.
type entryUse struct {
	index int
	used  bool
}

// secretScan scans the objects of one pipeline, in the order they are
// written; each secret is reported once, where it is first written.
type secretScan struct {
	// allowed are the values NotSecrets declares no secrets: those of the
	// props it names, and those of the object fields it names.
	allowed  map[string]bool
	entries  map[string]map[string]*entryUse // construct path -> entry -> use
	reported map[string]bool
	verdicts map[[2]string]string
	problems []Problem

	// The object being scanned.
	w          walker
	obj        runtime.Object
	path, kind string
	objEntries map[string]*entryUse
	before     map[string]bool
}

// newSecretScan collects the NotSecrets of the pipeline's constructs.
func newSecretScan(p *Pipeline) *secretScan {
	s := &secretScan{allowed: map[string]bool{}, entries: map[string]map[string]*entryUse{}, reported: map[string]bool{}, verdicts: map[[2]string]string{}}
	s.add(p.path, mapFields("Labels", p.props.Labels, insteadMeta), p.props.NotSecrets)
	for _, c := range p.parts {
		fields, notSecrets := secretFields(c)
		s.add(c.membership().path, fields, notSecrets)
	}
	return s
}

func (s *secretScan) add(path string, fields []valueField, notSecrets []string) {
	named := map[string]bool{}
	for i, e := range notSecrets {
		if isObjectEntry(e) {
			if s.entries[path] == nil {
				s.entries[path] = map[string]*entryUse{}
			}
			s.entries[path][e] = &entryUse{index: i}
		}
		named[e] = true
	}
	for _, f := range fields {
		if named[f.path] {
			s.allowed[f.value] = true
		}
	}
}

// verdict is looksSecret, once per name and value: the objects of a
// pipeline repeat most of their strings (labels, images, names).
func (s *secretScan) verdict(name, value string) string {
	k := [2]string{name, value}
	why, ok := s.verdicts[k]
	if !ok {
		why = looksSecret(name, value)
		s.verdicts[k] = why
	}
	return why
}

// flagged returns the values of o that look like secrets, to tell which
// of them the construct's overrides wrote.
func flagged(o runtime.Object) map[string]bool {
	out := map[string]bool{}
	w := walker{visit: func(_ *walker, name, value string) bool {
		if looksSecret(name, value) != "" {
			out[value] = true
		}
		return false
	}}
	w.value(reflect.ValueOf(o), "")
	return out
}

// object scans one object of the construct at path; before are the
// values flagged before its overrides ran, nil without overrides.
func (s *secretScan) object(o runtime.Object, path string, before map[string]bool) {
	s.obj, s.path, s.before = o, path, before
	s.kind = o.GetObjectKind().GroupVersionKind().Kind
	s.objEntries = s.entries[path]
	if s.w.visit == nil {
		s.w.visit = s.visit
	}
	s.w.segs = s.w.segs[:0]
	s.w.value(reflect.ValueOf(o), "")
}

// visit judges one string of the object being scanned.
func (s *secretScan) visit(at *walker, name, value string) bool {
	if s.objEntries != nil {
		if e := s.objEntries[s.kind+":"+at.path()]; e != nil {
			e.used = true
			s.allowed[value] = true
			return false
		}
	}
	if s.allowed[value] {
		return false
	}
	why := s.verdict(name, value)
	if why == "" {
		return false
	}
	if !s.reported[value] {
		s.reported[value] = true
		fld := at.path()
		if s.before != nil && !s.before[value] {
			why += " (an Override wrote it)"
		}
		s.problems = append(s.problems, Problem{Construct: s.path, Object: describe(s.obj), Type: field.ErrorTypeForbidden, Field: fld, Value: redacted,
			Detail: "the value " + why + ", and would be written into the manifests in plain text; keep it in a Secret and pass it by reference " +
				"(EnvFromSecret, Trigger.Secrets, the volume driver's secret). If it is not a secret, list " + quote(s.kind+":"+fld) + " in the construct's NotSecrets"})
	}
	return true
}

// finish returns the problems found, and those of object entries that
// named no field of their construct's objects.
func (s *secretScan) finish() []Problem {
	out := s.problems
	for path, entries := range s.entries {
		for e, use := range entries {
			if !use.used {
				out = append(out, Problem{Construct: path, Type: field.ErrorTypeNotSupported, Field: field.NewPath("NotSecrets").Index(use.index).String(), Value: e,
					Detail: "names no field of the construct's objects; use the Kind:field form a problem names, such as \"Deployment:spec.template.spec.containers[0].livenessProbe.httpGet.path\""})
			}
		}
	}
	sortProblems(out[len(s.problems):])
	return out
}

// sortProblems orders problems by construct and field, for stable output.
func sortProblems(ps []Problem) {
	sort.Slice(ps, func(i, j int) bool {
		if ps[i].Construct != ps[j].Construct {
			return ps[i].Construct < ps[j].Construct
		}
		return ps[i].Field < ps[j].Field
	})
}
