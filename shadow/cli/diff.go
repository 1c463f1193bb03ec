package cli

import (
	"context"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/path"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

const diffSynopsis = `usage: weaveproxy diff accept --route R (--path P | --shape P1,P2 | --legacy-contains TEXT | --request-match RE) --reason TEXT --by NAME
       weaveproxy diff list [--all]
       weaveproxy diff revoke ID [--by NAME]
       weaveproxy diff seed-known-defects [--by NAME]
       weaveproxy diff seed-deliberate [--by NAME]
each takes --diff-db DSN (default ` + DefaultDiffDB + `)`

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

// Diff manages the waivers of a diff store: QA's record of which
// differences native may keep.
func Diff(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	d, err := parseDiff(args, stderr)
	if err != nil {
		return err
	}
	// Only the seeds may start a store: every other command is about a
	// record that must exist already.
	mustExist := d.sub != "seed-known-defects" && d.sub != "seed-deliberate"
	st, err := openDiffStore(ctx, d.dsn, mustExist)
	if err != nil {
		return err
	}
	defer st.Close()
	return d.exec(ctx, st, stdout)
}

func parseDiff(args []string, stderr io.Writer) (*diffCmd, error) {
	if len(args) == 0 {
		return nil, usageError(diffSynopsis)
	}
	d := &diffCmd{sub: args[0]}
	fs := NewFlags("diff "+d.sub, diffSynopsis, stderr)
	fs.StringVar(&d.dsn, "diff-db", DefaultDiffDB, "diff store: sqlite:PATH or mysql:DSN")
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
		return nil, usageError(diffSynopsis)
	}
	pos, err := ParseArgs(fs, args[1:])
	if err != nil {
		return nil, err
	}
	switch {
	case d.sub == "revoke" && len(pos) == 1:
		d.id = pos[0]
	case len(pos) > 0 || d.sub == "revoke":
		return nil, usageError(diffSynopsis)
	}
	if d.shape != "" {
		w.Shape = strings.Split(d.shape, ",")
	}
	w.By = d.by
	return d, nil
}

func (d *diffCmd) exec(ctx context.Context, st *store.Store, stdout io.Writer) error {
	switch d.sub {
	case "accept":
		if err := checkWaiverTargets(ctx, st, d.waiver); err != nil {
			return err
		}
		got, err := st.Accept(ctx, d.waiver)
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

// checkWaiverTargets refuses a waiver whose route is not an API route
// the proxy or the record knows, or whose field paths never differed on
// it: a typo would otherwise accept nothing, silently, forever. The error
// lists what is known, so the fix is a copy away.
func checkWaiverTargets(ctx context.Context, st *store.Store, w store.Waiver) error {
	seenRoutes, err := st.RouteNames(ctx)
	if err != nil {
		return err
	}
	known := append(routes.BuiltinNames(), seenRoutes...)
	if w.Route != "*" && !slices.Contains(known, w.Route) {
		return fmt.Errorf("diff accept: unknown route %q; known routes:\n  *\n  %s",
			w.Route, strings.Join(dedupe(known), "\n  "))
	}
	wanted := w.Shape
	if w.Field != "" {
		wanted = append([]string{w.Field}, wanted...)
	}
	if len(wanted) == 0 {
		return nil
	}
	inRoutes := []string{w.Route}
	if w.Route == "*" {
		inRoutes = seenRoutes
	}
	var seen []string
	for _, r := range inRoutes {
		fields, err := st.Fields(ctx, r)
		if err != nil {
			return err
		}
		for _, f := range fields {
			seen = append(seen, f.Field)
		}
	}
	seen = dedupe(seen)
	for _, p := range wanted {
		pt, err := path.Compile(p)
		if err != nil {
			return fmt.Errorf("diff accept: field path %q: %w", p, err)
		}
		if !slices.ContainsFunc(seen, pt.MatchPrefix) {
			list := "(none: no pair on this route has differed yet)"
			if len(seen) > 0 {
				list = strings.Join(seen, "\n  ")
			}
			return fmt.Errorf("diff accept: no difference on %s was ever seen at %q; paths that differed:\n  %s", w.Route, p, list)
		}
	}
	return nil
}

func dedupe(s []string) []string {
	s = slices.Clone(s)
	slices.Sort(s)
	return slices.Compact(s)
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
