package main

import (
	"context"
	"flag"
	"fmt"
	"io"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/bench"
)

// targetFlags collects repeated --target NAME=URL flags in order: the
// first target is the one the table's ratios are relative to.
type targetFlags []bench.Target

func (t *targetFlags) String() string { return fmt.Sprint(*t) }

func (t *targetFlags) Set(v string) error {
	name, url, ok := strings.Cut(v, "=")
	if !ok || name == "" || url == "" {
		return fmt.Errorf("want NAME=URL, got %q", v)
	}
	*t = append(*t, bench.Target{Name: name, URL: url})
	return nil
}

// runBench is `weaveproxy bench`: it drives Sync clients against the
// targets (package internal/bench does the work) and prints the tables.
func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var cfg bench.Config
	var targets targetFlags
	var workloads string
	var quiet, markdown bool
	fs := flag.NewFlagSet("bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&targets, "target", "NAME=URL of a server to measure; repeat for several, ratios are to the first")
	fs.StringVar(&workloads, "workload", strings.Join(bench.WorkloadNames(), ","),
		"comma-separated workloads: "+strings.Join(bench.WorkloadNames(), ", "))
	fs.IntVar(&cfg.Concurrency, "concurrency", 0, "clients at once per target (0: 16 for reads and mozilla, 8 for posts)")
	fs.DurationVar(&cfg.Duration, "duration", 10*time.Second, "measured time per target and workload")
	fs.IntVar(&cfg.Requests, "requests", 0, "measured requests per target and workload (0: no count bound)")
	fs.IntVar(&cfg.Rounds, "rounds", 3, "times the targets take turns within a workload")
	fs.DurationVar(&cfg.Warmup, "warmup", time.Second, "unmeasured run of each target before a workload")
	fs.IntVar(&cfg.Users, "users", 50, "user pool of the mozilla workload")
	fs.StringVar(&cfg.Prefix, "user-prefix", "bench", "start of every user name the bench uses")
	fs.StringVar(&cfg.Password, "password", "bench-password-1", "password of the bench users")
	fs.BoolVar(&cfg.Register, "register", false, "create the users first where they do not exist (User API PUT /user/1.0/NAME)")
	fs.BoolVar(&cfg.Seed, "seed", false, "give the read workloads' user its WBOs first where it has fewer")
	fs.IntVar(&cfg.SeedItems, "seed-items", 10000, "WBOs of 300 bytes the read workloads' user holds")
	fs.DurationVar(&cfg.Timeout, "timeout", 60*time.Second, "bound of one request")
	fs.BoolVar(&quiet, "quiet", false, "no progress lines on standard error")
	fs.BoolVar(&markdown, "markdown", false, "end with a Markdown table of every workload")
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: weaveproxy bench --target NAME=URL [--target NAME=URL ...] [flags]")
		fs.PrintDefaults()
	}
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("bench: unexpected argument %q", fs.Arg(0))
	}
	if len(targets) == 0 {
		fs.Usage()
		return fmt.Errorf("bench: at least one --target NAME=URL")
	}
	cfg.Targets = targets
	cfg.Workloads = strings.Split(workloads, ",")
	if !quiet {
		cfg.Progress = stderr
	}
	results, err := bench.Run(ctx, cfg, stdout)
	if err != nil {
		return err
	}
	if markdown {
		fmt.Fprintln(stdout)
		return bench.WriteMarkdown(stdout, results)
	}
	return nil
}
