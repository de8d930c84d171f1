package stagecraft

import (
	"fmt"
	"reflect"
	"strings"

	corev1 "k8s.io/api/core/v1"
	"k8s.io/apimachinery/pkg/util/validation/field"
)

// call is a declared call from one stage to a port of another, resolved
// when it is declared.
type call struct {
	callee Stage    // nil when the caller passed none
	names  []string // the port names given
	port   Port     // the port called, when found
	found  bool
	named  bool // the caller named a port other than the callee's first
}

// upstream is a stage declared with RunsAfter; nil when none was given.
type upstream struct{ stage Stage }

// Calls declares that s sends requests to callee, on callee's first port
// or on the port named port. The NetworkPolicies let exactly this traffic
// through, and s gets callee's address in an environment variable: the
// callee's name in upper case with '-' as '_', then "_ENDPOINT" (for the
// first port) or "_<PORT>_ENDPOINT" (for another port), holding
// "host:port", for example VECTOR_INDEX_ENDPOINT=vector-index.rag.svc:6333.
// The callee must be a stage of the same pipeline with Ports (a
// ProcessorStage); anything else is a problem at synthesis.
func (s *stage) Calls(callee Stage, port ...string) {
	defer lockConstructs()()
	c := call{names: append([]string(nil), port...)}
	if !isNil(callee) {
		c.callee = callee
		ports := callee.base().servicePorts
		for i, p := range ports {
			if len(port) == 0 || p.Name == port[0] {
				c.port, c.found, c.named = p, true, i > 0
				break
			}
		}
	}
	s.calls = append(s.calls, c)
}

// RunsAfter declares that s runs after each upstream stage. Manifests and
// Argo CD sync waves follow that order. When an upstream is a BatchStage, s
// also waits at run time until its Job has completed, and fails as soon as
// it fails: a BatchStage's pods are held by a scheduling gate (they hold
// no node, accelerator or quota) until its gate Job releases them; another
// stage's pods wait in an init container, and so must not request
// accelerators (a problem at synthesis).
//
// After a ScheduledStage or a ProcessorStage, which never complete, the
// order is only that of the manifests and sync waves: nothing waits at run
// time, and the diagram draws the edge as "ordered before". For a chain
// that recurs (a chain run on a schedule, or again on demand), render
// the pipeline as an Argo Workflows DAG with PipelineProps.Workflows.
func (s *stage) RunsAfter(upstreams ...Stage) {
	defer lockConstructs()()
	for _, u := range upstreams {
		if isNil(u) {
			u = nil
		}
		s.after = append(s.after, upstream{stage: u})
	}
}

// isNil reports whether s is nil or a nil pointer of a kind.
func isNil(s Stage) bool {
	if s == nil {
		return true
	}
	v := reflect.ValueOf(s)
	return v.Kind() == reflect.Pointer && v.IsNil()
}

// validateCalls checks the declared calls.
func (s *stage) validateCalls() field.ErrorList {
	var errs field.ErrorList
	for i, c := range s.calls {
		fld := field.NewPath("Calls").Index(i)
		if c.callee == nil {
			errs = append(errs, required(fld, "the ProcessorStage to call"))
			continue
		}
		cb := c.callee.base()
		switch {
		case cb.pipeline != s.pipeline:
			errs = append(errs, invalid(fld, c.callee.Path(), "the callee belongs to another pipeline; stages call only stages of their own pipeline"))
		case cb == s:
			errs = append(errs, invalid(fld, c.callee.Path(), "a stage cannot call itself"))
		case len(cb.servicePorts) == 0:
			errs = append(errs, invalid(fld, c.callee.Path(), "the callee has no Ports to call"))
		case len(c.names) > 1:
			errs = append(errs, invalid(fld, c.names, "name at most one port"))
		case !c.found:
			errs = append(errs, notSupported(fld, c.names[0], "the callee has no port of that name; allowed: "+portNames(cb.servicePorts)))
		case s.declaredBefore(i):
			errs = append(errs, duplicate(fld, c.callee.Path(), "this call is already declared"))
		}
	}
	return errs
}

// declaredBefore reports whether the call at i repeats an earlier one.
func (s *stage) declaredBefore(i int) bool {
	c := s.calls[i]
	for _, prev := range s.calls[:i] {
		if prev.callee == c.callee && prev.found && prev.port.Name == c.port.Name {
			return true
		}
	}
	return false
}

// validCalls returns the calls that passed validation, in order.
func (s *stage) validCalls() []call {
	var out []call
	for i, c := range s.calls {
		if s.isValidCall(i) {
			out = append(out, c)
		}
	}
	return out
}

// isValidCall reports whether the call at i passed validation.
func (s *stage) isValidCall(i int) bool {
	c := s.calls[i]
	return c.callee != nil && c.found && len(c.names) <= 1 && c.callee.base() != s &&
		c.callee.base().pipeline == s.pipeline && !s.declaredBefore(i)
}

// validateAfter checks the declared order.
func (s *stage) validateAfter() field.ErrorList {
	var errs field.ErrorList
	for i, u := range s.after {
		fld := field.NewPath("RunsAfter").Index(i)
		switch {
		case u.stage == nil:
			errs = append(errs, required(fld, "the upstream stage"))
		case u.stage.base().pipeline != s.pipeline:
			errs = append(errs, invalid(fld, u.stage.Path(), "the upstream stage belongs to another pipeline"))
		case u.stage.base() == s:
			errs = append(errs, invalid(fld, u.stage.Path(), "a stage cannot run after itself"))
		}
	}
	return errs
}

// validAfter returns the upstream stages that passed validation.
func (s *stage) validAfter() []Stage {
	var out []Stage
	for _, u := range s.after {
		if u.stage != nil && u.stage.base().pipeline == s.pipeline && u.stage.base() != s {
			out = append(out, u.stage)
		}
	}
	return out
}

// endpointEnv returns the discovery variable of a call.
func (c call) endpointEnv() corev1.EnvVar {
	cb := c.callee.base()
	name := envName(cb.name)
	if c.named {
		name += "_" + envName(c.port.Name)
	}
	return corev1.EnvVar{
		Name:  name + "_ENDPOINT",
		Value: fmt.Sprintf("%s.%s.svc:%d", cb.name, cb.pipeline.namespace, c.port.ServicePort),
	}
}

// envName turns a Kubernetes name into an environment variable's.
func envName(s string) string { return strings.ToUpper(strings.ReplaceAll(s, "-", "_")) }
