package gate

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

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
}

// stringList is a flag that may be repeated.
type stringList []string

func (l *stringList) String() string     { return strings.Join(*l, ",") }
func (l *stringList) Set(v string) error { *l = append(*l, v); return nil }

// ParseArgs parses the gate command's arguments: the mode, then its flags.
// Every name must be a valid Kubernetes name.
func ParseArgs(args []string) (Command, error) {
	if len(args) == 0 || (args[0] != "release" && args[0] != "wait") {
		return Command{}, errors.New("usage: gate release|wait --namespace=NS [--job=JOB] --upstream=UP... [--timeout=D] [--interval=D]")
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
	if err := fs.Parse(args[1:]); err != nil {
		return Command{}, err
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
	if c.Timeout < 0 || c.Interval <= 0 {
		errs = append(errs, errors.New("--timeout must not be negative and --interval must be positive"))
	}
	return c, errors.Join(errs...)
}

// Run carries the command out.
func (c Command) Run(ctx context.Context, client kubernetes.Interface, queues QueueCreator, log io.Writer) (Result, error) {
	u := Upstream{Client: client, Namespace: c.Namespace, Jobs: c.Upstream, Interval: c.Interval, Timeout: c.Timeout, Log: log}
	if c.Mode == "wait" {
		return Wait(ctx, u)
	}
	r := &Releaser{Upstream: u, Job: c.Job, Queues: queues}
	return r.Run(ctx)
}

// ExitStatus is the gate command's exit status for an outcome.
func ExitStatus(o Outcome) int {
	switch o {
	case UpstreamFailed:
		return ExitUpstreamFailed
	case TimedOut:
		return ExitTimeout
	}
	return 0
}
