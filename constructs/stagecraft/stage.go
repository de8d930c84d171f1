package stagecraft

import (
	"time"

	"k8s.io/apimachinery/pkg/runtime"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Stage is a stage of a pipeline: a *ProcessorStage, *BatchStage or
// *ScheduledStage. Stages are wired to each other with Calls and
// RunsAfter.
//
// The set of kinds is closed: the interface's unexported methods are what
// the pipeline needs of a kind, and a new kind implements them in one file
// (see constructs/ARCHITECTURE.md).
type Stage interface {
	// Name returns the name of the stage's Kubernetes objects.
	Name() string
	// Path returns the stage's construct path.
	Path() string

	// base returns what every stage shares: its membership in the
	// pipeline, its resolved workload, ports and wiring.
	base() *stage
	// validate checks the kind's own props, including its workload; the
	// shared parts (id, calls, order) are checked by the pipeline.
	validate() field.ErrorList
	// objects builds the kind's own objects from its resolved spec. The
	// pipeline adds the shared ones: the wait for upstream Jobs, the
	// NetworkPolicy and the ServiceMonitor or PodMonitor.
	objects(r *rendering) []runtime.Object
	// shape returns how the diagram draws the stage: the Mermaid shape's
	// opening and closing brackets and the text below the name.
	shape(r *rendering) (open, close, text string)
}

// The kinds of stages stagecraft has.
var (
	_ Stage = (*ProcessorStage)(nil)
	_ Stage = (*BatchStage)(nil)
	_ Stage = (*ScheduledStage)(nil)
)

// stage is the resolved settings every kind shares, set by the kind's
// resolve step, and the stage's wiring.
type stage struct {
	member
	work workloadSpec
	// ports are the container's ports; servicePorts those of them that the
	// stage's Service exposes, which callers call (ports with a Service
	// port set).
	ports        []Port
	servicePorts []Port
	// ingress routes traffic from outside the cluster to the stage; nil for
	// none. Every field is set.
	ingress *Ingress
	// completes is true for a run-to-completion Job that later stages wait
	// for.
	completes bool
	// runsToCompletion is true for a stage whose pods run to completion
	// (a Job, or a CronJob's Jobs): it waits for the writers of the storage
	// it reads. A long-running stage waits only when asked.
	runsToCompletion bool
	// gated is true for a stage whose Job is held by a scheduling gate and
	// released by a gate Job; other stages wait in an init container.
	gated bool
	// queue is the Kueue LocalQueue of a held stage's Job; empty for none.
	queue string
	// ttl is how long a completing stage's Job is kept after it finishes;
	// zero keeps it.
	ttl time.Duration
	// maxPods is how many pods of the stage may run at once.
	maxPods int64

	calls []call     // declared with Calls
	after []upstream // declared with RunsAfter
}

func (s *stage) base() *stage { return s }

// validateShared checks what every stage shares: its id and its wiring.
func (s *stage) validateShared() field.ErrorList {
	errs := s.validateID()
	errs = append(errs, s.validateCalls()...)
	return append(errs, s.validateAfter()...)
}
