package synth

import (
	"io/fs"
	"os"
	"path/filepath"
)

// removeTree removes the directory tree at path. When that fails, as in a
// tree whose directories are read-only, it gives its owner write access
// to every directory of the tree and tries again.
func removeTree(path string) error {
	if os.RemoveAll(path) == nil {
		return nil
	}
	_ = filepath.WalkDir(path, func(p string, d fs.DirEntry, err error) error {
		if err == nil && d.IsDir() {
			_ = os.Chmod(p, 0o700)
		}
		return nil
	})
	return os.RemoveAll(path)
}
