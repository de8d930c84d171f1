// Package stagecraft is a construct library, in the cdk8s style, for
// declaring AI-driven data pipelines on Kubernetes.
//
// A team composes constructs inside a Pipeline:
//
//   - ProcessorStage, a long-running service (Deployment or StatefulSet,
//     Service, Ingress, autoscaling, disruption budget);
//   - BatchStage, a run-to-completion Job (sharded, queued, on GPUs);
//   - ScheduledStage, a CronJob;
//   - PipelineStorage, persistent data shared by stages.
//
// Stages are wired with Calls and RunsAfter; storage that one stage writes
// and another reads orders them too. From the wiring stagecraft derives
// NetworkPolicies that allow only the declared traffic, discovery
// variables, Argo CD sync waves, the waits for upstream Jobs (a gate that
// holds a BatchStage's pods with a scheduling gate and fails them as soon
// as an upstream Job fails; an init container for other kinds), and a
// Mermaid diagram.
//
// Every constructor has the shape NewX(scope, id, props). Props are plain
// Go values whose zero values mean the documented default; a construct
// copies them and never changes the caller's. The id is the name of the
// construct's Kubernetes objects, so it is part of the contract: renaming
// a stage renames its objects.
//
// Props are resolved (every default applied) when a construct is created
// and validated in Go before anything reaches cdk8s's Node.js runtime;
// every problem of an app is reported at once as a *ValidationError,
// naming the construct path, the field, the kind of problem (as
// Kubernetes' field.ErrorType), the bad value and what is allowed.
// Synthesize builds every object in memory; the package synth writes them:
// an app's main is synth.MainChart (or synth.Main, synth.MainEnvironments),
// which writes dist/<app>/ atomically or prints the problems and exits with
// status 1. constructs/ARCHITECTURE.md describes the phases and how to add
// a kind of stage.
//
// Misuse of the API never panics. Constructors cannot return errors, so a
// nil scope, a Pipeline that NewPipeline did not make, a Pipeline outside a
// cdk8s Chart, a scope cdk8s refuses (its runtime stopped by synth.Main),
// RunsAfter or Calls of a nil stage, Override(nil), an Override that
// panics, and Endpoint of a port the stage lacks are problems of the
// construct, reported with the others by Validate and Synthesize. A
// construct whose scope was nil belongs to no app: the next Validate or
// Synthesize in the process reports it. Constructors, Calls, RunsAfter and
// Override may be called from several goroutines (stagecraft serializes
// its own calls into jsii, which is not safe for concurrent use; serialize
// your own cdk8s calls). An unexpected panic inside Validate or Synthesize
// is returned as a *PanicError naming the construct.
//
// Pods are secure by default: they pass Pod Security "restricted" (non-root
// user, no privilege escalation, no capabilities, RuntimeDefault seccomp,
// read-only root filesystem with a writable /tmp), set requests and limits,
// read secrets only by reference, and get an API token only where a stage
// needs one. Every default can be overridden, through props or, for a field
// stagecraft has no prop for, through Override; an object an Override
// changed is checked again (Pod Security "restricted" and the rules of its
// kind), unless the stage sets Security.AllowPrivilegedOverride, and may
// grant no more than it did as rendered (roles and bindings, admission and
// network policies, tokens and accounts), unless the pipeline sets
// PipelineProps.AllowWideningOverride.
//
// The constructs are cdk8s constructs, nodes of the app's construct tree,
// but stagecraft builds their Kubernetes objects as typed k8s.io/api values
// in Go and writes them itself, beside the objects other cdk8s constructs
// add to the same chart: one call into Node.js per chart rather than one
// per object. A chart's labels and namespace (cdk8s.ChartProps) apply to
// them as cdk8s applies them to its own objects, and cdk8s's own
// app.Synth() writes them too. The package stagetest tests apps built with
// it.
package stagecraft
