package stagecraft_test

import (
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/utils/ptr"
)

// readers is a pipeline where batch stage "fill" writes storage "data"
// and a stage of each kind reads it: "train" (a BatchStage queued with
// Kueue, holding GPUs), "report" (a ScheduledStage), "serve" (a
// ProcessorStage that does not wait) and "warm" (one that asks to wait);
// "audit" runs after the ScheduledStage.
func readers(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "w", stagecraft.PipelineProps{Network: testAPI})
	data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "1Gi"})
	read := func(wait *bool) stagecraft.Workload {
		return stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{{Storage: data, Path: "/data", ReadOnly: true, WaitForWriters: wait}}}
	}
	stagecraft.NewBatchStage(p, "fill", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image, Mounts: []stagecraft.Mount{{Storage: data, Path: "/data"}}}})
	train := read(nil)
	train.Accelerators = &stagecraft.Accelerators{Count: 2}
	stagecraft.NewBatchStage(p, "train", stagecraft.BatchStageProps{Workload: train, JobSettings: stagecraft.JobSettings{Queue: "gpu"}})
	report := stagecraft.NewScheduledStage(p, "report", stagecraft.ScheduledStageProps{Workload: read(nil), Schedule: "@daily"})
	stagecraft.NewProcessorStage(p, "serve", stagecraft.ProcessorStageProps{Workload: read(nil)})
	stagecraft.NewProcessorStage(p, "warm", stagecraft.ProcessorStageProps{Workload: read(ptr.To(true))})
	stagecraft.NewBatchStage(p, "audit", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}}).RunsAfter(report)
}

func TestHeldBatchStage(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "c", readers)
	fill := m.FindStage(t, "Job", "w", "fill").GetName()
	train := m.FindStage(t, "Job", "w", "train")
	get := func(path string) string { return fmt.Sprint(m.Get(t, train, path)) }
	if got := get("spec.template.spec.schedulingGates"); got != "[map[name:stagecraft.dev/upstream]]" {
		t.Errorf("train's pods are gated by %s", got)
	}
	for _, path := range []string{"spec.template.spec.initContainers", "spec.template.spec.serviceAccountName", "spec.suspend"} {
		if v, err := stagetest.Lookup(train.Object, path); err == nil {
			t.Errorf("train has %s = %v; a held Job needs no init container, account or suspend", path, v)
		}
	}
	if got := get(`metadata.labels["kueue.x-k8s.io/queue-name"]`); got != train.GetName() {
		t.Errorf("train's queue label is %s, want the LocalQueue of its run, %s", got, train.GetName())
	}
	if got := get(`metadata.annotations["stagecraft.dev/queue"]`); got != "gpu" {
		t.Errorf("train's stagecraft.dev/queue annotation is %s", got)
	}
	gate := m.FindStage(t, "Job", "w", "train-gate")
	want := fmt.Sprintf("[release --namespace=w --job=%s --upstream=%s --timeout=86400s]", train.GetName(), fill)
	if got := fmt.Sprint(m.Get(t, gate, "spec.template.spec.containers[0].args")); got != want {
		t.Errorf("gate args %s, want %s", got, want)
	}
	if got := fmt.Sprint(m.Get(t, gate, "spec.template.spec.serviceAccountName")); got != "train-gate" {
		t.Errorf("the gate runs as %s", got)
	}
	role := fmt.Sprint(m.Get(t, m.Find(t, "Role", "w", "train-gate"), "rules"))
	for _, want := range []string{"resourceNames:[" + fill + " " + train.GetName() + "] resources:[jobs] verbs:[get]",
		"resources:[jobs/status] verbs:[patch]", "resources:[pods] verbs:[list patch]", "resourceNames:[gpu] resources:[localqueues] verbs:[get]"} {
		if !strings.Contains(role, want) {
			t.Errorf("the gate's Role lacks %q: %s", want, role)
		}
	}
	if egress := fmt.Sprint(m.Get(t, m.Find(t, "NetworkPolicy", "w", "train-gate"), "spec.egress")); !strings.Contains(egress, "6443") {
		t.Errorf("the gate cannot reach the API server: %s", egress)
	}
	for _, np := range m.Objects("NetworkPolicy") {
		if np.GetName() == "train" {
			t.Error("train's own pods have a NetworkPolicy of their own; only its gate needs the API server")
		}
	}
}

func TestWaitsFollowTheKindOfReader(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "c", readers)
	report := m.Find(t, "CronJob", "w", "report")
	if got := fmt.Sprint(m.Get(t, report, "spec.jobTemplate.spec.template.spec.initContainers[0].args[0]")); got != "wait" {
		t.Errorf("report's init container runs %s, want the gate's wait", got)
	}
	if got := fmt.Sprint(m.Get(t, report, "spec.jobTemplate.spec.podFailurePolicy.rules[0]")); !strings.Contains(got, "containerName:wait-upstream") || !strings.Contains(got, "FailJob") {
		t.Errorf("report's Job does not fail at once when its wait ends for good: %s", got)
	}
	serve := m.Find(t, "Deployment", "w", "serve")
	for _, path := range []string{"spec.template.spec.initContainers", "spec.template.spec.serviceAccountName"} {
		if v, err := stagetest.Lookup(serve.Object, path); err == nil {
			t.Errorf("serve, which only reads data, has %s = %v", path, v)
		}
	}
	if has(m, "Role", "serve-wait") {
		t.Error("serve has a Role to read Jobs")
	}
	warm := m.Find(t, "Deployment", "w", "warm")
	if got := fmt.Sprint(m.Get(t, warm, "spec.template.spec.initContainers[0].name")); got != "wait-upstream" {
		t.Errorf("warm, which asked to wait, has init container %s", got)
	}
	audit := m.FindStage(t, "Job", "w", "audit")
	if _, err := stagetest.Lookup(audit.Object, "spec.template.spec.schedulingGates"); err == nil || has(m, "Job", "audit-gate-") {
		t.Error("audit waits for a ScheduledStage, which never completes")
	}
	for _, want := range []string{`w_s_report -. "ordered before" .-> w_s_audit`, `w_v_data -. "reads after writers" .-> w_s_train`,
		`w_v_data -. reads .-> w_s_serve`, `w_v_data -. "reads after writers" .-> w_s_warm`} {
		if !strings.Contains(m.Diagram, want) {
			t.Errorf("the diagram lacks %q:\n%s", want, m.Diagram)
		}
	}
}

func TestGateNameFits(t *testing.T) {
	t.Parallel()
	long := strings.Repeat("x", 54)
	m := stagetest.SynthChart(t, "c", func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "w", stagecraft.PipelineProps{Network: testAPI})
		a := stagecraft.NewBatchStage(p, "a", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		stagecraft.NewBatchStage(p, long, stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}}).RunsAfter(a)
	})
	gate := m.FindStage(t, "Job", "w", long+"-gate").GetName()
	if len(gate) > 63 || !strings.HasPrefix(gate, long[:49]+"-gate-") {
		t.Errorf("gate Job name %q (%d characters)", gate, len(gate))
	}
}

// has reports whether m holds an object of kind whose name starts with
// prefix.
func has(m *stagetest.Manifest, kind, prefix string) bool {
	for _, o := range m.Objects(kind) {
		if strings.HasPrefix(o.GetName(), prefix) {
			return true
		}
	}
	return false
}

func TestGateAdmissionPolicy(t *testing.T) {
	t.Parallel()
	m := stagetest.SynthChart(t, "c", readers)
	policy := m.Find(t, "ValidatingAdmissionPolicy", "", "stagecraft-gate.w.train-gate")
	if got := fmt.Sprint(m.Get(t, policy, "spec.matchConditions[0].expression")); got != "request.userInfo.username == 'system:serviceaccount:w:train-gate'" {
		t.Errorf("the policy applies to %s", got)
	}
	if got := fmt.Sprint(m.Get(t, policy, "spec.validations[0].expression")); !strings.Contains(got, "orValue('') == 'train'") {
		t.Errorf("the policy lets the gate release the pods of %s", got)
	}
	binding := m.Find(t, "ValidatingAdmissionPolicyBinding", "", "stagecraft-gate.w.train-gate")
	if got := fmt.Sprint(m.Get(t, binding, "spec.validationActions")); got != "[Deny]" {
		t.Errorf("the binding's actions are %s", got)
	}
	if got := fmt.Sprint(m.Get(t, binding, "spec.matchResources.namespaceSelector.matchLabels")); got != "map[kubernetes.io/metadata.name:w]" {
		t.Errorf("the binding applies to namespaces %s", got)
	}
	without := stagetest.SynthChart(t, "c", func(chart cdk8s.Chart) {
		p := stagecraft.NewPipeline(chart, "w", stagecraft.PipelineProps{NoGateAdmissionPolicy: true, Network: testAPI})
		a := stagecraft.NewBatchStage(p, "a", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
		stagecraft.NewBatchStage(p, "b", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}}).RunsAfter(a)
	})
	if n := len(without.Objects("ValidatingAdmissionPolicy")) + len(without.Objects("ValidatingAdmissionPolicyBinding")); n != 0 || !has(without, "Job", "b-gate-") {
		t.Errorf("NoGateAdmissionPolicy: %d admission objects, gate present %v", n, has(without, "Job", "b-gate-"))
	}
}

// testAPI states the API server's address (a documentation address,
// RFC 5737) for the pipelines of tests whose stages wait.
var testAPI = stagecraft.Network{APIServerCIDRs: []string{"192.0.2.10/32"}}

// TestGatePoliciesOfTwoApps: two apps whose pipelines share a namespace
// write cluster-scoped objects of distinct names, so that neither
// replaces the other's; each policy applies to its own gate's account.
func TestGatePoliciesOfTwoApps(t *testing.T) {
	t.Parallel()
	app := func(id, stage string) *stagetest.Manifest {
		return stagetest.SynthChart(t, id, func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, id, stagecraft.PipelineProps{Namespace: "shared", Network: testAPI})
			a := stagecraft.NewBatchStage(p, stage+"-up", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}})
			stagecraft.NewBatchStage(p, stage, stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image}}).RunsAfter(a)
		})
	}
	names := map[string]string{}
	for _, a := range []struct{ id, stage string }{{"one", "train"}, {"two", "tune"}} {
		m := app(a.id, a.stage)
		cluster := 0
		for _, kind := range []string{"Namespace", "ValidatingAdmissionPolicy", "ValidatingAdmissionPolicyBinding", "ClusterRole", "ClusterRoleBinding"} {
			for _, o := range m.Objects(kind) {
				if kind == "Namespace" {
					continue // the namespace itself is what the apps share
				}
				cluster++
				key := kind + "/" + o.GetName()
				if other, ok := names[key]; ok {
					t.Errorf("apps %s and %s both write %s", other, a.id, key)
				}
				names[key] = a.id
			}
		}
		if cluster != 2 {
			t.Errorf("app %s writes %d cluster-scoped objects besides its namespace, want a policy and a binding", a.id, cluster)
		}
		p := m.Find(t, "ValidatingAdmissionPolicy", "", "stagecraft-gate.shared."+a.stage+"-gate")
		if got := fmt.Sprint(m.Get(t, p, "spec.matchConditions[0].expression")); !strings.HasSuffix(got, ":shared:"+a.stage+"-gate'") {
			t.Errorf("app %s: the policy applies to %s", a.id, got)
		}
	}
}

// TestHeldDeadline: a held Job's ActiveDeadline is not its
// spec.activeDeadlineSeconds, which the Job controller would count while
// the pods are held, but an annotation its gate reads at release; only
// then may the gate patch the Job.
func TestHeldDeadline(t *testing.T) {
	t.Parallel()
	define := func(deadline time.Duration) func(cdk8s.Chart) {
		return func(chart cdk8s.Chart) {
			p := stagecraft.NewPipeline(chart, "w", stagecraft.PipelineProps{Network: testAPI})
			a := stagecraft.NewBatchStage(p, "a", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image},
				JobSettings: stagecraft.JobSettings{ActiveDeadline: time.Hour}})
			stagecraft.NewBatchStage(p, "b", stagecraft.BatchStageProps{Workload: stagecraft.Workload{Image: image},
				JobSettings: stagecraft.JobSettings{ActiveDeadline: deadline}}).RunsAfter(a)
		}
	}
	m := stagetest.SynthChart(t, "c", define(90*time.Minute))
	b := m.FindStage(t, "Job", "w", "b")
	if v, err := stagetest.Lookup(b.Object, "spec.activeDeadlineSeconds"); err == nil {
		t.Errorf("the held Job has spec.activeDeadlineSeconds %v", v)
	}
	if got := b.GetAnnotations()["stagecraft.dev/active-deadline-seconds"]; got != "5400" {
		t.Errorf("the held Job's deadline annotation is %q, want 5400", got)
	}
	if got := fmt.Sprint(m.Get(t, m.FindStage(t, "Job", "w", "a"), "spec.activeDeadlineSeconds")); got != "3600" {
		t.Errorf("a Job that is not held has spec.activeDeadlineSeconds %s, want 3600", got)
	}
	patch := "resourceNames:[" + b.GetName() + "] resources:[jobs] verbs:[patch]"
	if role := fmt.Sprint(m.Get(t, m.Find(t, "Role", "w", "b-gate"), "rules")); !strings.Contains(role, patch) {
		t.Errorf("the gate may not set the deadline: %s", role)
	}
	jobs := m.Find(t, "ValidatingAdmissionPolicy", "", "stagecraft-gate.w.b-gate.job")
	if got := fmt.Sprint(m.Get(t, jobs, "spec.matchConstraints.resourceRules[0].resources")); got != "[jobs]" {
		t.Errorf("the gate's Job policy applies to %s", got)
	}
	if got := fmt.Sprint(m.Get(t, jobs, "spec.validations[0].expression")); !strings.HasPrefix(got, "!has(oldObject.spec.activeDeadlineSeconds) && ") {
		t.Errorf("the gate's Job policy lets it set the deadline more than once: %s", got)
	}
	m.Find(t, "ValidatingAdmissionPolicyBinding", "", "stagecraft-gate.w.b-gate.job")
	none := stagetest.SynthChart(t, "c", define(0))
	if role := fmt.Sprint(none.Get(t, none.Find(t, "Role", "w", "b-gate"), "rules")); strings.Contains(role, "resources:[jobs] verbs:[patch]") {
		t.Errorf("without a deadline the gate may still patch the Job: %s", role)
	}
	if n := len(none.Objects("ValidatingAdmissionPolicy")); n != 1 {
		t.Errorf("without a deadline: %d admission policies, want the gate's on pods alone", n)
	}
	if _, ok := none.FindStage(t, "Job", "w", "b").GetAnnotations()["stagecraft.dev/active-deadline-seconds"]; ok {
		t.Error("a held Job without a deadline carries the annotation")
	}
}
