//go:build unix

package synth

import (
	"os"
	"path/filepath"
	"time"

	"github.com/aws/jsii-runtime-go"
	"golang.org/x/sys/unix"
)

// runPrefix starts the names of the processes' private temporary
// directories.
const runPrefix = "stagecraft-run-"

// privateTemp gives the process a temporary directory of its own, as
// $TMPDIR, so that everything jsii leaves there is removed with it, and
// removes those of earlier processes that are gone. Each directory holds
// a lock file that its process holds locked (flock) while it lives; the
// kernel unlocks it when the process dies, however it dies. It returns the
// function that removes the directory; on failure it changes nothing.
//
// jsii creates its runtime directory while Go packages initialize, in the
// system's temporary directory. With restart (no construct exists yet),
// privateTemp stops that runtime, which has not started Node.js yet and
// removes its directory, so that the next call into jsii starts one in the
// private directory, as the only Node.js process (directKernel).
func privateTemp(restart bool) func() {
	base := os.TempDir()
	reapTemp(base)
	dir, err := os.MkdirTemp(base, runPrefix)
	if err != nil {
		return func() {}
	}
	// Lock the file before it gets its name, so that no other process finds
	// it unlocked.
	f, err := os.CreateTemp(dir, "lock-")
	if err == nil && unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil &&
		os.Rename(f.Name(), filepath.Join(dir, ".lock")) == nil {
		if os.Setenv("TMPDIR", dir) == nil {
			if restart {
				directKernel(dir)
				jsii.Close()
			}
			return func() {
				_ = os.RemoveAll(dir)
				_ = f.Close()
			}
		}
	}
	if f != nil {
		f.Close()
	}
	_ = os.RemoveAll(dir)
	return func() {}
}

// setupGrace is how long a private temporary directory may lack its lock
// file: its process takes microseconds to add it, so one older than that
// is of a process killed while it set the directory up.
const setupGrace = time.Minute

// reapTemp removes the private temporary directories in base whose
// process is gone: their lock file can be locked, or they have none and
// are older than setupGrace. Only directories (not links) named
// runPrefix* are considered.
func reapTemp(base string) {
	dirs, _ := filepath.Glob(filepath.Join(base, runPrefix+"*"))
	for _, d := range dirs {
		if fi, err := os.Lstat(d); err != nil || !fi.IsDir() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(d, ".lock"), os.O_RDONLY|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0)
		if err != nil {
			if fi, serr := os.Lstat(d); os.IsNotExist(err) && serr == nil && time.Since(fi.ModTime()) > setupGrace {
				_ = os.RemoveAll(d) // its process died setting it up
			}
			continue // else its process is still setting it up
		}
		if unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB) == nil {
			_ = os.RemoveAll(d)
		}
		f.Close()
	}
}
