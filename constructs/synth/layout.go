package synth

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
)

// Layout arranges an app's objects into the manifest files of its output
// folder. Write adds a kustomization.yaml that lists the files in the
// order Files returns them, which is the order they are applied in.
type Layout interface {
	// Files returns the manifest files of s, in apply order. Names are
	// plain file names, unique in the folder.
	Files(s *stagecraft.Synthesis) ([]File, error)
}

// File is one file of an output folder.
type File struct {
	// Name is the file's name, without a directory.
	Name string
	// Data is the file's content.
	Data []byte
}

// FilePerChart writes one file per cdk8s chart, "<chart>.k8s.yaml", holding
// the chart's objects in order, as "cdk8s synth" names its files.
type FilePerChart struct{}

// Files implements Layout.
func (FilePerChart) Files(s *stagecraft.Synthesis) ([]File, error) {
	out := make([]File, 0, len(s.Manifests))
	for _, m := range s.Manifests {
		docs := make([][]byte, len(m.Objects))
		for i, o := range m.Objects {
			docs[i] = o.YAML
		}
		out = append(out, File{Name: m.Chart + ".k8s.yaml", Data: bytes.Join(docs, []byte("---\n"))})
	}
	return out, nil
}

// FilePerObject writes one file per object, "<kind>-<name>.yaml" in lower
// case (for example "deployment-api.yaml"), in the order of the objects.
// Objects of one kind and name in different namespaces are told apart by
// their namespace: "<kind>-<namespace>-<name>.yaml". Apply such a folder
// with "kubectl apply -k", which orders the objects by kind (namespaces
// first), or through Argo CD or Flux; "kubectl apply -f" would take the
// files in name order and fail on the kustomization.
type FilePerObject struct{}

// Files implements Layout.
func (FilePerObject) Files(s *stagecraft.Synthesis) ([]File, error) {
	count := map[string]int{}
	for _, m := range s.Manifests {
		for _, o := range m.Objects {
			count[objectFileName(o, false)]++
		}
	}
	var out []File
	seen := map[string]stagecraft.Object{}
	for _, m := range s.Manifests {
		for _, o := range m.Objects {
			name := objectFileName(o, count[objectFileName(o, false)] > 1)
			if prev, dup := seen[name]; dup {
				return nil, fmt.Errorf("synth: %s %s/%s and %s/%s would both be written to %s; give them different names",
					o.Kind, prev.Namespace, prev.Name, o.Namespace, o.Name, name)
			}
			seen[name] = o
			out = append(out, File{Name: name, Data: o.YAML})
		}
	}
	return out, nil
}

// objectFileName names the file of one object.
func objectFileName(o stagecraft.Object, withNamespace bool) string {
	parts := []string{o.Kind}
	if withNamespace && o.Namespace != "" {
		parts = append(parts, o.Namespace)
	}
	parts = append(parts, o.Name)
	return strings.ToLower(strings.Join(parts, "-")) + ".yaml"
}
