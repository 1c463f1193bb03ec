package replay_test

import (
	"context"
	"github.com/weaveproxy/weaveproxy/internal/testfiles"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/replay"
	"github.com/weaveproxy/weaveproxy/diff/rules"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

func TestMain(m *testing.M) { testenv.Main(m) }

func recordings(t *testing.T) []replay.Entry {
	t.Helper()
	es, err := replay.Load(testfiles.Recordings())
	if err != nil {
		t.Fatal(err)
	}
	return es
}

// replayed is what one replay against the PHP fixture came to.
type replayed struct {
	classes map[int]diff.Class
	fields  map[int][]string // seq → finding keys
	st      *store.Store
}

// replayFixture replays the recordings against the legacy PHP fixture (a
// real php -S on a real MariaDB, empty at the start) and records every
// pair with the replay rules and the known legacy defects waived.
func replayFixture(t *testing.T, start legacy.Starter, es []replay.Entry, plant ...string) replayed {
	t.Helper()
	ctx := context.Background()
	dsn := testenv.MariaDB(t)
	eng, err := sqlstore.Open(ctx, "mysql:"+dsn, sqlstore.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer eng.Close()
	if err := eng.Init(ctx); err != nil {
		t.Fatal(err)
	}
	cfg, err := legacy.DBConfigFromDSN(dsn)
	if err != nil {
		t.Fatal(err)
	}
	php := start(t, cfg, legacy.Options{Plant: plant})
	st, err := store.Open(ctx, "sqlite:"+filepath.Join(t.TempDir(), "diff.db"), store.Options{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	if _, err := store.SeedKnownDefects(ctx, st, "test"); err != nil {
		t.Fatal(err)
	}
	replayRules := rules.Default().ForReplay()
	rec := recorder.New(st, func(string) *rules.RuleSet { return replayRules })
	r := replayed{classes: map[int]diff.Class{}, fields: map[int][]string{}, st: st}
	i := 0
	err = replay.Run(ctx, es, php.URL, nil, func(p diff.Pair) {
		seq := es[i].Seq
		i++
		out, err := rec.Observe(ctx, p)
		if err != nil {
			t.Fatalf("seq %d: %v", seq, err)
		}
		r.classes[seq] = out.Class
		r.fields[seq] = out.Result.Keys()
	})
	if err != nil {
		t.Fatalf("%v\n%s", err, php.LogTail())
	}
	return r
}

func (r replayed) seqs(classes ...diff.Class) []int {
	var out []int
	for seq, c := range r.classes {
		for _, want := range classes {
			if c == want {
				out = append(out, seq)
			}
		}
	}
	sort.Ints(out)
	return out
}

// The stand-in answers as the PHP server did, except where the recorded
// PHP 8 server crashed (#19, #39, #84: waived as known legacy defects) and
// where #39's update shows later (#91, #125: item1's sortindex is 99). The
// original crashes where the recording did: the same three are waived,
// nothing differs. Everything else must come out equal under the replay
// rules: timestamps by relation only, transport headers aside.
func TestReplayAgainstLegacyFixture(t *testing.T) {
	es := recordings(t)
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		wantDifferent := []int{91, 125}
		if srv.Original {
			wantDifferent = nil
		}
		r := replayFixture(t, srv.Start, es)
		if d := cmp.Diff([]int{19, 39, 84}, r.seqs(diff.Accepted)); d != "" {
			t.Errorf("accepted pairs (-want +got):\n%s", d)
		}
		if d := cmp.Diff(wantDifferent, r.seqs(diff.Different, diff.Noise)); d != "" {
			t.Errorf("different pairs (-want +got):\n%s", d)
			for _, seq := range r.seqs(diff.Different) {
				t.Logf("#%d %s: %v", seq, es[seq-1].Scenario, r.fields[seq])
			}
		}
		if got := r.fields[125]; !srv.Original && (len(got) != 1 || got[0] != "body[*].sortindex") {
			t.Errorf("#125 differs on item1's sortindex only: %v", got)
		}
		ctx := context.Background()
		routes, err := r.st.Routes(ctx, store.Gate{MinPairs: 1, LastM: 100})
		if err != nil {
			t.Fatal(err)
		}
		var total store.Counts
		for _, rs := range routes {
			total.Pairs += rs.Pairs
			total.Different += rs.Different
			total.Accepted += rs.Accepted
			total.Identical += rs.Identical
		}
		if total.Pairs != 137 || total.Different != int64(len(wantDifferent)) || total.Accepted != 3 {
			t.Errorf("totals %+v", total)
		}
		t.Logf("replay of %d recorded pairs against the %s legacy server: match rate %.1f%% (%d identical, %d accepted, %d different)",
			total.Pairs, srv.Name, 100*float64(total.Pairs-total.Different)/float64(total.Pairs), total.Identical, total.Accepted, total.Different)
	})
}

// Each planted deviation must be found on exactly the pairs it touches.
func TestReplayFindsPlantedDifferences(t *testing.T) {
	es := recordings(t)
	baseline := map[int]bool{91: true, 125: true}
	touched := map[string]func(e replay.Entry) bool{
		legacy.PlantStatusInfoQuota: func(e replay.Entry) bool {
			return e.Request.Method == "GET" && strings.HasSuffix(e.Request.Path, "/info/quota")
		},
		legacy.PlantReverseSortIndex: func(e replay.Entry) bool {
			n, _ := strconv.Atoi(e.Response.Header.Get("X-Weave-Records"))
			return strings.Contains(e.Request.Path, "sort=index") && n > 1
		},
		legacy.PlantDropSortindex: func(e replay.Entry) bool {
			return strings.Contains(string(e.Response.Body), `"sortindex":`)
		},
	}
	wantField := map[string]string{
		legacy.PlantStatusInfoQuota:  "status",
		legacy.PlantReverseSortIndex: "body[*]",
		legacy.PlantDropSortindex:    "sortindex",
	}
	for plant, isTouched := range touched {
		t.Run(plant, func(t *testing.T) {
			r := replayFixture(t, legacy.Start, es, plant)
			var want []int
			for _, e := range es {
				if isTouched(e) || baseline[e.Seq] {
					want = append(want, e.Seq)
				}
			}
			if len(want) <= len(baseline) {
				t.Fatal("the plant touches no recorded pair: the test proves nothing")
			}
			if d := cmp.Diff(want, r.seqs(diff.Different)); d != "" {
				t.Errorf("different pairs (-touched +found):\n%s", d)
			}
			for _, seq := range want {
				if baseline[seq] {
					continue
				}
				if !strings.Contains(strings.Join(r.fields[seq], " "), wantField[plant]) {
					t.Errorf("#%d: fields %v do not name %s", seq, r.fields[seq], wantField[plant])
				}
			}
		})
	}
}
