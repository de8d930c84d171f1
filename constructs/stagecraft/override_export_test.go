package stagecraft

import (
	"os"
	"path/filepath"
	"strings"
	"testing"

	"k8s.io/apimachinery/pkg/runtime"
	"sigs.k8s.io/yaml"
)

// ovRefusedEnv names a folder where TestOverridesCheckedAgain writes, for
// every row that the API server must refuse too (apiRefuses), the objects
// as its overrides left them, one folder per row, for test/oracle to
// confirm that the API server refuses each. Unset: nothing is written.
const ovRefusedEnv = "STAGECRAFT_EXPORT_REFUSED"

// ovCapture wraps overrides so that the objects they change are kept as
// the last of them left them.
type ovCapture struct{ objects []runtime.Object }

func (c *ovCapture) wrap(ovs []func(runtime.Object)) []func(runtime.Object) {
	out := make([]func(runtime.Object), len(ovs))
	for i, ov := range ovs {
		last := i == len(ovs)-1
		out[i] = func(o runtime.Object) {
			before := o.DeepCopyObject()
			ov(o)
			if last && !equalObjects(before, o) {
				c.objects = append(c.objects, o)
			}
		}
	}
	return out
}

func equalObjects(a, b runtime.Object) bool {
	ya, err1 := yaml.Marshal(a)
	yb, err2 := yaml.Marshal(b)
	return err1 == nil && err2 == nil && string(ya) == string(yb)
}

// export writes the objects kept under $STAGECRAFT_EXPORT_REFUSED/<test>/.
func (c *ovCapture) export(t *testing.T) {
	t.Helper()
	root := os.Getenv(ovRefusedEnv)
	if root == "" {
		return
	}
	if len(c.objects) == 0 {
		t.Fatal("the overrides changed no object")
	}
	var docs []string
	for _, o := range c.objects {
		y, err := yaml.Marshal(o)
		if err != nil {
			t.Fatal(err)
		}
		docs = append(docs, string(y))
	}
	dir := filepath.Join(root, strings.NewReplacer("/", "~", " ", "_").Replace(t.Name()))
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "objects.yaml"), []byte(strings.Join(docs, "---\n")), 0o644); err != nil {
		t.Fatal(err)
	}
}
