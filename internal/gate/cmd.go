package gate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	corev1 "k8s.io/api/core/v1"
	metav1 "k8s.io/apimachinery/pkg/apis/meta/v1"
	"k8s.io/apimachinery/pkg/util/validation"
	"k8s.io/client-go/kubernetes"
)

// Command is a parsed command line of the gate command.
type Command struct {
	// Mode is "release" or "wait".
	Mode      string
	Namespace string
	// Job is the Job to release (release only).
	Job      string
	Upstream []string
	Timeout  time.Duration
	Interval time.Duration
	// Grace is how long answers of the API that say the gate is
	// misconfigured are retried (see Upstream.Grace).
	Grace time.Duration
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// ParseArgs parses the gate command's arguments: the mode, then its flags.
// Every name must be a valid Kubernetes name. With an error, the command
// holds what could be parsed (see FailHeld).
func ParseArgs(args []string) (Command, error) {
	if len(args) == 0 || (args[0] != "release" && args[0] != "wait") {
		return Command{}, errors.New("usage: gate release|wait --namespace=NS [--job=JOB] --upstream=UP... [--timeout=D] [--interval=D] [--grace=D]")
	}
	c := Command{Mode: args[0]}
	fs := flag.NewFlagSet("gate "+c.Mode, flag.ContinueOnError)
	fs.SetOutput(io.Discard)
	fs.StringVar(&c.Namespace, "namespace", "", "namespace of the Jobs")
	if c.Mode == "release" {
		fs.StringVar(&c.Job, "job", "", "the Job to release")
	}
	fs.Var((*stringList)(&c.Upstream), "upstream", "an upstream Job (repeat for each)")
	fs.DurationVar(&c.Timeout, "timeout", 0, "fail when the upstream Jobs have not completed this long after the start (0: never)")
	fs.DurationVar(&c.Interval, "interval", 5*time.Second, "time between two looks at the Jobs")
	fs.DurationVar(&c.Grace, "grace", defaultGrace, "how long to retry answers that say the gate is misconfigured (forbidden, not found) before failing")
	if err := fs.Parse(args[1:]); err != nil {
		return c, err // with the flags before the wrong one, for FailHeld
	}
	var errs []error
	if fs.NArg() > 0 {
		errs = append(errs, fmt.Errorf("unexpected arguments %q", fs.Args()))
	}
	check := func(what, v string) {
		if msgs := validation.IsDNS1123Subdomain(v); v == "" || len(msgs) > 0 {
			errs = append(errs, fmt.Errorf("%s %q is not a valid name: %s", what, v, strings.Join(msgs, "; ")))
		}
	}
	check("--namespace", c.Namespace)
	if c.Mode == "release" {
		check("--job", c.Job)
	}
	if len(c.Upstream) == 0 {
		errs = append(errs, errors.New("no --upstream Job"))
	}
	for _, u := range c.Upstream {
		check("--upstream", u)
	}
	if c.Timeout < 0 || c.Interval <= 0 || c.Grace <= 0 {
		errs = append(errs, errors.New("--timeout must not be negative, and --interval and --grace must be positive"))
	}
	return c, errors.Join(errs...)
}

// Run carries the command out.
func (c Command) Run(ctx context.Context, client kubernetes.Interface, queues QueueCreator, log io.Writer) (Result, error) {
	u := Upstream{Client: client, Namespace: c.Namespace, Jobs: c.Upstream, Interval: c.Interval, Timeout: c.Timeout, Grace: c.Grace, Log: log}
	if c.Mode == "wait" {
		return Wait(ctx, u)
	}
	r := &Releaser{Upstream: u, Job: c.Job, Queues: queues}
	return r.Run(ctx)
}

// RunSafely runs the command as Run does; a panic of the gate (a bug, or
// an answer it cannot handle) ends it as Misconfigured, after it has
// failed the held Job with ReasonGateFailed (see FailHeld), so that a
// crashed gate never leaves its Job held.
func (c Command) RunSafely(ctx context.Context, client kubernetes.Interface, queues QueueCreator, log io.Writer) (res Result, err error) {
	defer func() {
		if p := recover(); p != nil {
			msg := fmt.Sprintf("the gate crashed: %v", p)
			if ferr := c.FailHeld(context.WithoutCancel(ctx), client, msg, log); ferr != nil {
				msg += "; " + ferr.Error()
			}
			res, err = Result{Misconfigured, msg}, nil
		}
	}()
	return c.Run(ctx, client, queues, log)
}

// FailHeld fails the Job a release command holds, with ReasonGateFailed
// and msg, for a gate that cannot do its work (wrong arguments, a crash).
// It does nothing for a wait command, or for a Job that is not held (it
// has finished, or carries no scheduling gate); it returns an error when
// the command names no Job or the Job cannot be read or failed.
func (c Command) FailHeld(ctx context.Context, client kubernetes.Interface, msg string, log io.Writer) error {
	if c.Mode != "release" {
		return nil
	}
	for _, v := range []string{c.Namespace, c.Job} {
		if len(validation.IsDNS1123Subdomain(v)) > 0 {
			return fmt.Errorf("no held Job to fail: --namespace=%q --job=%q", c.Namespace, c.Job)
		}
	}
	r := &Releaser{Upstream: Upstream{Client: client, Namespace: c.Namespace, Log: log}, Job: c.Job}
	r.defaults()
	job, err := client.BatchV1().Jobs(c.Namespace).Get(ctx, c.Job, metav1.GetOptions{})
	if err != nil {
		return fmt.Errorf("the held Job cannot be failed: %w", err)
	}
	if fin, _ := Finished(job); fin || gateIndex(&corev1.Pod{Spec: job.Spec.Template.Spec}) < 0 {
		return nil
	}
	if st, _ := r.fail(ctx, job, ReasonGateFailed, msg, Misconfigured); st != failed {
		return fmt.Errorf("the held Job %s could not be failed", c.Job)
	}
	return nil
}

// ExitStatus is the gate command's exit status for an outcome.
func ExitStatus(o Outcome) int {
	switch o {
	case UpstreamFailed:
		return ExitUpstreamFailed
	case TimedOut:
		return ExitTimeout
	case Misconfigured:
		return ExitMisconfigured
	}
	return 0
}
