// Package cli holds the shadow-side commands of the weaveproxy binary:
// report, replay, routes promote|demote and diff accept|list|revoke. The
// binary only dispatches to them; everything a command decides — its
// flags, its checks, what it prints — lives here, where it is tested.
package cli

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
	"github.com/weaveproxy/weaveproxy/shadow"
)

// Default diff stores, in the working directory: serve writes the shadow
// record to the first, replay to the second, so that a replay never mixes
// into the evidence the cutover gate reads.
const (
	DefaultDiffDB   = "sqlite:weaveproxy-diff.db"
	DefaultReplayDB = "sqlite:weaveproxy-replay.db"
)

// Command is one subcommand: it parses its own flags from args and runs.
type Command struct {
	Name  string
	Usage string // one line: the synopsis shown by `weaveproxy -h`
	Run   func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

// Commands lists the shadow-side subcommands.
func Commands() []Command {
	return []Command{
		{"report", "report --out DIR: write the shadow diff report (HTML + JSON)", Report},
		{"replay", "replay FILE --against URL: replay recorded pairs and diff them", Replay},
		{"routes", "routes promote|demote ROUTE: move a route to native or back", Routes},
		{"diff", "diff accept|list|revoke|seed-known-defects|seed-deliberate: waive shadow findings", Diff},
	}
}

// FileCutover promotes and demotes by editing the routes file (comments
// kept, replaced atomically); a running proxy picks the change up by its
// file watch.
func FileCutover(file string, st *store.Store, gate store.Gate, log *slog.Logger) *shadow.Cutover {
	return &shadow.Cutover{
		Store: st, Gate: gate, Logger: log,
		Table: func() *routes.Table {
			t, err := shadow.Parser().Load(file)
			if err != nil {
				return nil
			}
			return t
		},
		SetMode: func(_ context.Context, route string, mode routes.Mode) error {
			return routes.SetModeFile(file, route, mode, 0)
		},
	}
}

// ParseArgs parses flags placed before, between or after positional
// arguments ("replay FILE --against URL"), which package flag alone
// stops at. The binary's other commands use it too.
func ParseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			return nil, err
		}
		if fs.NArg() == 0 {
			return pos, nil
		}
		pos = append(pos, fs.Arg(0))
		args = fs.Args()[1:]
	}
}

// NewFlags returns a flag set whose -h output starts with the command's
// synopsis, positional arguments included, before the flags.
func NewFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, synopsis)
		fmt.Fprintln(stderr, "flags:")
		fs.PrintDefaults()
	}
	return fs
}

// usageError is a command line that does not fit the synopsis.
func usageError(synopsis string) error { return errors.New(synopsis) }

// openDiffStore opens a diff store. mustExist refuses to create an empty
// SQLite file where the user expected a record: a report, a gate or a
// waiver on nothing is a mistake, not an empty answer.
func openDiffStore(ctx context.Context, dsn string, mustExist bool) (*store.Store, error) {
	if path, ok := strings.CutPrefix(dsn, "sqlite:"); ok && mustExist {
		if _, err := os.Stat(path); err != nil {
			return nil, fmt.Errorf("no diff store at %s (serve writes one in its working directory; name another with --diff-db): %w", path, err)
		}
	}
	return store.Open(ctx, dsn, store.Options{})
}

func gateFlags(fs *flag.FlagSet) *store.Gate {
	g := store.DefaultGate
	fs.IntVar(&g.MinPairs, "min-pairs", g.MinPairs, "readiness: at least this many pairs")
	fs.IntVar(&g.LastM, "last", g.LastM, "readiness: no real difference in the last this many pairs")
	fs.IntVar(&g.MinUsers, "min-users", g.MinUsers, "readiness: pairs from at least this many distinct users")
	fs.IntVar(&g.MinRequests, "min-requests", g.MinRequests, "readiness: at least this many distinct requests")
	return &g
}

func whoAmI() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return os.Getenv("LOGNAME")
}
