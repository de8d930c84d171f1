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
// variables, Argo CD sync waves, init containers that wait for upstream
// Jobs, and a Mermaid diagram.
//
// Every constructor has the shape NewX(scope, id, props). Props are plain
// Go values whose zero values mean the documented default; a construct
// copies them and never changes the caller's. The id is the name of the
// construct's Kubernetes objects, so it is part of the contract: renaming
// a stage renames its objects.
//
// Props are validated in Go as constructs are created, before anything
// reaches cdk8s's Node.js runtime, and every problem of an app is reported
// at once as a *ValidationError, naming the construct path, the field, the
// bad value and what is allowed. An app's main ends with Main (or
// MainEnvironments), which writes dist/<app>/ atomically or prints the
// problems and exits with status 1.
//
// Pods are secure by default: they pass Pod Security "restricted" (non-root
// user, no privilege escalation, no capabilities, RuntimeDefault seccomp,
// read-only root filesystem with a writable /tmp), set requests and limits,
// read secrets only by reference, and get an API token only where a stage
// needs one. Every default can be overridden, through props or, for a field
// stagecraft has no prop for, through Override.
//
// The constructs are cdk8s constructs, nodes of the app's construct tree,
// but stagecraft builds their Kubernetes objects as typed k8s.io/api values
// in Go and writes them itself, beside the objects other cdk8s constructs
// add to the same chart: one call into Node.js per chart rather than one
// per object. The package stagetest tests apps built with it.
package stagecraft
