//go:build !unix

package synth

import "os"

// openPrevious opens a file of the previous output for reading; the
// caller has checked with Lstat that it is a regular file.
func openPrevious(path string) (*os.File, error) { return os.Open(path) }
