// Command gate holds a stagecraft stage until its upstream Jobs have
// completed (see package gate). It runs in the cluster, with the token of
// its pod's service account:
//
//	gate release --namespace=NS --job=JOB --upstream=UP [--upstream=UP...] [--timeout=24h]
//	gate wait    --namespace=NS --upstream=UP [--upstream=UP...] [--timeout=24h]
//
// release removes the scheduling gate from JOB's pods once every upstream
// Job has completed, and keeps doing so until JOB finishes; it fails JOB
// as soon as an upstream Job fails, and when it cannot do its work (wrong
// arguments, the API refusing it for two minutes, a crash), with reason
// GateFailed. wait returns once every upstream Job has completed, for an
// init container. Exit status: 0 done, 2 an upstream Job failed, 3 timed
// out, 1 a usage or configuration error. The
// reason is the last line of the output and, in the cluster, the
// container's termination message.
package main

import (
	"context"
	"fmt"
	"os"
	"os/signal"
	"syscall"

	"k8s.io/client-go/dynamic"
	"k8s.io/client-go/kubernetes"
	"k8s.io/client-go/rest"

	"github.com/stagecraft-dev/stagecraft/internal/gate"
)

// terminationLog is where the kubelet reads a container's termination
// message (terminationMessagePath's default).
const terminationLog = "/dev/termination-log"

func main() {
	os.Exit(run(os.Args[1:]))
}

func run(args []string) int {
	cmd, err := gate.ParseArgs(args)
	cfg, cfgErr := rest.InClusterConfig()
	if cfgErr == nil {
		cfg.UserAgent = "stagecraft-gate"
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "gate:", err)
		if cfgErr == nil {
			// A release gate with wrong arguments fails the Job it names,
			// if it names one, rather than leave it held.
			if client, cerr := kubernetes.NewForConfig(cfg); cerr == nil {
				if ferr := cmd.FailHeld(context.Background(), client, "the gate's arguments are wrong: "+err.Error(), os.Stderr); ferr != nil {
					fmt.Fprintln(os.Stderr, "gate:", ferr)
				}
			}
		}
		return 1
	}
	if cfgErr != nil {
		fmt.Fprintln(os.Stderr, "gate: not in a cluster:", cfgErr)
		return 1
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	client, err := kubernetes.NewForConfig(cfg)
	if err == nil {
		var dyn dynamic.Interface
		if dyn, err = dynamic.NewForConfig(cfg); err == nil {
			res, runErr := cmd.RunSafely(ctx, client, gate.Queues{Client: dyn}, os.Stdout)
			return finish(res, runErr)
		}
	}
	fmt.Fprintln(os.Stderr, "gate:", err)
	return 1
}

// finish reports the result and returns the exit status.
func finish(res gate.Result, err error) int {
	if err != nil {
		fmt.Fprintln(os.Stderr, "gate:", err)
		return 1
	}
	fmt.Println(res.Message)
	// The termination message is best effort: outside a pod there is none.
	_ = os.WriteFile(terminationLog, []byte(res.Message), 0o644)
	return gate.ExitStatus(res.Outcome)
}
