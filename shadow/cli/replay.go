package cli

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/replay"
	"github.com/weaveproxy/weaveproxy/diff/report"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/shadow"
)

const replaySynopsis = `usage: weaveproxy replay FILE --against URL [--diff-db DSN] [--out DIR] [--min-match R] [--show-all]
FILE is JSON Lines, one recorded pair a line:
  {"seq": 1, "scenario": "…",
   "request":  {"method": "PUT", "path": "/1.0/u/storage/c/i?x=y", "headers": [["Name", "value"], …], "body": "…"},
   "response": {"status": 200, "headers": [["Name", "value"], …], "body": "…"}}
headers are lists of [name, value] pairs in wire order; a body that is not UTF-8 is "body_b64" instead of "body".
Pairs run in seq order against URL, which should start from an empty database.`

// Replay sends recorded pairs to a server and diffs its answers with the
// recorded ones, showing progress as it goes and a per-route summary.
func Replay(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := NewFlags("replay", replaySynopsis, stderr)
	against := fs.String("against", "", "base URL of the server to replay to, e.g. http://127.0.0.1:8080 (required)")
	dsn := fs.String("diff-db", DefaultReplayDB, "diff store for the replay's pairs: sqlite:PATH or mysql:DSN")
	out := fs.String("out", "", "also write report.html and report.json to this directory")
	known := fs.Bool("known-defects", true, "accept the known legacy defects of the recordings (PHP 8 fatal errors) as waivers")
	deliberate := fs.Bool("deliberate", true, "accept the wire differences docs/compatibility.md records as deliberate (labelled, with the doc's reason)")
	recorded := fs.Bool("recorded", true, "accept the answers of the project's recorded session (testdata/recordings) that differ only as a consequence of an earlier deliberate difference; they match that session's requests only")
	minMatch := fs.Float64("min-match", 0, "fail when the match rate is below this (0–1)")
	showAll := fs.Bool("show-all", false, "list every differing pair (default: the first 20)")
	pos, err := ParseArgs(fs, args)
	if err != nil {
		return err
	}
	if len(pos) != 1 || *against == "" {
		return usageError(replaySynopsis)
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
	if *recorded {
		if _, err := store.SeedRecorded(ctx, st, "weaveproxy replay"); err != nil {
			return err
		}
	}
	fmt.Fprintf(stderr, "replaying %d pairs of %s against %s\n", len(entries), pos[0], *against)
	res, err := shadow.Replay(ctx, st, entries, *against, shadow.ReplayOptions{Progress: progress(stderr, time.Second)})
	if err != nil {
		return err
	}
	maxShown := 20
	if *showAll {
		maxShown = -1
	}
	res.Print(stdout, maxShown)
	if *out != "" {
		title := fmt.Sprintf("Replay of %s against %s", pos[0], *against)
		if err := report.WriteWith(ctx, st, *out, report.Options{Title: title}); err != nil {
			return err
		}
		fmt.Fprintf(stdout, "wrote %s/report.html and %s/report.json\n", *out, *out)
	}
	if rate := res.MatchRate(); rate < *minMatch {
		return fmt.Errorf("replay: match rate %.4f is below --min-match %.4f", rate, *minMatch)
	}
	return nil
}

// progress reports done/total at most once per interval, and at the end.
func progress(w io.Writer, every time.Duration) func(done, total int) {
	var last time.Time
	return func(done, total int) {
		if done < total && time.Since(last) < every {
			return
		}
		last = time.Now()
		fmt.Fprintf(w, "replayed %d/%d pairs\n", done, total)
	}
}
