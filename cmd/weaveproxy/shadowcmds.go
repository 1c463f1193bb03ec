package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"weaveproxy/diff/replay"
	"weaveproxy/diff/report"
	"weaveproxy/diff/store"
	"weaveproxy/proxy"
	"weaveproxy/proxy/forward"
	"weaveproxy/proxy/routes"
	"weaveproxy/shadow"
)

// Default diff stores, in the working directory: serve writes the shadow
// record to the first, replay to the second, so that a replay never mixes
// into the evidence the cutover gate reads.
const (
	defaultDiffDB   = "sqlite:weaveproxy-diff.db"
	defaultReplayDB = "sqlite:weaveproxy-replay.db"
)

// shadowSide is the serving process's shadow mode: the Shadower and its
// store, closed together once the listeners have stopped.
type shadowSide struct {
	*shadow.Shadower
	st *store.Store
}

// Close lets the queued comparisons finish (bounded), then closes the
// store.
func (s shadowSide) Close() error {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	return errors.Join(s.Shadower.Close(ctx), s.st.Close())
}

// buildShadow opens the diff store and builds the Shadower the proxy
// hands shadow-mode routes to, and the /shadow/ admin API. Promotions from
// the admin API edit the routes file, which the proxy's watch reloads.
func buildShadow(ctx context.Context, f *serveFlags, log *slog.Logger, np *nativeParts) (proxy.Shadower, http.Handler, error) {
	dsn := f.diffDSN
	if dsn == "" {
		dsn = defaultDiffDB
	}
	st, err := store.Open(ctx, dsn, store.Options{})
	if err != nil {
		return nil, nil, err
	}
	table, err := routes.Load(f.routes)
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	// Reads repeated to learn noise go through an upstream of their own:
	// the client's legacy handler belongs to the client's request.
	repeat := forward.New(table.Legacy, forward.Options{Logger: log})
	sh, err := shadow.New(shadow.Options{Store: st, Metrics: np.registry, Logger: log, Repeat: repeat})
	if err != nil {
		st.Close()
		return nil, nil, err
	}
	cut := fileCutover(f.routes, st, store.Gate{}, log)
	return shadowSide{sh, st}, shadow.AdminHandler(shadow.AdminConfig{Store: st, Cutover: cut, Shadower: sh}), nil
}

// fileCutover promotes and demotes by editing the routes file (comments
// kept, replaced atomically); a running proxy picks the change up by its
// file watch.
func fileCutover(file string, st *store.Store, gate store.Gate, log *slog.Logger) *shadow.Cutover {
	return &shadow.Cutover{
		Store: st, Gate: gate, Logger: log,
		Table: func() *routes.Table {
			t, err := routes.Load(file)
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

// parseArgs parses flags placed before, between or after positional
// arguments ("replay FILE --against URL"), which package flag alone
// stops at.
func parseArgs(fs *flag.FlagSet, args []string) ([]string, error) {
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

func newFlags(name string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	return fs
}

// openDiffStore opens a diff store. mustExist refuses to create an empty
// SQLite file where the user expected a record: a report or a gate on
// nothing is a mistake, not an empty answer.
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
	return &g
}

func whoAmI() string {
	if u := os.Getenv("USER"); u != "" {
		return u
	}
	return os.Getenv("LOGNAME")
}

// runReport: weaveproxy report --out DIR [--diff-db DSN] [--min-pairs N] [--last M]
func runReport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("report", stderr)
	out := fs.String("out", "", "directory to write report.html and report.json to (required)")
	dsn := fs.String("diff-db", defaultDiffDB, "diff store: sqlite:PATH or mysql:DSN")
	gate := gateFlags(fs)
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) > 0 {
		return errors.New("usage: weaveproxy report --out DIR [--diff-db DSN] [--min-pairs N] [--last M]")
	}
	st, err := openDiffStore(ctx, *dsn, true)
	if err != nil {
		return err
	}
	defer st.Close()
	if err := report.WriteWith(ctx, st, *out, report.Options{Gate: *gate}); err != nil {
		return err
	}
	sums, err := st.Routes(ctx, *gate)
	if err != nil {
		return err
	}
	printRoutes(stdout, sums)
	fmt.Fprintf(stdout, "wrote %s/report.html and %s/report.json\n", *out, *out)
	return nil
}

func printRoutes(w io.Writer, sums []store.RouteSummary) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ROUTE\tPAIRS\tIDENTICAL\tEQUAL\tNOISE\tACCEPTED\tDIFFERENT\tMATCH\tVERDICT")
	var total store.Counts
	for _, s := range sums {
		c := s.Counts
		fmt.Fprintf(tw, "%s\t%d\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%s\n", s.Route, c.Pairs, c.Identical,
			c.EqualAfterRules, c.Noise, c.Accepted, c.Different, 100*c.MatchRate(), s.Verdict.Reason)
		total.Pairs += c.Pairs
		total.Different += c.Different
	}
	tw.Flush()
	fmt.Fprintf(w, "%d routes, %d pairs, match rate %.1f%%\n", len(sums), total.Pairs, 100*total.MatchRate())
}

// runReplay: weaveproxy replay FILE --against URL [--diff-db DSN] [--out DIR]
func runReplay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("replay", stderr)
	against := fs.String("against", "", "base URL of the server to replay to, e.g. http://127.0.0.1:8080 (required)")
	dsn := fs.String("diff-db", defaultReplayDB, "diff store for the replay's pairs: sqlite:PATH or mysql:DSN")
	out := fs.String("out", "", "also write report.html and report.json to this directory")
	known := fs.Bool("known-defects", true, "accept the known legacy defects of the recordings (PHP 8 fatal errors) as waivers")
	deliberate := fs.Bool("deliberate", false, "also accept the wire differences docs/compatibility.md records as deliberate")
	minMatch := fs.Float64("min-match", 0, "fail when the match rate is below this (0–1)")
	pos, err := parseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *against == "" {
		return errors.New("usage: weaveproxy replay FILE --against URL [--diff-db DSN] [--out DIR]")
	}
	entries, err := replay.Load(pos[0])
	if err != nil {
		return err
	}
	st, err := store.Open(ctx, *dsn, store.Options{})
	if err != nil {
		return err
	}
	defer st.Close()
	if *known {
		if _, err := store.SeedKnownDefects(ctx, st, "weaveproxy replay"); err != nil {
			return err
		}
	}
	if *deliberate {
		if _, err := store.SeedDeliberate(ctx, st, "weaveproxy replay"); err != nil {
			return err
		}
	}
	res, err := shadow.Replay(ctx, st, entries, *against, nil)
	if err != nil {
		return err
	}
	res.Print(stdout)
	if *out != "" {
		if err := report.WriteWith(ctx, st, *out, report.Options{}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s/report.html and %s/report.json\n", *out, *out)
	}
	if rate := res.MatchRate(); rate < *minMatch {
		return fmt.Errorf("replay: match rate %.4f is below --min-match %.4f", rate, *minMatch)
	}
	return nil
}

// runRoutes: weaveproxy routes promote|demote ROUTE ...
func runRoutes(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	usage := errors.New(`usage: weaveproxy routes promote ROUTE [--routes routes.yaml] [--diff-db DSN] [--force] [--min-pairs N] [--last M] [--by NAME]
       weaveproxy routes demote ROUTE [--routes routes.yaml] [--to legacy|shadow] [--by NAME]
ROUTE is named as in routes.yaml, e.g. "GET /{version}/{user}/info/collections"`)
	if len(args) == 0 {
		return usage
	}
	sub := args[0]
	fs := newFlags("routes "+sub, stderr)
	file := fs.String("routes", "routes.yaml", "the routes file the proxy serves (edited in place, comments kept)")
	by := fs.String("by", whoAmI(), "who makes the change, for the log")
	log := slog.New(slog.NewTextHandler(stderr, nil))
	switch sub {
	case "promote":
		dsn := fs.String("diff-db", defaultDiffDB, "diff store holding the shadow record")
		force := fs.Bool("force", false, "promote even if the record is not ready (logged)")
		gate := gateFlags(fs)
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usage
		}
		st, err := openDiffStore(ctx, *dsn, !*force)
		if err != nil {
			return err
		}
		defer st.Close()
		p, err := fileCutover(*file, st, *gate, log).Promote(ctx, pos[0], *force, *by)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: native (%s)\n", pos[0], p.Verdict.Reason)
		return nil
	case "demote":
		to := fs.String("to", string(routes.Legacy), "mode to return to: legacy or shadow")
		pos, err := parseArgs(fs, args[1:])
		if err != nil {
			return err
		}
		if len(pos) != 1 {
			return usage
		}
		if err := fileCutover(*file, nil, store.Gate{}, log).Demote(ctx, pos[0], routes.Mode(*to), *by); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "%s: %s\n", pos[0], *to)
		return nil
	}
	return usage
}

// diffCmd is one parsed `weaveproxy diff` command.
type diffCmd struct {
	sub    string
	dsn    string
	by     string
	waiver store.Waiver
	shape  string
	all    bool
	id     string
}

const diffUsage = `usage: weaveproxy diff accept --route R (--path P | --shape P1,P2 | --legacy-contains TEXT | --request-match RE) --reason TEXT --by NAME
       weaveproxy diff list [--all]
       weaveproxy diff revoke ID [--by NAME]
       weaveproxy diff seed-known-defects [--by NAME]
       weaveproxy diff seed-deliberate [--by NAME]
each takes --diff-db DSN (default ` + defaultDiffDB + `)`

// runDiff: weaveproxy diff accept|list|revoke|seed-known-defects|seed-deliberate
func runDiff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, err := parseDiff(args, stderr)
	if err != nil {
		return err
	}
	st, err := openDiffStore(ctx, d.dsn, d.sub == "list" || d.sub == "revoke")
	if err != nil {
		return err
	}
	defer st.Close()
	return d.exec(ctx, st, stdout)
}

func parseDiff(args []string, stderr io.Writer) (*diffCmd, error) {
	if len(args) == 0 {
		return nil, errors.New(diffUsage)
	}
	d := &diffCmd{sub: args[0]}
	fs := newFlags("diff "+d.sub, stderr)
	fs.StringVar(&d.dsn, "diff-db", defaultDiffDB, "diff store: sqlite:PATH or mysql:DSN")
	fs.StringVar(&d.by, "by", whoAmI(), "who accepts or revokes")
	w := &d.waiver
	switch d.sub {
	case "accept":
		fs.StringVar(&w.Route, "route", "", `route, as in routes.yaml ("*" for every route)`)
		fs.StringVar(&w.Field, "path", "", "field path to accept, e.g. body.failed or header.x-weave-records")
		fs.StringVar(&d.shape, "shape", "", "comma-separated field paths: accept exactly this set of differences")
		fs.StringVar(&w.LegacyContains, "legacy-contains", "", "only pairs whose legacy body contains this text")
		fs.StringVar(&w.RequestMatch, "request-match", "", `only requests whose "METHOD target" matches this regexp`)
		fs.StringVar(&w.Reason, "reason", "", "why native may differ here (required)")
	case "list":
		fs.BoolVar(&d.all, "all", false, "include revoked waivers")
	case "revoke", "seed-known-defects", "seed-deliberate":
	default:
		return nil, errors.New(diffUsage)
	}
	pos, err := parseArgs(fs, args[1:])
	if err != nil {
		return nil, err
	}
	switch {
	case d.sub == "revoke" && len(pos) == 1:
		d.id = pos[0]
	case len(pos) > 0 || d.sub == "revoke":
		return nil, errors.New(diffUsage)
	}
	return d, nil
}

func (d *diffCmd) exec(ctx context.Context, st *store.Store, stdout io.Writer) error {
	switch d.sub {
	case "accept":
		w := d.waiver
		if d.shape != "" {
			w.Shape = strings.Split(d.shape, ",")
		}
		w.By = d.by
		got, err := st.Accept(ctx, w)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "accepted %s\n", got.ID)
	case "list":
		ws, err := st.ListWaivers(ctx, d.all)
		if err != nil {
			return err
		}
		printWaivers(stdout, ws)
	case "revoke":
		if err := st.Revoke(ctx, d.id, d.by); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "revoked %s\n", d.id)
	case "seed-known-defects":
		added, err := store.SeedKnownDefects(ctx, st, d.by)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "accepted %d known legacy defects\n", len(added))
	case "seed-deliberate":
		added, err := store.SeedDeliberate(ctx, st, d.by)
		if err != nil {
			return err
		}
		fmt.Fprintf(stdout, "accepted %d deliberate differences\n", len(added))
	}
	return nil
}

func printWaivers(w io.Writer, ws []store.Waiver) {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "ID\tROUTE\tACCEPTS\tBY\tCREATED\tREVOKED\tREASON")
	for _, x := range ws {
		what := x.Field
		if len(x.Shape) > 0 {
			what = "shape " + strings.Join(x.Shape, ",")
		}
		if x.LegacyContains != "" {
			what += fmt.Sprintf(" legacy~%q", x.LegacyContains)
		}
		if x.RequestMatch != "" {
			what += fmt.Sprintf(" request~/%s/", x.RequestMatch)
		}
		revoked := "-"
		if !x.Revoked.IsZero() {
			revoked = x.Revoked.Format(time.RFC3339) + " by " + x.RevokedBy
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", x.ID, x.Route, strings.TrimSpace(what), x.By,
			x.Created.Format(time.RFC3339), revoked, x.Reason)
	}
	tw.Flush()
}
