// Command synthall synthesizes every app under apps/ into dist/.
//
// It builds all apps in one go build, into bin/apps/ (kept between runs,
// so that an app whose code has not changed is not linked again), runs
// them at the same time, one per core, each with STAGECRAFT_DIST set to
// the dist directory, prints what each printed in the apps' order, and
// removes the output of apps that no longer exist. Each app replaces its
// own dist/<app>/ atomically, so an app that fails leaves its previous
// output untouched; synthall then exits with status 1.
//
// When run by `cdk8s synth` (CDK8S_OUTDIR set), it also copies the result
// into CDK8S_OUTDIR, which the cdk8s CLI empties before each run and reads
// afterwards. dist/ itself is never handed to the CLI, which would delete
// it before the apps run.
package main

import (
	"bytes"
	"errors"
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"sync"
	"time"

	"github.com/stagecraft-dev/stagecraft/constructs/synth"
)

func main() {
	appsDir := flag.String("apps", "apps", "directory holding one package main per app")
	dist := flag.String("dist", "dist", "directory the apps write into")
	bin := flag.String("bin", filepath.Join("bin", "apps"), "directory the apps are built into, kept between runs")
	flag.Parse()
	if err := run(*appsDir, *dist, *bin, os.Getenv("CDK8S_OUTDIR")); err != nil {
		fmt.Fprintln(os.Stderr, "synthall:", err)
		os.Exit(1)
	}
}

func run(appsDir, dist, bin, cdk8sOut string) error {
	apps, err := listApps(appsDir)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return fmt.Errorf("no apps found in %s", appsDir)
	}
	if err := build(appsDir, bin); err != nil {
		return err
	}
	absDist, err := filepath.Abs(dist)
	if err != nil {
		return err
	}
	env := append(os.Environ(), "STAGECRAFT_DIST="+absDist)
	if os.Getenv("JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION") == "" {
		// stagecraft is tested on Node 20; jsii's supported switch keeps
		// its end-of-life banner off the terminal.
		env = append(env, "JSII_SILENCE_WARNING_END_OF_LIFE_NODE_VERSION=20")
	}
	var failed []string
	for i, r := range runApps(bin, apps, env) {
		os.Stdout.Write(r.stdout)
		os.Stderr.Write(r.stderr)
		if r.err != nil {
			failed = append(failed, apps[i])
			continue
		}
		if err := wroteOwnFolder(dist, apps[i], r.start); err != nil {
			fmt.Fprintln(os.Stderr, "synthall:", err)
			failed = append(failed, apps[i])
			continue
		}
		fmt.Printf("synthesized %s\n", filepath.Join(dist, apps[i]))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d apps failed (%s); their previous output in %s is unchanged",
			len(failed), len(apps), strings.Join(failed, ", "), dist)
	}
	if err := synth.CheckOwners(dist, apps); err != nil {
		return err
	}
	if err := removeStale(dist, apps); err != nil {
		return err
	}
	if cdk8sOut != "" {
		return copyTree(dist, cdk8sOut)
	}
	return nil
}

// build builds every app into bin in one go build. The go command links
// an app again only when its build has changed; a lock keeps two synthall
// runs from writing the same binary at once.
func build(appsDir, bin string) error {
	if err := os.MkdirAll(bin, 0o755); err != nil {
		return err
	}
	unlock, err := lock(filepath.Join(bin, ".lock"))
	if err != nil {
		return err
	}
	defer unlock()
	cmd := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./"+filepath.ToSlash(appsDir)+"/...")
	cmd.Stdout, cmd.Stderr = os.Stderr, os.Stderr
	if err := cmd.Run(); err != nil {
		return fmt.Errorf("building apps: %w", err)
	}
	return nil
}

// result is what one app printed, and how it ended.
type result struct {
	stdout, stderr []byte
	err            error
	start          time.Time // when the app's process started
}

// runApps runs the apps, as many at once as there are cores, and returns
// their results in the apps' order.
func runApps(bin string, apps []string, env []string) []result {
	results := make([]result, len(apps))
	slots := make(chan struct{}, max(1, runtime.NumCPU()))
	var wg sync.WaitGroup
	for i, app := range apps {
		wg.Add(1)
		go func() {
			defer wg.Done()
			slots <- struct{}{}
			defer func() { <-slots }()
			var stdout, stderr bytes.Buffer
			cmd := exec.Command(filepath.Join(bin, app))
			cmd.Env = env
			cmd.Stdout, cmd.Stderr = &stdout, &stderr
			start := time.Now()
			err := cmd.Run()
			results[i] = result{stdout.Bytes(), stderr.Bytes(), err, start}
		}()
	}
	wg.Wait()
	return results
}

// listApps returns the names of the directories of appsDir that hold Go
// files.
func listApps(appsDir string) ([]string, error) {
	entries, err := os.ReadDir(appsDir)
	if err != nil {
		return nil, err
	}
	var apps []string
	for _, e := range entries {
		if !e.IsDir() {
			continue
		}
		if m, _ := filepath.Glob(filepath.Join(appsDir, e.Name(), "*.go")); len(m) > 0 {
			apps = append(apps, e.Name())
		}
	}
	sort.Strings(apps)
	return apps, nil
}

// wroteOwnFolder checks that app wrote dist/<app> (an app named otherwise
// in its main would write another folder, which removeStale would then
// delete as the output of no app).
func wroteOwnFolder(dist, app string, since time.Time) error {
	info, err := os.Stat(filepath.Join(dist, app))
	if err == nil && !info.ModTime().Before(since.Add(-time.Second)) {
		return nil
	}
	return fmt.Errorf("apps/%s wrote no %s: its main must name the app after its folder, synth.MainChart(%q, ...)", app, filepath.Join(dist, app), app)
}

// removeStale deletes the output of apps that no longer exist: the
// folders of dist that synth wrote (synth.IsOutput), once the leftovers of
// an interrupted write of them are cleaned up (synth.Recover), and empty
// folders. Anything else in dist (a link, a file, a folder of someone
// else's) is kept, with a notice.
func removeStale(dist string, apps []string) error {
	keep := map[string]bool{}
	for _, a := range apps {
		keep[a] = true
	}
	if err := recoverRemoved(dist, keep); err != nil {
		return err
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		return err
	}
	var stale []string
	for _, e := range entries {
		dir := filepath.Join(dist, e.Name())
		switch {
		case keep[e.Name()] || strings.HasPrefix(e.Name(), "."):
		case synth.IsOutput(dir) || e.IsDir() && isEmpty(dir):
			stale = append(stale, dir)
		default:
			fmt.Printf("keeping %s: no such app, and not a folder stagecraft wrote\n", dir)
		}
	}
	if os.Getenv(synth.SkipUpgradeCheckEnv) != "1" {
		var errs []error
		for _, dir := range stale {
			if err := synth.CheckRemoved(dir); err != nil {
				errs = append(errs, err)
			}
		}
		if len(errs) > 0 {
			return fmt.Errorf("the output of an app that no longer exists holds what pruning would delete, so it is kept:\n%w\n"+
				"Move what you need first; to remove that output anyway: %s=1 make synth", errors.Join(errs...), synth.SkipUpgradeCheckEnv)
		}
	}
	for _, dir := range stale {
		fmt.Printf("removing %s: no such app\n", dir)
		if err := os.RemoveAll(dir); err != nil {
			return err
		}
	}
	return nil
}

// isEmpty reports whether the folder dir holds nothing.
func isEmpty(dir string) bool {
	entries, err := os.ReadDir(dir)
	return err == nil && len(entries) == 0
}

// recoverRemoved cleans up the leftovers of an interrupted write of an app
// that no longer exists (".<app>.tmp-*", ".<app>.old-*", ".<app>.lock"),
// which no write of that app will: a previous output moved aside is put
// back (and then checked as a stale output), the rest removed.
func recoverRemoved(dist string, keep map[string]bool) error {
	entries, err := os.ReadDir(dist)
	if err != nil {
		return err
	}
	done := map[string]bool{}
	for _, e := range entries {
		app := leftoverApp(e.Name())
		if app == "" || keep[app] || done[app] {
			continue
		}
		done[app] = true
		if err := synth.Recover(filepath.Join(dist, app)); err != nil {
			return err
		}
	}
	return nil
}

// leftoverApp returns the app whose working name n is (".<app>.lock",
// ".<app>.tmp-<digits>" or ".<app>.old-<digits>", as synth names them),
// matched exactly: ".x.old-y.lock" is app x.old-y's, not x's. It returns
// "" for any other name.
func leftoverApp(n string) string {
	rest, ok := strings.CutPrefix(n, ".")
	if !ok {
		return ""
	}
	if app, ok := strings.CutSuffix(rest, ".lock"); ok && app != "" {
		return app
	}
	for _, part := range []string{".tmp-", ".old-"} {
		i := strings.LastIndex(rest, part)
		digits := rest[i+len(part):]
		if i > 0 && digits != "" && strings.Trim(digits, "0123456789") == "" {
			return rest[:i]
		}
	}
	return ""
}

func copyTree(src, dst string) error {
	return filepath.WalkDir(src, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		if strings.HasPrefix(d.Name(), ".") && rel != "." {
			if d.IsDir() {
				return filepath.SkipDir
			}
			return nil
		}
		target := filepath.Join(dst, rel)
		if d.IsDir() {
			return os.MkdirAll(target, 0o755)
		}
		data, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		return os.WriteFile(target, data, 0o644)
	})
}
