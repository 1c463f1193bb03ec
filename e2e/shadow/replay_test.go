package shadow_test

import (
	"context"
	"path/filepath"
	"testing"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/replay"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/internal/testfiles"
	"github.com/weaveproxy/weaveproxy/shadow"
)

// recordings is the legacy PHP server's recorded traffic, the
// repository's own test data.
func recordings() string { return testfiles.Recordings() }

// seedAll accepts every seeded waiver a replay of the recordings uses:
// the known PHP 8 defects, the deliberate differences and the recorded
// session's consequences of them, each with its written reason.
func seedAll(t *testing.T, st *store.Store) {
	t.Helper()
	ctx := context.Background()
	for _, seed := range []func(context.Context, *store.Store, string) ([]store.Waiver, error){
		store.SeedKnownDefects, store.SeedDeliberate, store.SeedRecorded,
	} {
		if _, err := seed(ctx, st, "e2e"); err != nil {
			t.Fatal(err)
		}
	}
}

// requireAllMatchedOrAccepted fails t unless every pair of res matched or
// was accepted by a waiver.
func requireAllMatchedOrAccepted(t *testing.T, res *shadow.ReplayResult, want int) {
	t.Helper()
	for _, d := range res.Different {
		t.Error("different:", d)
	}
	t.Logf("replayed %d pairs: %v; match rate %.4f", res.Pairs, res.ByClass, res.MatchRate())
	if res.Pairs != want || res.MatchRate() != 1 {
		t.Fatalf("replayed %d of %d pairs, match rate %.4f: want every pair matched or accepted", res.Pairs, want, res.MatchRate())
	}
}

// requireNativeMatches replays entries against the native server, into a
// fresh diff store holding the seeded waivers, and fails t unless all
// want pairs matched or were accepted.
func requireNativeMatches(t *testing.T, entries []replay.Entry, want int) {
	t.Helper()
	ctx := context.Background()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "replay.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	seedAll(t, st)
	res, err := shadow.Replay(ctx, st, entries, nativeServer(t), shadow.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	requireAllMatchedOrAccepted(t, res, want)
}

// The recorded legacy traffic, replayed against the native server on an
// empty database, under the replay rules: every pair matches or is
// accepted by a seeded waiver with its reason.
func TestReplayRecordingsAgainstNative(t *testing.T) {
	entries, err := replay.Load(recordings())
	if err != nil {
		t.Fatal(err)
	}
	requireNativeMatches(t, entries, len(entries))
}

// The recorded requests sent to the original PHP server on an empty
// MariaDB, its live answers the reference, then the same requests to
// native: every pair matches or is accepted. This is the recordings'
// promise checked against the real thing today, not against a file.
func TestReplayNativeAgainstTheOriginal(t *testing.T) {
	testenv.RequireLegacyPHP(t)
	ctx := context.Background()
	entries, err := replay.Load(recordings())
	if err != nil {
		t.Fatal(err)
	}
	dsn := testenv.MariaDB(t)
	openEngine(t, dsn) // the schema, for PHP too
	dbc, err := legacy.DBConfigFromDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	php := legacy.StartOriginal(t, dbc, legacy.Options{})
	live := make([]replay.Entry, 0, len(entries))
	err = replay.Run(ctx, entries, php.URL, nil, func(p diff.Pair) {
		e := entries[len(live)]
		e.Response = p.Native // the original's answer, now
		live = append(live, e)
	})
	if err != nil {
		t.Fatal(err)
	}
	requireNativeMatches(t, live, len(entries))
}
