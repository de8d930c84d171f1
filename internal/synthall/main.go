// Command synthall synthesizes every app under apps/ into dist/.
//
// It builds all apps in one go build, runs each with STAGECRAFT_DIST set
// to the dist directory, and removes the output of apps that no longer
// exist. Each app replaces its own dist/<app>/ atomically, so an app that
// fails leaves its previous output untouched; synthall then exits with
// status 1.
//
// When run by `cdk8s synth` (CDK8S_OUTDIR set), it also copies the result
// into CDK8S_OUTDIR, which the cdk8s CLI empties before each run and reads
// afterwards. dist/ itself is never handed to the CLI, which would delete
// it before the apps run.
package main

import (
	"flag"
	"fmt"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"sort"
	"strings"
	"time"
)

func main() {
	appsDir := flag.String("apps", "apps", "directory holding one package main per app")
	dist := flag.String("dist", "dist", "directory the apps write into")
	flag.Parse()
	if err := run(*appsDir, *dist, os.Getenv("CDK8S_OUTDIR")); err != nil {
		fmt.Fprintln(os.Stderr, "synthall:", err)
		os.Exit(1)
	}
}

func run(appsDir, dist, cdk8sOut string) error {
	apps, err := listApps(appsDir)
	if err != nil {
		return err
	}
	if len(apps) == 0 {
		return fmt.Errorf("no apps found in %s", appsDir)
	}
	bin, err := os.MkdirTemp("", "stagecraft-apps-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(bin)
	build := exec.Command("go", "build", "-o", bin+string(os.PathSeparator), "./"+filepath.ToSlash(appsDir)+"/...")
	build.Stdout, build.Stderr = os.Stderr, os.Stderr
	if err := build.Run(); err != nil {
		return fmt.Errorf("building apps: %w", err)
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
	for _, app := range apps {
		cmd := exec.Command(filepath.Join(bin, app))
		cmd.Env = env
		cmd.Stdout, cmd.Stderr = os.Stdout, os.Stderr
		start := time.Now()
		if err := cmd.Run(); err != nil {
			failed = append(failed, app)
			continue
		}
		if err := wroteOwnFolder(dist, app, start); err != nil {
			fmt.Fprintln(os.Stderr, "synthall:", err)
			failed = append(failed, app)
			continue
		}
		fmt.Printf("synthesized %s\n", filepath.Join(dist, app))
	}
	if len(failed) > 0 {
		return fmt.Errorf("%d of %d apps failed (%s); their previous output in %s is unchanged",
			len(failed), len(apps), strings.Join(failed, ", "), dist)
	}
	if err := removeStale(dist, apps); err != nil {
		return err
	}
	if cdk8sOut != "" {
		return copyTree(dist, cdk8sOut)
	}
	return nil
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

// removeStale deletes the output of apps that no longer exist.
func removeStale(dist string, apps []string) error {
	keep := map[string]bool{}
	for _, a := range apps {
		keep[a] = true
	}
	entries, err := os.ReadDir(dist)
	if err != nil {
		return err
	}
	for _, e := range entries {
		if e.IsDir() && !keep[e.Name()] && !strings.HasPrefix(e.Name(), ".") {
			fmt.Printf("removing %s: no such app\n", filepath.Join(dist, e.Name()))
			if err := os.RemoveAll(filepath.Join(dist, e.Name())); err != nil {
				return err
			}
		}
	}
	return nil
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
