package stagecraft

// Argo Workflows. With PipelineProps.Workflows, the pipeline's
// run-to-completion stages (every BatchStage and ScheduledStage) are the
// tasks of one Argo Workflows DAG instead of Jobs and CronJobs: a
// WorkflowTemplate, and a CronWorkflow when a ScheduledStage heads the
// chain. Argo runs the whole chain again on every run, which Jobs cannot.
// Processors stay Deployments or StatefulSets, storage stays claims.

// Workflows renders a pipeline's run-to-completion stages as Argo
// Workflows objects (argoproj.io/v1alpha1): a WorkflowTemplate whose DAG
// has a task per BatchStage and ScheduledStage, ordered by the pipeline's
// edges (RunsAfter, and storage a stage writes before others read it).
// A ScheduledStage heads the chain: its Schedule, TimeZone,
// ConcurrencyPolicy, StartingDeadline, history limits and Suspend become
// a CronWorkflow that runs the WorkflowTemplate, and its work the first
// task. Without a ScheduledStage the WorkflowTemplate is run by hand
// (argo submit --from workflowtemplate/<Name>) or by other tooling.
//
// Every pod of the chain passes Pod Security "restricted", Argo's
// executor containers (init and wait) included, through each template's
// podSpecPatch. The executor runs as a ServiceAccount of its own,
// "<Name>-executor", whose Role may only create and patch
// WorkflowTaskResults, with its token in the Secret
// "<Name>-executor.service-account-token", mounted into the executor
// containers alone; the stage's container gets no token
// (automountServiceAccountToken: false). The NetworkPolicy
// "<Name>-executor" lets the chain's pods reach the API server.
//
// The cluster needs Argo Workflows installed, with its controller
// watching the pipeline's namespace.
type Workflows struct {
	// Name of the WorkflowTemplate and the CronWorkflow (metadata.name),
	// and the prefix of the executor's objects: a DNS label of at most 52
	// characters (Argo adds a suffix to the names of the Workflows a
	// CronWorkflow creates). Default: the pipeline's namespace.
	Name string
	// ExecutorResources are the requests and limits of Argo's executor
	// containers (init and wait), set through podSpecPatch. Empty fields
	// take stagecraft's default: 10m CPU, 64Mi memory and 16Mi
	// ephemeral storage requested; 500m CPU, 128Mi memory and 64Mi
	// ephemeral storage at most.
	ExecutorResources Resources
}

// workflowsSpec is a resolved Workflows.
type workflowsSpec struct {
	given    Workflows
	name     string
	executor Resources // every field set
}

// resolveWorkflows applies the defaults of w for a pipeline in namespace;
// nil when the pipeline renders Jobs.
func resolveWorkflows(w *Workflows, namespace string) *workflowsSpec {
	if w == nil {
		return nil
	}
	return &workflowsSpec{
		given:    *w,
		name:     firstOf(w.Name, namespace),
		executor: w.ExecutorResources.merge(defaultExecutorResources),
	}
}

// Names of the objects and templates of a chain.
const (
	// dagTemplate is the WorkflowTemplate's entrypoint, the DAG of tasks.
	dagTemplate = "dag"
	// shardsSuffix names the template that fans a sharded stage out.
	shardsSuffix = "-shards"
	// indexParameter is the input parameter of a shard's index.
	indexParameter = "index"
	// workflowNameMax leaves room for the suffix Argo adds to the names of
	// the Workflows a CronWorkflow creates.
	workflowNameMax = 52
	// workflowLabel is the label Argo puts on every pod it creates.
	workflowLabel = "workflows.argoproj.io/workflow"
	// executorInit and executorWait are Argo's executor containers.
	executorInit = "init"
	executorWait = "wait"
	// serviceAccountTokenType is a Secret the token controller fills.
	serviceAccountTokenType = "kubernetes.io/service-account-token"
)

// executorName names the executor's ServiceAccount, Role, RoleBinding and
// NetworkPolicy.
func (w *workflowsSpec) executorName() string { return w.name + "-executor" }

// executorTokenSecret is the name under which Argo finds the executor's
// token (Argo's "<account>.service-account-token" convention).
func (w *workflowsSpec) executorTokenSecret() string {
	return w.executorName() + ".service-account-token"
}

// inChain reports whether s is a task of its pipeline's Argo chain.
func inChain(s *stage) bool { return s.pipeline.workflows != nil && s.runsToCompletion }

// chainStages returns the tasks of p's chain, in the graph's order.
func (g *graph) chainStages() []Stage {
	var out []Stage
	for _, s := range g.order {
		if inChain(s.base()) {
			out = append(out, s)
		}
	}
	return out
}

// head returns the ScheduledStage of p's chain, or nil.
func (g *graph) head() *ScheduledStage {
	for _, s := range g.order {
		if sc, ok := s.(*ScheduledStage); ok && inChain(&sc.stage) {
			return sc
		}
	}
	return nil
}

// jobSettings returns the job settings of a chain task.
func jobSettingsOf(s Stage) JobSettings {
	switch t := s.(type) {
	case *BatchStage:
		return t.job
	case *ScheduledStage:
		return t.spec.JobSettings
	}
	return JobSettings{}
}

// taskTemplate is the name of the template a task runs: the stage's own,
// or, for a fan-out, the one that runs its shards.
func taskTemplate(s Stage) string {
	if fanOut(jobSettingsOf(s)) {
		return s.Name() + shardsSuffix
	}
	return s.Name()
}

// fanOut reports whether a stage runs as several pods: a fan-out of
// Completions shards (withSequence), Parallelism at once.
func fanOut(j JobSettings) bool { return j.Completions != nil && *j.Completions > 1 }

// lastWave is the highest sync wave of the pipeline's stages.
func (r *rendering) lastWave() int {
	wave := 0
	for _, l := range r.g.level {
		if l > wave {
			wave = l
		}
	}
	return wave
}
