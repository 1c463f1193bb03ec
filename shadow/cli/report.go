package cli

import (
	"context"
	"fmt"
	"io"
	"text/tabwriter"

	"github.com/weaveproxy/weaveproxy/diff/report"
	"github.com/weaveproxy/weaveproxy/diff/store"
)

const reportSynopsis = "usage: weaveproxy report --out DIR [--diff-db DSN] [--min-pairs N] [--last M]"

// Report writes report.html and report.json from a diff store and prints
// the per-route table.
func Report(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := NewFlags("report", reportSynopsis, stderr)
	out := fs.String("out", "", "directory to write report.html and report.json to (required)")
	dsn := fs.String("diff-db", DefaultDiffDB, "diff store: sqlite:PATH or mysql:DSN")
	gate := gateFlags(fs)
	pos, err := ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if *out == "" || len(pos) > 0 {
		return usageError(reportSynopsis)
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
	fmt.Fprintln(tw, "ROUTE\tPAIRS\tCOVERAGE\tIDENTICAL\tEQUAL\tNOISE\tACCEPTED\tDIFFERENT\tMATCH\tVERDICT")
	var total store.Counts
	var shadowed int64
	for _, s := range sums {
		c := s.Counts
		fmt.Fprintf(tw, "%s\t%d\t%.1f%%\t%d\t%d\t%d\t%d\t%d\t%.1f%%\t%s\n", s.Route, c.Pairs, 100*s.Coverage(),
			c.Identical, c.EqualAfterRules, c.Noise, c.Accepted, c.Different, 100*c.MatchRate(), s.Verdict.Reason)
		total.Pairs += c.Pairs
		total.Different += c.Different
		shadowed += s.Shadowed()
	}
	tw.Flush()
	fmt.Fprintf(w, "%d routes, %d pairs of %d shadowed requests, match rate %.1f%%\n",
		len(sums), total.Pairs, shadowed, 100*total.MatchRate())
}
