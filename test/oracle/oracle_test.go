package oracle

import (
	"strings"
	"testing"
)

// deploymentYAML is a Deployment of a valid restricted pod template, with
// extra lines for its container and its pod spec.
func deploymentYAML(name, containerExtra, podExtra string) string {
	return `apiVersion: apps/v1
kind: Deployment
metadata: {name: ` + name + `, namespace: ns}
spec:
  selector: {matchLabels: {app: x}}
  template:
    metadata: {labels: {app: x}}
    spec:
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
` + podExtra + `      containers:
      - name: main
        image: ghcr.io/acme/x:1.0.0
        securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}
` + containerExtra
}

// TestOracleFindsWhatTheAPIServerRefuses checks that the oracle is not
// vacuous: each object here is refused, warned about or breaks Pod
// Security "restricted" on a real v1.36 API server, and the oracle says so.
func TestOracleFindsWhatTheAPIServerRefuses(t *testing.T) {
	o := oracle(t)
	for _, tc := range []struct {
		name, yaml, want string
	}{
		{"valid deployment", deploymentYAML("ok", "", ""), ""},
		{"fractional memory warns", deploymentYAML("mem", "        resources: {limits: {memory: 512m}}\n", ""), "fractional byte value"},
		{"duplicate env warns", deploymentYAML("env", "        env: [{name: A, value: \"1\"}, {name: A, value: \"2\"}]\n", ""), "hides previous definition"},
		{"unknown field is refused", deploymentYAML("unknown", "        colour: blue\n", ""), `unknown field "spec.template.spec.containers[0].colour"`},
		{"privileged breaks restricted", deploymentYAML("priv", "", "      hostNetwork: true\n"), "Pod Security restricted"},
		{"bad name", strings.Replace(deploymentYAML("ok", "", ""), "name: ok", "name: Bad_Name", 1), "metadata.name"},
		{"controller label on a CronJob's Job", `apiVersion: batch/v1
kind: CronJob
metadata: {name: c, namespace: ns}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      template:
        metadata: {labels: {controller-uid: x}}
        spec:
          restartPolicy: Never
          securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
          containers:
          - {name: main, image: "x:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}
`, "CronJob ns/c -> Job ns/c-"},
		{"indexed pod host name too long", `apiVersion: batch/v1
kind: CronJob
metadata: {name: ` + strings.Repeat("c", 52) + `, namespace: ns}
spec:
  schedule: "@daily"
  jobTemplate:
    spec:
      completionMode: Indexed
      completions: 20
      template:
        spec:
          restartPolicy: Never
          securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
          containers:
          - {name: main, image: "x:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}
`, "invalid DNS label"},
		{"custom resource with an unknown field", `apiVersion: keda.sh/v1alpha1
kind: ScaledObject
metadata: {name: s, namespace: ns}
spec:
  scaleTargetRef: {name: x}
  triggers: [{type: prometheus, metadata: {query: q}}]
  colour: blue
`, `unknown field "spec.colour"`},
		{"custom resource against its schema", `apiVersion: monitoring.coreos.com/v1
kind: ServiceMonitor
metadata: {name: s, namespace: ns}
spec:
  selector: {}
  endpoints: [{port: http, interval: "30 seconds"}]
`, "spec.endpoints[0].interval"},
		{"default service account replaced", `apiVersion: v1
kind: ServiceAccount
metadata: {name: default, namespace: ns}
`, "default ServiceAccount"},
		{"one object twice", "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n---\napiVersion: v1\nkind: ConfigMap\nmetadata: {name: a, namespace: ns}\n", "same object"},
		{"unknown kind", "apiVersion: v1\nkind: Endpoints\nmetadata: {name: a, namespace: ns}\n", "no strategy"},
		{"admission policy with a misspelt field", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicy
metadata: {name: p}
spec:
  matchConstraints:
    resourceRules: [{apiGroups: [""], apiVersions: [v1], operations: [UPDATE], resources: [pods]}]
  validations:
  - expression: object.spec.schedulingGate == oldObject.spec.schedulingGate
`, "status.typeChecking"},
		{"admission policy binding without its policy name", `apiVersion: admissionregistration.k8s.io/v1
kind: ValidatingAdmissionPolicyBinding
metadata: {name: p}
spec: {validationActions: [Deny]}
`, "spec.policyName"},
		{"held job", `apiVersion: batch/v1
kind: Job
metadata: {name: j, namespace: ns}
spec:
  template:
    spec:
      schedulingGates: [{name: example.com/hold}]
      restartPolicy: Never
      securityContext: {runAsNonRoot: true, runAsUser: 1000, seccompProfile: {type: RuntimeDefault}}
      containers:
      - {name: main, image: "x:1", securityContext: {allowPrivilegeEscalation: false, capabilities: {drop: [ALL]}}}
`, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, findings := o.CheckFolder(map[string][]byte{"x.yaml": []byte(tc.yaml)})
			var all []string
			for _, f := range findings {
				all = append(all, f.String())
			}
			text := strings.Join(all, "\n")
			switch {
			case tc.want == "" && len(findings) > 0:
				t.Errorf("want no finding, got:\n%s", text)
			case tc.want != "" && !strings.Contains(text, tc.want):
				t.Errorf("want a finding with %q, got:\n%s", tc.want, text)
			}
		})
	}
}
