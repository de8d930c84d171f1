package stagecraft

import (
	"sort"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// valueField is a prop that holds a literal string the secret detector
// reads: its path (as problems name it), the name it stands under, its
// value, and what to use instead of a literal.
type valueField struct {
	path, name, value, instead string
}

// What to use instead of a literal secret, by where it is.
const (
	insteadEnv     = "use EnvFromSecret (a Secret reference) instead of a literal value"
	insteadArgs    = "set the variable with EnvFromSecret and pass it as $(NAME)"
	insteadMeta    = "labels and annotations are readable by anyone who may list the object; keep the value in a Secret"
	insteadTrigger = "pass it by reference with Trigger.Secrets (a TriggerAuthentication)"
	insteadVolume  = "keep the credentials in a Secret that the volume's driver reads"
)

// validateSecrets reports every prop of a construct whose literal value
// looks like a secret, unless its path is listed in notSecrets, and every
// entry of notSecrets that names no such prop.
func validateSecrets(fields []valueField, notSecrets []string) field.ErrorList {
	var errs field.ErrorList
	allowed := map[string]bool{}
	for _, p := range notSecrets {
		allowed[p] = true
	}
	known := map[string]bool{}
	for _, f := range fields {
		known[f.path] = true
		if allowed[f.path] {
			continue
		}
		if why := looksSecret(f.name, f.value); why != "" {
			errs = append(errs, forbidden(pathOf(f.path), redacted, "the value "+why+", and would be written into the manifests in plain text; "+
				f.instead+". If it is not a secret, list "+quote(f.path)+" in NotSecrets"))
		}
	}
	for i, p := range notSecrets {
		if !known[p] && !isObjectEntry(p) {
			errs = append(errs, notSupported(field.NewPath("NotSecrets").Index(i), p, "names no prop that holds a literal value; use the field path a problem names, such as \"Env[0].Value\", \"Args[1]\" or \"Deployment:spec.template.spec.containers[0].livenessProbe.httpGet.path\""))
		}
	}
	return errs
}

// pathOf turns a field path string back into a *field.Path for a problem.
func pathOf(p string) *field.Path { return field.NewPath(p) }

// workloadFields lists the literal values of a stage's workload.
func workloadFields(w Workload) []valueField {
	var out []valueField
	for i, e := range w.Env {
		if e.Secret == nil && e.ConfigMap == nil {
			out = append(out, valueField{pathIndex("Env", i) + ".Value", e.Name, e.Value, insteadEnv})
		}
	}
	out = append(out, argFields("Command", w.Command)...)
	out = append(out, argFields("Args", w.Args)...)
	out = append(out, mapFields("Annotations", w.Annotations, insteadMeta)...)
	return append(out, mapFields("Labels", w.Labels, insteadMeta)...)
}

// argFields lists command-line words; the name of a word is the flag it
// belongs to: "--token=x", or "--token" then "x".
func argFields(path string, args []string) []valueField {
	var out []valueField
	for i, a := range args {
		name, value := "", a
		if k, v, ok := strings.Cut(a, "="); ok && strings.HasPrefix(k, "-") {
			name, value = k, v
		} else if i > 0 {
			name = flagName(args[0], args[i-1])
		}
		out = append(out, valueField{pathIndex(path, i), name, value, insteadArgs})
	}
	return out
}

// optionFields lists "key=value" options, such as mount options.
func optionFields(path string, opts []string, instead string) []valueField {
	var out []valueField
	for i, o := range opts {
		k, v, _ := strings.Cut(o, "=")
		out = append(out, valueField{pathIndex(path, i), k, v, instead})
	}
	return out
}

// mapFields lists a map's values under their keys, in key order.
func mapFields(path string, m map[string]string, instead string) []valueField {
	keys := make([]string, 0, len(m))
	for k := range m {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	out := make([]valueField, 0, len(keys))
	for _, k := range keys {
		out = append(out, valueField{field.NewPath(path).Key(k).String(), k, m[k], instead})
	}
	return out
}

func pathIndex(path string, i int) string { return field.NewPath(path).Index(i).String() }

// secretFields lists the literal values of a stage's or storage's props,
// with the construct's NotSecrets.
func secretFields(c part) ([]valueField, []string) {
	switch t := c.(type) {
	case *ProcessorStage:
		out := workloadFields(t.work.given)
		if in := t.props.Ingress; in != nil {
			out = append(out, mapFields("Ingress.Annotations", in.Annotations, insteadMeta)...)
		}
		if es := t.props.EventScaling; es != nil {
			for i, tr := range es.Triggers {
				out = append(out, mapFields(pathIndex("EventScaling.Triggers", i)+".Metadata", tr.Metadata, insteadTrigger)...)
			}
		}
		return out, t.work.given.NotSecrets
	case Stage:
		w := t.base().work.given
		return workloadFields(w), w.NotSecrets
	case *PipelineStorage:
		out := mapFields("Labels", t.props.Labels, insteadMeta)
		if e := t.props.Existing; e != nil {
			out = append(out, optionFields("Existing.MountOptions", e.MountOptions, insteadVolume)...)
			if e.CSI != nil {
				out = append(out, mapFields("Existing.CSI.VolumeAttributes", e.CSI.VolumeAttributes, insteadVolume)...)
			}
		}
		return out, t.props.NotSecrets
	}
	return nil, nil
}
