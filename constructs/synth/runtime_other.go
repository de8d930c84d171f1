//go:build !unix

package synth

// privateTemp does nothing where flock(2) is missing: jsii uses the
// system's temporary directory.
func privateTemp(restart bool) func() { return func() {} }
