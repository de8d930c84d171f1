//go:build unix

package synth

import (
	_ "embed"
	"os"
	"path/filepath"
	"strings"
)

// kernelJS runs jsii's kernel without its relay process (kernel.js says
// how).
//
//go:embed kernel.js
var kernelJS []byte

// kernelFlags are V8's switches for a small heap: the kernel runs briefly
// and mostly waits for the Go process, so V8's optimizing compilers and a
// large young generation cost memory (about 9 MB at 1000 stages) and
// save no time (measured: the same CPU or less at 100 and 1000 stages).
// Lite mode turns WebAssembly off; --no-expose-wasm says so, or V8 prints a
// warning on every synth.
const kernelFlags = "--lite-mode --no-expose-wasm --max-semi-space-size=1"

// jsii starts Node.js twice: a relay process, which starts the kernel as
// its child and passes every message between the Go process and the
// kernel, and the kernel. The relay costs a Node.js start-up (tens of
// milliseconds of CPU), about 40 MB of memory and a copy of every message.
// directKernel makes jsii start the kernel itself instead, through the
// node command that jsii's JSII_NODE variable names: a script in dir that
// runs kernel.js, with the flags the relay would give the kernel. It
// changes nothing if the user has set JSII_NODE or JSII_RUNTIME, or if the
// files cannot be written. It takes effect when jsii next starts its
// runtime: call it before the first construct exists.
func directKernel(dir string) {
	if os.Getenv("JSII_NODE") != "" || os.Getenv("JSII_RUNTIME") != "" {
		return
	}
	js := filepath.Join(dir, "jsii-kernel.js")
	script := filepath.Join(dir, "jsii-node")
	sh := "#!/bin/sh\n# $1 is jsii's runtime entry point (bin/jsii-runtime.js); run its kernel directly.\n" +
		"exec node " + kernelFlags + " --preserve-symlinks '" + strings.ReplaceAll(js, "'", `'\''`) + "' \"$1\"\n"
	if os.WriteFile(js, kernelJS, 0o644) != nil || os.WriteFile(script, []byte(sh), 0o755) != nil {
		return
	}
	_ = os.Setenv("JSII_NODE", script)
}
