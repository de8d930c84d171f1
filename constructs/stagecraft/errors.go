package stagecraft

import (
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Problem is one invalid input: which construct, which field, the bad value
// and what is allowed.
type Problem struct {
	// Construct is the construct path, for example "seed/ai-pipeline/data-processor".
	Construct string
	// Field is the prop's path inside the construct's props, for example
	// "Ports[0].Name".
	Field string
	// Value is the rejected value; nil when the problem is a missing value.
	Value any
	// Detail says what is allowed.
	Detail string
}

// String renders the problem on one line:
//
//	path: Field: invalid value "x": what is allowed
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(p.Construct)
	if p.Field != "" {
		b.WriteString(": ")
		b.WriteString(p.Field)
	}
	if p.Value != nil {
		fmt.Fprintf(&b, ": invalid value %s", quote(p.Value))
	}
	b.WriteString(": ")
	b.WriteString(p.Detail)
	return b.String()
}

func quote(v any) string {
	switch t := v.(type) {
	case string:
		return fmt.Sprintf("%q", t)
	case []string:
		return fmt.Sprintf("%q", t)
	}
	return fmt.Sprint(v)
}

// ValidationError reports every problem found in an app's pipelines at
// once. Use errors.As to reach it.
type ValidationError struct {
	// Problems lists every problem, in the order the constructs were
	// created.
	Problems []Problem
}

// Error lists the problems, one a line.
func (e *ValidationError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%d invalid input", len(e.Problems))
	if len(e.Problems) != 1 {
		b.WriteString("s")
	}
	for _, p := range e.Problems {
		b.WriteString("\n  - ")
		b.WriteString(p.String())
	}
	return b.String()
}

// problems collects the problems of one construct.
type problems struct {
	construct string
	list      []Problem
}

func (ps *problems) add(fld *field.Path, value any, detail string) {
	ps.list = append(ps.list, Problem{Construct: ps.construct, Field: fld.String(), Value: value, Detail: detail})
}

func (ps *problems) required(fld *field.Path, detail string) {
	ps.list = append(ps.list, Problem{Construct: ps.construct, Field: fld.String(), Detail: "required: " + detail})
}

// addAll adds the messages of an apimachinery validation function.
func (ps *problems) addAll(fld *field.Path, value any, msgs []string) {
	for _, m := range msgs {
		ps.add(fld, value, m)
	}
}
