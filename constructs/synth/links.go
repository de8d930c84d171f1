package synth

import (
	"bytes"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
)

// MarkerFile is the file WriteDir puts in every output folder it writes:
// a note, the name of the output ("folder: seed", the last element of
// WriteDir's dir, that is the app's name), and the number of documents of
// each manifest ("documents: 12 seed.k8s.yaml"), which the upgrade check
// holds the previous output to. A folder that holds it, as a regular
// file, is a stagecraft output. WriteDir replaces an existing folder only
// when it is empty, holds a MarkerFile, or is an output of a release
// before MarkerFile (see IsOutput), never a folder of someone else's nor
// one that holds another output; it follows a symbolic link at dir only
// to such a folder whose MarkerFile names the same output, never to
// another app's nor into one, and writes no output inside another.
const MarkerFile = ".stagecraft-output"

// markerText is the content of the MarkerFile of the output called name
// that holds files: after the name, a line "documents: <count> <path>"
// for each manifest (see isManifest), so that the upgrade check finds a
// manifest of the previous output that is gone or shorter than synth
// wrote it (cut at a document boundary), which nothing in the file itself
// shows.
func markerText(name string, files map[string][]byte) string {
	var b strings.Builder
	b.WriteString("stagecraft output: synth replaces this folder as a whole; keep no other files here\nfolder: " + name + "\n")
	paths := make([]string, 0, len(files))
	for p := range files {
		if isManifest(path.Base(p)) {
			paths = append(paths, p)
		}
	}
	sort.Strings(paths)
	for _, p := range paths {
		fmt.Fprintf(&b, "%s%d %s\n", documentsLine, documentCount(files[p]), p)
	}
	return b.String()
}

// documentsLine starts a line of MarkerFile that gives a manifest's
// number of documents.
const documentsLine = "documents: "

// isManifest reports whether the file called name (no folder) holds
// objects: a *.yaml or *.yml file but the kustomization.
func isManifest(name string) bool {
	return name != KustomizationFile && (strings.HasSuffix(name, ".yaml") || strings.HasSuffix(name, ".yml"))
}

// documentCount is the number of YAML documents of a manifest that hold
// anything ("---" lines apart).
func documentCount(data []byte) int {
	n := 0
	for _, doc := range bytes.Split(data, []byte("\n---\n")) {
		if len(bytes.TrimSpace(bytes.TrimPrefix(doc, []byte("---\n")))) > 0 {
			n++
		}
	}
	return n
}

// markerCounts returns the documents counts of the MarkerFile of dir, by
// manifest path (slash-separated, relative to dir); none for an output
// of a release before the counts, or a folder without MarkerFile.
func markerCounts(dir string) (map[string]int, error) {
	data, err := readPrevious(filepath.Join(dir, MarkerFile))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, fmt.Errorf("%s: %w", MarkerFile, err)
	}
	counts := map[string]int{}
	for _, line := range strings.Split(string(data), "\n") {
		rest, ok := strings.CutPrefix(line, documentsLine)
		if !ok {
			continue
		}
		n, p, _ := strings.Cut(rest, " ")
		c, err := strconv.Atoi(n)
		if err != nil || p == "" {
			return nil, fmt.Errorf("%s: line %q is not \"%s<count> <file>\"", MarkerFile, line, documentsLine)
		}
		counts[p] = c
	}
	return counts, nil
}

// markerName returns the output name the MarkerFile of dir gives, and
// whether dir has one.
func markerName(dir string) (string, bool) {
	f, err := openPrevious(filepath.Join(dir, MarkerFile))
	if err != nil {
		return "", false
	}
	defer f.Close()
	if fi, err := f.Stat(); err != nil || !fi.Mode().IsRegular() {
		return "", false
	}
	buf := make([]byte, 1024)
	n, _ := io.ReadFull(f, buf)
	_, rest, _ := strings.Cut(string(buf[:n]), "\nfolder: ")
	name, _, _ := strings.Cut(rest, "\n")
	return name, true
}

// checkOwned returns an error unless the existing folder dir may be
// replaced by the output called name (see MarkerFile); shown is the path
// the caller asked for. A folder of its own at shown (not a link) may hold
// the output of another name: a folder copied or renamed to carry an
// app's output, and its upgrade check, over to a new name.
func checkOwned(shown, dir, name string) error {
	if at, owner, ok := nestedOutput(dir); ok {
		return fmt.Errorf("synth: output %s holds %s, the output of %q (a link led its synthesis there): replacing the folder would delete it; move it out, and make %s a folder of its own", shown, at, owner, owner)
	}
	if owner, ok := markerName(dir); ok {
		if owner != name && owner != "" && shown != dir { // "": a marker that names none
			if shown != dir {
				shown += " (" + dir + ")"
			}
			return fmt.Errorf("synth: output %s is the output of %q, not of %q: synth replaces only its own output; remove the link or the folder", shown, owner, name)
		}
		return nil
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		return fmt.Errorf("synth: %w", err)
	}
	if len(entries) == 0 || IsOutput(dir) {
		return nil
	}
	if shown != dir {
		shown += " (" + dir + ")"
	}
	return fmt.Errorf("synth: output %s holds files synth did not write (it has no %s): synth replaces only a folder it wrote; move them away, or remove the folder", shown, MarkerFile)
}

// linkPolicy says where a symbolic link at an output folder may lead.
type linkPolicy struct {
	// root is the folder the output folder is in (Options.Dir, or the
	// parent of WriteDir's dir): a link is followed only to a folder inside
	// it, unless outside is set.
	root    string
	outside bool
}

// target returns the directory to replace for dir: dir itself, or the
// target of the symbolic link dir when that is allowed (see MarkerFile and
// Options.LinkOutsideDir). Anything else at dir than a directory or an
// allowed link is an error, found before anything is written or removed.
func target(dir string, links linkPolicy) (string, error) {
	dir = filepath.Clean(dir)
	fi, err := os.Lstat(dir)
	if err == nil && fi.Mode()&fs.ModeSymlink == 0 || os.IsNotExist(err) {
		if err := notInOutput(dir); err != nil {
			return "", err
		}
	}
	switch {
	case os.IsNotExist(err):
		return dir, nil
	case err != nil:
		return "", fmt.Errorf("synth: %w", err)
	case fi.IsDir():
		return dir, checkOwned(dir, dir, filepath.Base(dir))
	case fi.Mode()&fs.ModeSymlink == 0:
		return "", fmt.Errorf("synth: output %s exists and is %s, not a directory: synth writes only folders it owns; remove it", dir, describeMode(fi.Mode()))
	}
	t, err := linkTarget(dir)
	if err != nil {
		return "", err
	}
	root, err := filepath.EvalSymlinks(links.root)
	if err != nil {
		return "", fmt.Errorf("synth: %w", err)
	}
	root, _ = filepath.Abs(root)
	if within(root, t) {
		return "", fmt.Errorf("synth: output %s links to %s, which holds the output directory %s itself: synth would replace it; remove the link", dir, t, links.root)
	}
	if !within(t, root) && !links.outside {
		return "", fmt.Errorf("synth: output %s links to %s, outside %s: synth follows a link out of its output directory only when told to (Options.LinkOutsideDir, %s=1 for Main)", dir, t, links.root, LinkOutsideDirEnv)
	}
	if at, owner, ok := enclosingOutput(t); ok {
		return "", fmt.Errorf("synth: output %s links to %s, inside %s, the output of %q: synth writes an output beside the others, never inside one (whose next synthesis would delete it); remove the link", dir, t, at, owner)
	}
	fi, err = os.Lstat(t)
	switch {
	case os.IsNotExist(err):
		return t, nil // nothing there to replace: the target is created
	case err != nil:
		return "", fmt.Errorf("synth: %w", err)
	case !fi.IsDir():
		return "", fmt.Errorf("synth: output %s links to %s, which is %s, not a directory", dir, t, describeMode(fi.Mode()))
	}
	if err := checkOwned(dir, t, filepath.Base(dir)); err != nil {
		return "", fmt.Errorf("%w (it follows a link only to its own output, or to an empty or missing folder)", err)
	}
	return t, nil
}

// notInOutput returns an error if the folder dir (not a link) would be
// inside another output.
func notInOutput(dir string) error {
	parent, err := filepath.EvalSymlinks(filepath.Dir(dir))
	if err != nil {
		return nil // made by the write, inside nothing
	}
	parent, _ = filepath.Abs(parent)
	if at, owner, ok := enclosingOutput(filepath.Join(parent, filepath.Base(dir))); ok {
		return fmt.Errorf("synth: output %s is inside %s, the output of %q: synth writes an output beside the others, never inside one (whose next synthesis would delete it)", dir, at, owner)
	}
	return nil
}

// enclosingOutput returns the nearest folder above path (absolute, clean,
// without links) that is an output (MarkerFile, or an earlier release's
// kustomization.yaml), and the output's name.
func enclosingOutput(path string) (at, owner string, ok bool) {
	for d := filepath.Dir(path); ; d = filepath.Dir(d) {
		if name, ok := markerName(d); ok {
			return d, name, true
		}
		if generatedKustomization(d) {
			return d, filepath.Base(d), true
		}
		if filepath.Dir(d) == d {
			return "", "", false
		}
	}
}

// nestedOutput returns a folder inside dir (not following links) that
// holds a MarkerFile, and the output it names: synth writes one only at
// the top of an output, so it is another output, written there through a
// link.
func nestedOutput(dir string) (at, owner string, ok bool) {
	_ = filepath.WalkDir(dir, func(p string, d fs.DirEntry, err error) error {
		if err != nil || !d.IsDir() || p == dir {
			return nil
		}
		if name, found := markerName(p); found {
			at, owner, ok = p, name, true
			return filepath.SkipAll
		}
		return nil
	})
	return at, owner, ok
}

// linkTarget resolves the link at dir to an absolute, clean path with no
// links in it; the last element may be missing (a dangling link).
func linkTarget(dir string) (string, error) {
	if t, err := filepath.EvalSymlinks(dir); err == nil {
		return filepath.Abs(t)
	}
	t, err := os.Readlink(dir)
	if err != nil {
		return "", fmt.Errorf("synth: %w", err)
	}
	if !filepath.IsAbs(t) {
		t = filepath.Join(filepath.Dir(dir), t)
	}
	parent, err := filepath.EvalSymlinks(filepath.Dir(t))
	if err != nil {
		return "", fmt.Errorf("synth: output %s links to %s, whose folder cannot be resolved: %w", dir, t, err)
	}
	if _, err := os.Lstat(filepath.Join(parent, filepath.Base(t))); !os.IsNotExist(err) {
		return "", fmt.Errorf("synth: output %s links to %s, a link that cannot be resolved", dir, t)
	}
	return filepath.Abs(filepath.Join(parent, filepath.Base(t)))
}

// within reports whether path is dir or inside it (both absolute and
// clean).
func within(path, dir string) bool {
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, ".."+string(filepath.Separator))
}

// isOutput reports whether the folder dir holds MarkerFile as a regular
// file.
func isOutput(dir string) bool {
	_, ok := markerName(dir)
	return ok
}

// describeMode names the kind of file of a mode, for a problem.
func describeMode(m fs.FileMode) string {
	switch {
	case m&fs.ModeSymlink != 0:
		return "a symbolic link"
	case m&fs.ModeNamedPipe != 0:
		return "a FIFO (named pipe)"
	case m&fs.ModeSocket != 0:
		return "a socket"
	case m&fs.ModeCharDevice != 0:
		return "a character device"
	case m&fs.ModeDevice != 0:
		return "a device"
	case m.IsDir():
		return "a directory"
	case m.IsRegular():
		return "a regular file"
	}
	return "a special file"
}
