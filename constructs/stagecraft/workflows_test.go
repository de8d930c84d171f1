package stagecraft_test

import (
	"encoding/json"
	"reflect"
	"strings"
	"testing"
	"time"

	"github.com/cdk8s-team/cdk8s-core-go/cdk8s/v2"
	"github.com/stagecraft-dev/stagecraft/constructs/stagecraft"
	"github.com/stagecraft-dev/stagecraft/constructs/stagetest"
	"k8s.io/utils/ptr"
)

// argoChain is a pipeline rendered as Argo Workflows: a scheduled head that
// writes storage, a sharded GPU task that reads it (which would be held by
// a gate as a Job), and a task after it.
func argoChain(chart cdk8s.Chart) {
	p := stagecraft.NewPipeline(chart, "c", stagecraft.PipelineProps{Workflows: &stagecraft.Workflows{Name: "nightly"}, Network: testAPI})
	data := stagecraft.NewPipelineStorage(p, "data", stagecraft.PipelineStorageProps{Size: "1Gi"})
	stagecraft.NewScheduledStage(p, "ingest", stagecraft.ScheduledStageProps{
		Workload: stagecraft.Workload{Image: image, Command: []string{"/ingest"}, Mounts: []stagecraft.Mount{{Storage: data, Path: "/d"}}},
		Schedule: "0 2 * * *", TimeZone: "Europe/Berlin",
	})
	embed := stagecraft.NewBatchStage(p, "embed", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{Image: image, Command: []string{"/embed"}, Mounts: []stagecraft.Mount{{Storage: data, Path: "/d", ReadOnly: true}},
			Accelerators: &stagecraft.Accelerators{Count: 1, RuntimeClassName: "nvidia"}, PriorityClassName: "batch"},
		JobSettings: stagecraft.JobSettings{Indexed: true, Completions: ptr.To[int32](3), Parallelism: ptr.To[int32](2),
			BackoffLimit: ptr.To[int32](5), FailFastExitCodes: []int32{7, 3}, ActiveDeadline: time.Hour, Queue: "gpu"},
	})
	stagecraft.NewBatchStage(p, "report", stagecraft.BatchStageProps{
		Workload: stagecraft.Workload{Image: image, Command: []string{"/report"}},
	}).RunsAfter(embed)
}

// TestWorkflowsReplaceJobs checks what a chain renders to: no Job,
// CronJob or gate, a DAG in the pipeline's order, a CronWorkflow with the
// head's schedule, and an executor that may only report results.
func TestWorkflowsReplaceJobs(t *testing.T) {
	m := stagetest.SynthChart(t, "c", argoChain)
	m.AssertRestricted(t)
	for _, kind := range []string{"Job", "CronJob"} {
		if objs := m.Objects(kind); len(objs) > 0 {
			t.Errorf("%d %s objects in an Argo pipeline, want none", len(objs), kind)
		}
	}
	wt := m.Find(t, "WorkflowTemplate", "c", "nightly")
	tasks := m.Get(t, wt, "spec.templates[0].dag.tasks").([]any)
	got := map[string]any{}
	for _, task := range tasks {
		tm := task.(map[string]any)
		got[tm["name"].(string)] = tm["dependencies"]
	}
	want := map[string]any{"ingest": nil, "embed": []any{"ingest"}, "report": []any{"embed"}}
	if !reflect.DeepEqual(got, want) {
		t.Errorf("DAG dependencies = %v, want %v", got, want)
	}
	if got := m.Get(t, wt, "spec.executor.serviceAccountName"); got != "nightly-executor" {
		t.Errorf("executor account = %v", got)
	}
	cw := m.Find(t, "CronWorkflow", "c", "nightly")
	if got := m.Get(t, cw, "spec.schedules[0]"); got != "0 2 * * *" {
		t.Errorf("schedule = %v", got)
	}
	if got := m.Get(t, cw, "spec.timezone"); got != "Europe/Berlin" {
		t.Errorf("time zone = %v", got)
	}
	role := m.Find(t, "Role", "c", "nightly-executor")
	rules, _ := json.Marshal(m.Get(t, role, "rules"))
	if string(rules) != `[{"apiGroups":["argoproj.io"],"resources":["workflowtaskresults"],"verbs":["create","patch"]}]` {
		t.Errorf("executor rules = %s", rules)
	}
	if got := m.Get(t, m.Find(t, "Secret", "c", "nightly-executor.service-account-token"), "type"); got != "kubernetes.io/service-account-token" {
		t.Errorf("token Secret type = %v", got)
	}
}

// TestWorkflowsTaskKeepsJobGuarantees checks that a sharded task keeps
// what its Job had: retries with fail-fast codes, the deadline, shards
// with their index, Kueue's label, accelerators, and the pod fields a
// template has no field for, in its podSpecPatch.
func TestWorkflowsTaskKeepsJobGuarantees(t *testing.T) {
	m := stagetest.SynthChart(t, "c", argoChain)
	wt := m.Find(t, "WorkflowTemplate", "c", "nightly")
	templates := m.Get(t, wt, "spec.templates").([]any)
	byName := map[string]map[string]any{}
	for _, x := range templates {
		tm := x.(map[string]any)
		byName[tm["name"].(string)] = tm
	}
	shards, embed := byName["embed-shards"], byName["embed"]
	if shards == nil || embed == nil {
		t.Fatalf("templates %v: want embed-shards and embed", reflect.ValueOf(byName).MapKeys())
	}
	if shards["parallelism"] != int64(2) {
		t.Errorf("shards parallelism = %v, want 2", shards["parallelism"])
	}
	seq, _ := stagetest.Lookup(shards, "dag.tasks[0].withSequence.count")
	if seq != int64(3) {
		t.Errorf("withSequence count = %v, want 3", seq)
	}
	rs := embed["retryStrategy"].(map[string]any)
	if rs["limit"] != int64(5) || rs["expression"] != `lastRetry.status == "Error" || lastRetry.exitCode not in ["3", "7"]` {
		t.Errorf("retryStrategy = %v", rs)
	}
	if embed["activeDeadlineSeconds"] != int64(3600) || rs["backoff"].(map[string]any)["maxDuration"] != "3600s" {
		t.Errorf("deadline = %v, backoff %v", embed["activeDeadlineSeconds"], rs["backoff"])
	}
	if q, _ := stagetest.Lookup(embed, `metadata.labels["kueue.x-k8s.io/queue-name"]`); q != "gpu" {
		t.Errorf("queue label = %v", q)
	}
	env, _ := json.Marshal(embed["container"].(map[string]any)["env"])
	if !strings.Contains(string(env), `{"name":"JOB_COMPLETION_INDEX","value":"{{inputs.parameters.index}}"}`) {
		t.Errorf("env = %s, want the shard's index", env)
	}
	var patch map[string]any
	if err := json.Unmarshal([]byte(embed["podSpecPatch"].(string)), &patch); err != nil {
		t.Fatal(err)
	}
	if patch["runtimeClassName"] != "nvidia" || patch["enableServiceLinks"] != false {
		t.Errorf("podSpecPatch = %v, want the pod fields a template lacks", patch)
	}
	if embed["priorityClassName"] != "batch" || embed["automountServiceAccountToken"] != false {
		t.Errorf("template = %v", embed)
	}
}

// TestWorkflowsRenderersAgree checks that cdk8s writes the chain's
// objects, the Argo ones through the constructors `cdk8s import`
// generated, as stagecraft writes them.
func TestWorkflowsRenderersAgree(t *testing.T) {
	ours, viaCDK8s, viaL1 := renderThreeWays(t, argoChain)
	kinds := map[any]bool{}
	for _, o := range ours {
		kinds[o["kind"]] = true
	}
	if !kinds["WorkflowTemplate"] || !kinds["CronWorkflow"] || !kinds["Secret"] {
		t.Fatalf("kinds %v: want the chain's", kinds)
	}
	for path, other := range map[string][]map[string]any{"cdk8s": viaCDK8s, "L1": viaL1} {
		if len(other) != len(ours) {
			t.Fatalf("%d objects from stagecraft, %d through %s", len(ours), len(other), path)
		}
		for i := range ours {
			if x, y := dropEmptyLists(ours[i]), dropEmptyLists(clusterScoped(t, other[i])); !reflect.DeepEqual(x, y) {
				t.Errorf("object %d differs:\nstagecraft: %v\n%s: %v", i, x, path, y)
			}
		}
	}
}
