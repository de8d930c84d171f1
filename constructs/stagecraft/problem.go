package stagecraft

import (
	"encoding/json"
	"fmt"
	"strings"

	"k8s.io/apimachinery/pkg/util/validation/field"
)

// Problem is one invalid input: which construct, which field, what kind of
// problem, the bad value and what is allowed.
type Problem struct {
	// Construct is the construct path, for example "seed/ai-pipeline/data-processor".
	Construct string
	// Object names the Kubernetes object ("StatefulSet ai-pipeline/state")
	// of a problem found by comparing the output with the previous one (the
	// upgrade check of package synth); empty for problems with props.
	Object string
	// Type classifies the problem as Kubernetes' own validation does:
	// field.ErrorTypeRequired (a value is missing), ErrorTypeInvalid (a
	// value is malformed or out of range), ErrorTypeNotSupported (not one of
	// the allowed values), ErrorTypeDuplicate, ErrorTypeForbidden (not
	// allowed here, or not together with another prop) or ErrorTypeTooLong.
	// Tests match on Type and Field rather than on the message.
	Type field.ErrorType
	// Field is the prop's path inside the construct's props, for example
	// "Ports[0].Name"; "id" for the construct id.
	Field string
	// Value is the rejected value; nil when the problem is a missing value.
	Value any
	// Detail says what is allowed.
	Detail string
}

// String renders the problem on one line, as Kubernetes renders a
// field.Error, prefixed with the construct path:
//
//	path: Field: Invalid value: "x": what is allowed
//
// What looks like a credential anywhere in it (a token of a well-known
// shape, a URL's password, a literal after password= or Bearer), in the
// construct path, the object, the field path (a map key), the value or
// the detail, is written as "(redacted)".
func (p Problem) String() string {
	var b strings.Builder
	b.WriteString(redactText(p.Construct, nil))
	if p.Object != "" {
		b.WriteString(": ")
		b.WriteString(redactText(p.Object, nil))
	}
	if p.Field != "" {
		b.WriteString(": ")
		b.WriteString(redactText(p.Field, nil))
	}
	b.WriteString(": ")
	b.WriteString(p.Type.String())
	if p.Value != nil {
		b.WriteString(": ")
		b.WriteString(renderValue(redactValue(p.Value, nil)))
	}
	if p.Detail != "" {
		b.WriteString(": ")
		b.WriteString(redactText(p.Detail, nil))
	}
	return b.String()
}

// FieldError returns the problem as a Kubernetes field.Error (without the
// construct path), for field.ErrorMatcher and other apimachinery helpers;
// credentials in the field path, the value and the detail are redacted
// as String does.
func (p Problem) FieldError() *field.Error {
	return &field.Error{Type: p.Type, Field: redactText(p.Field, nil), BadValue: redactValue(p.Value, nil), Detail: redactText(p.Detail, nil)}
}

// renderValue writes a value as field.Error does: strings quoted, numbers
// and booleans plain, anything else as JSON.
func renderValue(v any) string {
	switch t := v.(type) {
	case Transition:
		return t.String()
	case string:
		return fmt.Sprintf("%q", t)
	case int, int32, int64, float64, bool:
		return fmt.Sprint(t)
	}
	if b, err := json.Marshal(v); err == nil {
		return string(b)
	}
	return fmt.Sprint(v)
}

// Transition is the value of a problem found by comparing the output with
// the previous one: the value there and the value now (nil where there is
// none).
type Transition struct {
	// Old is the previous output's value.
	Old any
	// New is the value now.
	New any
}

// String renders the transition as "old -> new".
func (t Transition) String() string {
	side := func(v any) string {
		if v == nil {
			return "(none)"
		}
		return renderValue(v)
	}
	return side(t.Old) + " -> " + side(t.New)
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

// For returns the problems of the construct at path as a field.ErrorList,
// for field.ErrorMatcher:
//
//	field.ErrorMatcher{}.ByType().ByField().Test(t, want, verr.For("seed/p/api"))
func (e *ValidationError) For(path string) field.ErrorList {
	var out field.ErrorList
	for _, p := range e.Problems {
		if p.Construct == path {
			out = append(out, p.FieldError())
		}
	}
	return out
}

// problemsOf turns the field errors of one construct into problems.
func problemsOf(construct string, errs field.ErrorList) []Problem {
	out := make([]Problem, 0, len(errs))
	for _, e := range errs {
		v := e.BadValue
		if e.Type == field.ErrorTypeRequired {
			v = nil
		}
		out = append(out, Problem{Construct: construct, Type: e.Type, Field: e.Field, Value: v, Detail: e.Detail})
	}
	return out
}

// The constructors below build field errors with stagecraft's wording:
// each says what is allowed. They are apimachinery's, except that
// Duplicate, Forbidden and TooLong keep the bad value and a detail.

func invalid(fld *field.Path, v any, detail string) *field.Error {
	return field.Invalid(fld, v, detail)
}

func required(fld *field.Path, detail string) *field.Error {
	return field.Required(fld, detail)
}

func notSupported(fld *field.Path, v any, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeNotSupported, Field: fld.String(), BadValue: v, Detail: detail}
}

func duplicate(fld *field.Path, v any, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeDuplicate, Field: fld.String(), BadValue: v, Detail: detail}
}

func forbidden(fld *field.Path, v any, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeForbidden, Field: fld.String(), BadValue: v, Detail: detail}
}

func tooLong(fld *field.Path, v any, detail string) *field.Error {
	return &field.Error{Type: field.ErrorTypeTooLong, Field: fld.String(), BadValue: v, Detail: detail}
}

// each turns the messages of an apimachinery validation function (such as
// validation.IsDNS1123Label) into Invalid errors.
func each(fld *field.Path, v any, msgs []string) field.ErrorList {
	var out field.ErrorList
	for _, m := range msgs {
		out = append(out, field.Invalid(fld, v, m))
	}
	return out
}
