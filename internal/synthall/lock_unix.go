//go:build unix

package main

import (
	"os"

	"golang.org/x/sys/unix"
)

// lock holds an exclusive lock on the file path (flock) until the
// function it returns is called.
func lock(path string) (func(), error) {
	f, err := os.OpenFile(path, os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, err
	}
	if err := unix.Flock(int(f.Fd()), unix.LOCK_EX); err != nil {
		f.Close()
		return nil, err
	}
	return func() { f.Close() }, nil
}
