package stagetest

import (
	"strings"
	"testing"
)

const argoYAML = `apiVersion: argoproj.io/v1alpha1
kind: WorkflowTemplate
metadata: {name: t, namespace: ns}
spec:
  entrypoint: dag
  templates:
  - name: dag
    dag: {tasks: [{name: a, template: a}]}
  - name: a
    securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
    container:
      image: x:1
      securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
`

// TestArgoExecutorContainersCount checks that Argo's executor containers
// are part of a template's pod: without a podSpecPatch that locks them
// down, the template breaks Pod Security "restricted", through them alone.
func TestArgoExecutorContainersCount(t *testing.T) {
	m, err := Parse([]byte(argoYAML))
	if err != nil {
		t.Fatal(err)
	}
	vs, err := m.RestrictedViolations()
	if err != nil {
		t.Fatal(err)
	}
	if len(vs) == 0 {
		t.Fatal("no violation for executor containers without a security context")
	}
	for _, v := range vs {
		if !strings.Contains(v.String(), "template a") || strings.Contains(v.Detail, `"main"`) || !strings.Contains(v.Detail, `"init"`) && !strings.Contains(v.Detail, `"wait"`) {
			t.Errorf("violation %s: want one of the executor containers of template a", v)
		}
	}
	locked := `{"initContainers":[{"name":"init","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}],` +
		`"containers":[{"name":"wait","securityContext":{"allowPrivilegeEscalation":false,"capabilities":{"drop":["ALL"]}}}]}`
	m, err = Parse([]byte(argoYAML + "    podSpecPatch: '" + locked + "'\n"))
	if err != nil {
		t.Fatal(err)
	}
	if vs, err := m.RestrictedViolations(); len(vs) > 0 || err != nil {
		t.Errorf("with the executor locked down: %v, %v; want none", vs, err)
	}
}
