//go:build unix

package synth

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// folderLock is an exclusive flock(2) on a lock file beside an output
// folder. flock locks belong to an open file, so writers in one process
// exclude each other as writers in different processes do, and the kernel
// drops the lock of a process that dies, however it dies.
type folderLock struct {
	path string
	f    *os.File
}

// lockFolder locks the file at path, creating it (never through a link,
// never a FIFO or device), and waits for the lock;
// waiting is called once if another writer holds it. The holder removes the
// file when it is done, so a lock taken on a file that was removed
// meanwhile is dropped and taken again on the new one.
func lockFolder(path string, waiting func()) (*folderLock, error) {
	for told := false; ; {
		f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|unix.O_NOFOLLOW|unix.O_NONBLOCK, 0o644)
		if errors.Is(err, unix.ELOOP) {
			return nil, fmt.Errorf("synth: the lock %s is a symbolic link, which synth never makes: remove it", path)
		}
		if err != nil {
			return nil, fmt.Errorf("synth: lock: %w", err)
		}
		if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
			f.Close()
			return nil, fmt.Errorf("synth: the lock %s is not a regular file, which synth never makes: remove it", path)
		}
		err = unix.Flock(int(f.Fd()), unix.LOCK_EX|unix.LOCK_NB)
		if errors.Is(err, unix.EWOULDBLOCK) {
			if !told {
				waiting()
				told = true
			}
			err = unix.Flock(int(f.Fd()), unix.LOCK_EX)
		}
		if err != nil {
			f.Close()
			return nil, fmt.Errorf("synth: lock %s: %w", path, err)
		}
		if sameFile(f, path) {
			return &folderLock{path: path, f: f}, nil
		}
		f.Close() // the previous holder removed it: lock the new file
	}
}

// sameFile reports whether the open file f is still the file at path.
func sameFile(f *os.File, path string) bool {
	held, err := f.Stat()
	if err != nil {
		return false
	}
	now, err := os.Stat(path)
	return err == nil && os.SameFile(held, now)
}

// release removes the lock file and unlocks it: a writer waiting on the
// removed file then finds it gone and locks a new one.
func (l *folderLock) release() {
	_ = os.Remove(l.path)
	_ = l.f.Close()
}
