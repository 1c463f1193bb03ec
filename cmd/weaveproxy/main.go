// Command weaveproxy is the Weave (Firefox Sync 1.0/1.1) strangler proxy and,
// with no configuration, a complete native Sync server on SQLite.
//
//	weaveproxy [serve] [flags]          run the server (the default)
//	weaveproxy db init --db DSN         create the schema where it is missing
//	weaveproxy user unlock NAME         lift an account lockout
//	weaveproxy report --out DIR         write the shadow diff report
//	weaveproxy replay FILE --against URL  replay recorded pairs and diff them
//	weaveproxy routes promote|demote ROUTE
//	weaveproxy diff accept ...          waive a shadow finding
//	weaveproxy dev                      a whole development environment on loopback
//	weaveproxy version                  print the version and commit
//	weaveproxy bench --target NAME=URL ...  measure servers side by side
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"syscall"

	"github.com/weaveproxy/weaveproxy/shadow/cli"
)

// command is one subcommand: it parses its own flags from args and runs.
type command struct {
	name  string
	usage string
	run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() []command {
	cmds := []command{
		{"serve", "run the server (the default: no command, or only flags)", runServe},
		{"db", "db init --db DSN: create the schema where it is missing", runDB},
		{"user", "user unlock NAME: lift an account lockout", runUser},
		{"config", "config check [--config FILE]: validate settings, print them (secrets masked)", runConfig},
		{"dev", "dev: MariaDB, memcached, PHP, SMTP sink, slapd and the proxy on loopback until Ctrl-C", runDev},
		{"version", "print the version and commit", runVersion},
		{"bench", "bench --target NAME=URL ...: measure Sync servers side by side", runBench},
	}
	for _, c := range cli.Commands() {
		cmds = append(cmds, command{c.Name, c.Usage, c.Run})
	}
	return cmds
}

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := dispatch(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return // asked for help, and got it
		}
		if errors.As(err, new(reportedError)) {
			os.Exit(2) // the logger has said it, in the configured format
		}
		fmt.Fprintln(os.Stderr, "weaveproxy:", err)
		os.Exit(2)
	}
}

// dispatch picks the subcommand; with none (or only flags) it serves, so
// the bare binary is the "Weave Minimal" server.
func dispatch(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	name := "serve"
	switch {
	case len(args) > 0 && isHelp(args[0]):
		printUsage(stdout)
		return nil
	case len(args) > 0 && len(args[0]) > 0 && args[0][0] != '-':
		name, args = args[0], args[1:]
	}
	for _, c := range commands() {
		if c.name == name {
			return c.run(ctx, args, stdout, stderr)
		}
	}
	printUsage(stderr)
	return fmt.Errorf("unknown command %q", name)
}

// reportedError is an error the command has already logged.
type reportedError struct{ error }

func (e reportedError) Unwrap() error { return e.error }

func isHelp(arg string) bool {
	return arg == "-h" || arg == "-help" || arg == "--help" || arg == "help"
}

func printUsage(w io.Writer) {
	fmt.Fprintln(w, "usage: weaveproxy [command] [flags]")
	fmt.Fprintln(w, "commands:")
	for _, c := range commands() {
		fmt.Fprintf(w, "  %-8s %s\n", c.name, c.usage)
	}
	fmt.Fprintln(w, "weaveproxy COMMAND -h shows a command's flags (serve's: weaveproxy serve -h).")
}
