package main

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/weaveproxy/weaveproxy/internal/config"
)

// installedConfig is where scripts/install.sh puts the settings file;
// serve reads it when it exists and --config names no other (a variable
// so that tests can point it elsewhere).
var installedConfig = "/etc/weaveproxy/weaveproxy.yaml"

// runConfig: `weaveproxy config check [--config FILE] [serve flags]`
// validates a settings file as serve would read it and prints every
// setting in force, where it came from, secrets masked.
func runConfig(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	if len(args) == 0 || args[0] != "check" {
		return fmt.Errorf("usage: weaveproxy config check [--config FILE] [serve flags]")
	}
	f, fs := newServeFlags(stderr)
	// The installed file unless --config names another; set as the
	// flag's default, so that it shows as such.
	cf := fs.Lookup("config")
	cf.Value.Set(installedConfig)
	cf.DefValue = installedConfig
	src, err := config.Parse(fs, args[1:])
	if err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return fmt.Errorf("config check: unexpected argument %q", fs.Arg(0))
	}
	if err := f.validate(); err != nil {
		return err
	}
	tw := tabwriter.NewWriter(stdout, 0, 0, 2, ' ', 0)
	for _, s := range config.Effective(fs, src) {
		fmt.Fprintf(tw, "%s\t%s\t(%s)\n", s.Name, s.Value, s.Source)
	}
	tw.Flush()
	fmt.Fprintf(stdout, "%s: ok\n", fs.Lookup("config").Value)
	return nil
}

// validate checks what serve would refuse at start besides the flags'
// own parsing, without opening anything.
func (f *serveFlags) validate() error {
	if err := f.checkValues(); err != nil {
		return err
	}
	if _, err := newLogger(f, io.Discard); err != nil {
		return err
	}
	_, _, err := parseRegistration(f)
	return err
}
