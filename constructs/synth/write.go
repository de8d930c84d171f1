package synth

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// WriteDir replaces dir with a directory holding exactly files (relative,
// slash-separated path to content), so that readers see the old content or
// the new, never a mix. It is safe to call from several processes (or
// goroutines) at once for one dir: each holds a lock on the folder (see
// below) while it writes, so the last writer's output wins, whole.
//
// The files are written and synced into a temporary directory beside dir,
// which then takes dir's place in one atomic exchange (renameat2 on
// Linux). Where the exchange is not available, two renames are used; a
// crash between them leaves the old directory as ".<name>.old-<digits>"
// beside dir, and the next WriteDir, Write or failed Write puts it back
// before it does anything else. Leftovers of a crashed writer
// (".<name>.tmp-<digits>") are removed only while the lock is held, so
// never while their writer is alive. Leftovers are matched by that exact
// form, so never those of another output whose name starts with name.
//
// The lock is the file ".<name>.lock" beside dir, locked with flock(2)
// and removed when the write is done (a writer killed with SIGKILL leaves
// it behind, unlocked and harmless; the next writer removes it).
//
// Every folder written holds MarkerFile. When dir is a symbolic link to
// a folder inside dir's parent that holds MarkerFile (or that does not
// exist yet), that folder is replaced and the link kept; any other link
// (one into another output too), a FIFO, device, socket or file at dir,
// a dir inside another output, and a dir that holds another output, is
// an error before anything is written or removed. A previous output that cannot be removed after the exchange (a
// read-only tree, for a user other than its owner) does not fail the
// write: the new output is in place, and the old is removed next time.
func WriteDir(dir string, files map[string][]byte) error {
	out, err := openOutput(dir, linkPolicy{root: filepath.Dir(filepath.Clean(dir))}, nil)
	if err != nil {
		return err
	}
	defer out.close()
	return out.replace(files)
}

// exchangeDirs is exchange; tests replace it to take the two-rename path.
var exchangeDirs = exchange

// output is an app's output folder, locked for one writer.
type output struct {
	name   string // the output's name, for MarkerFile: the last element of dir
	real   string // the directory replaced: dir, or the target of the link at dir
	parent string
	base   string
	lock   *folderLock
	notify func(format string, args ...any)
}

// openOutput locks the output folder dir (waiting for another writer to
// finish) and recovers from a writer that crashed there.
func openOutput(dir string, links linkPolicy, notify func(format string, args ...any)) (*output, error) {
	if notify == nil {
		notify = func(string, ...any) {}
	}
	real, err := target(dir, links)
	if err != nil {
		return nil, err
	}
	o := &output{name: filepath.Base(filepath.Clean(dir)), real: real, parent: filepath.Dir(real), base: filepath.Base(real), notify: notify}
	if err := os.MkdirAll(o.parent, 0o755); err != nil {
		return nil, fmt.Errorf("synth: %w", err)
	}
	o.lock, err = lockFolder(filepath.Join(o.parent, "."+o.base+".lock"), func() {
		notify("waiting for another synthesis writing %s to finish", dir)
	})
	if err != nil {
		return nil, err
	}
	if err := o.recover(); err != nil {
		o.close()
		return nil, err
	}
	return o, nil
}

// close releases the lock.
func (o *output) close() { o.lock.release() }

// replace writes files into a temporary directory and swaps it in.
func (o *output) replace(files map[string][]byte) error {
	tmp, err := workDir(o.parent, o.base, tmpPart, true)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := writeFiles(tmp, files, o.name); err != nil {
		_ = removeTree(tmp)
		return err
	}
	return o.swap(tmp)
}

// writeFiles writes and syncs files, and the MarkerFile of the output
// called name, into the empty directory tmp.
func writeFiles(tmp string, files map[string][]byte, name string) error {
	names := make([]string, 0, len(files))
	for n := range files {
		names = append(names, n)
	}
	sort.Strings(names)
	for _, n := range names {
		if !validFileName(n) {
			return fmt.Errorf("synth: invalid output file name %q", n)
		}
		if sub := filepath.Dir(n); sub != "." {
			if err := os.MkdirAll(filepath.Join(tmp, sub), 0o755); err != nil {
				return fmt.Errorf("synth: %w", err)
			}
		}
		if err := writeSynced(filepath.Join(tmp, n), files[n]); err != nil {
			return err
		}
	}
	if err := writeSynced(filepath.Join(tmp, MarkerFile), []byte(markerText(name, files))); err != nil {
		return err
	}
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return syncDir(tmp)
}

// swap puts the complete directory tmp in the place of the output: in one
// atomic exchange where the system has one, else with two renames. The
// previous output is then removed; failing that is a notice, since the new
// output is in place.
func (o *output) swap(tmp string) error {
	if _, statErr := os.Lstat(o.real); os.IsNotExist(statErr) {
		if err := os.Rename(tmp, o.real); err != nil {
			_ = removeTree(tmp)
			return fmt.Errorf("synth: %w", err)
		}
		return syncDir(o.parent)
	}
	prev := tmp
	if exchangeDirs(tmp, o.real) != nil {
		var err error
		if prev, err = o.renameAside(tmp); err != nil {
			_ = removeTree(tmp)
			return err
		}
	}
	_ = syncDir(o.parent)
	if err := removeTree(prev); err != nil {
		o.notify("the previous output could not be removed (%v); the next synthesis removes %s", err, prev)
	}
	return nil
}

// renameAside replaces the output with tmp by two renames, and returns
// where the previous output went. On failure the previous output is put
// back.
func (o *output) renameAside(tmp string) (string, error) {
	old, err := workDir(o.parent, o.base, oldPart, false)
	if err != nil {
		return "", err
	}
	if err := os.Rename(o.real, old); err != nil {
		return "", fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(tmp, o.real); err != nil {
		if rerr := os.Rename(old, o.real); rerr != nil {
			return "", fmt.Errorf("synth: %w; the previous output is in %s (moving it back failed: %v)", err, old, rerr)
		}
		return "", fmt.Errorf("synth: %w", err)
	}
	return old, nil
}

// validFileName accepts a relative, slash-separated path whose parts are
// plain names that do not start with a dot.
func validFileName(n string) bool {
	for _, part := range strings.Split(n, "/") {
		if !plainName(part) {
			return false
		}
	}
	return true
}

// The working names beside an output folder called base:
// ".<base>.tmp-<digits>" for a folder being written, ".<base>.old-<digits>"
// for a previous output moved aside.
const (
	tmpPart = ".tmp-"
	oldPart = ".old-"
)

// workDir returns a new working name ".<base><part><digits>" in parent,
// made as an empty folder when mkdir is set, else only found unused.
func workDir(parent, base, part string, mkdir bool) (string, error) {
	for range 10000 {
		p := filepath.Join(parent, "."+base+part+strconv.FormatUint(uint64(rand.Uint32()), 10))
		var err error
		if mkdir {
			err = os.Mkdir(p, 0o700)
		} else if _, err = os.Lstat(p); os.IsNotExist(err) {
			return p, nil
		} else if err == nil {
			err = fs.ErrExist
		}
		if err == nil {
			return p, nil
		}
		if !errors.Is(err, fs.ErrExist) {
			return "", fmt.Errorf("synth: %w", err)
		}
	}
	return "", fmt.Errorf("synth: no free working name %s%s* in %s", "."+base, part, parent)
}

// leftover reports whether the entry n beside an output folder called
// base is one of its working names (see workDir): exactly "." base part
// and digits, so that never a working name of another output, whose name
// base starts ("x" and "x.old-y": ".x.old-y.old-1" has no digits only
// after ".x.old-").
func leftover(n, base, part string) bool {
	digits, ok := strings.CutPrefix(n, "."+base+part)
	if !ok || digits == "" {
		return false
	}
	for _, c := range digits {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// recover cleans up after a writer that crashed (the caller holds the
// lock, so no writer of this folder is alive): it restores a moved-away
// previous output when the output itself is missing, and removes the
// other leftovers.
func (o *output) recover() error {
	entries, err := os.ReadDir(o.parent)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	_, statErr := os.Lstat(o.real)
	missing := os.IsNotExist(statErr)
	for _, e := range entries {
		n, p := e.Name(), filepath.Join(o.parent, e.Name())
		switch {
		case leftover(n, o.base, oldPart) && missing && e.IsDir(): // never a link
			if err := os.Rename(p, o.real); err != nil {
				return fmt.Errorf("synth: the previous output %s could not be restored to %s: %w", p, o.real, err)
			}
			o.notify("restored the previous output of %s from %s, left by an interrupted synthesis", o.real, n)
			missing = false
		case leftover(n, o.base, oldPart), leftover(n, o.base, tmpPart):
			if err := removeTree(p); err != nil {
				o.notify("could not remove %s, left by an interrupted synthesis: %v", p, err)
			}
		}
	}
	return nil
}

func writeSynced(path string, data []byte) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return fmt.Errorf("synth: %w", err)
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("synth: %w", err)
	}
	return f.Close()
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("synth: sync %s: %w", dir, err)
	}
	return nil
}
