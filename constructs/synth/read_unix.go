//go:build unix

package synth

import (
	"os"

	"golang.org/x/sys/unix"
)

// openPrevious opens a file of the previous output for reading without
// following a link (the open fails) and without waiting on a FIFO.
func openPrevious(path string) (*os.File, error) {
	return os.OpenFile(path, os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
}
