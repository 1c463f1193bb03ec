package shadow_test

import (
	"context"
	"net/http/httptest"
	"path/filepath"
	"testing"

	"weaveproxy/diff/replay"
	"weaveproxy/diff/store"
	"weaveproxy/internal/testfiles"
	"weaveproxy/native"
	"weaveproxy/native/store/sqlstore"
	"weaveproxy/native/userapi"
	"weaveproxy/shadow"
)

// recordings is the legacy PHP server's recorded traffic, the
// repository's own test data.
func recordings() string { return testfiles.Recordings() }

// minReplayMatch guards the replay's match rate against regressions. Most
// of today's differences are deliberate (X-Weave-Records always sent, the
// User API's content types, numeric sortindex, ...; docs/compatibility.md):
// raise it as they get waivers or native closes the others.
const minReplayMatch = 0.38

// The recorded legacy traffic, replayed against the native server on an
// empty database, under the replay rules, with the known legacy defects
// waived.
func TestReplayRecordingsAgainstNative(t *testing.T) {
	ctx := context.Background()
	entries, err := replay.Load(recordings())
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	eng, err := sqlstore.Open(ctx, "sqlite:"+filepath.Join(dir, "weave.db"), sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	// The recorded server showed a 5000 KB quota.
	nat, err := native.New(native.Config{Engine: eng, Registration: userapi.Open, QuotaKB: 5000})
	if err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(nat)
	defer srv.Close()
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(dir, "replay.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := store.SeedKnownDefects(ctx, st, "e2e"); err != nil {
		t.Fatal(err)
	}
	res, err := shadow.Replay(ctx, st, entries, srv.URL, shadow.ReplayOptions{})
	if err != nil {
		t.Fatal(err)
	}
	for _, d := range res.Different {
		t.Log("different:", d)
	}
	t.Logf("replayed %d pairs: %v; match rate %.4f", res.Pairs, res.ByClass, res.MatchRate())
	if res.Pairs != len(entries) {
		t.Fatalf("replayed %d of %d pairs", res.Pairs, len(entries))
	}
	if res.MatchRate() < minReplayMatch {
		t.Fatalf("match rate %.4f below %.2f", res.MatchRate(), minReplayMatch)
	}
}
