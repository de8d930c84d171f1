package synth

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
)

// WriteDir replaces dir with a directory holding exactly files (relative,
// slash-separated path to content), so that readers see the old content or
// the new, never a mix:
// the files are written and synced into a temporary directory beside dir,
// which then takes dir's place in one atomic exchange (renameat2 on Linux).
// Where the exchange is not available, two renames are used; a crash
// between them leaves the old directory as ".<name>.old-*" beside dir, and
// the next WriteDir puts it back before it starts.
func WriteDir(dir string, files map[string][]byte) (err error) {
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if err := os.MkdirAll(parent, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := recoverDir(parent, base); err != nil {
		return err
	}
	tmp, err := os.MkdirTemp(parent, "."+base+".tmp-")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	defer func() {
		if err != nil {
			os.RemoveAll(tmp)
		}
	}()
	if err := writeFiles(tmp, files); err != nil {
		return err
	}
	return swap(tmp, dir)
}

// writeFiles writes and syncs files into the empty directory tmp.
func writeFiles(tmp string, files map[string][]byte) error {
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
	if err := os.Chmod(tmp, 0o755); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	return syncDir(tmp)
}

// swap puts the complete directory tmp in the place of dir: in one atomic
// exchange where the system has one, else with two renames.
func swap(tmp, dir string) error {
	parent, base := filepath.Dir(dir), filepath.Base(dir)
	if _, statErr := os.Lstat(dir); statErr != nil {
		if err := os.Rename(tmp, dir); err != nil {
			return fmt.Errorf("synth: %w", err)
		}
		return syncDir(parent)
	}
	if exchange(tmp, dir) == nil {
		_ = syncDir(parent)
		return os.RemoveAll(tmp) // now holds the previous output
	}
	old, err := os.MkdirTemp(parent, "."+base+".old-")
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Remove(old); err != nil { // keep the unique name only
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(dir, old); err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		_ = os.Rename(old, dir)
		return fmt.Errorf("synth: %w", err)
	}
	_ = syncDir(parent)
	return os.RemoveAll(old)
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

// recoverDir cleans up after an interrupted WriteDir: it restores a moved
// away old directory when dir itself is missing, and removes leftovers.
func recoverDir(parent, base string) error {
	entries, err := os.ReadDir(parent)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	dir := filepath.Join(parent, base)
	_, statErr := os.Lstat(dir)
	missing := os.IsNotExist(statErr)
	for _, e := range entries {
		n := e.Name()
		switch {
		case strings.HasPrefix(n, "."+base+".old-"):
			if missing {
				if err := os.Rename(filepath.Join(parent, n), dir); err != nil {
					return fmt.Errorf("synth: restore %s: %w", n, err)
				}
				missing = false
				continue
			}
			_ = os.RemoveAll(filepath.Join(parent, n))
		case strings.HasPrefix(n, "."+base+".tmp-"):
			_ = os.RemoveAll(filepath.Join(parent, n))
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
