package store_test

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/noise"
	"github.com/weaveproxy/weaveproxy/diff/recorder"
	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

// Save classifies with a per-route analysis it keeps current with its own
// pairs (TestLearnedNoise); pairs another instance stores on the same
// database count within the waiver cache's lifetime, 5 s.
func TestSaveLearnsFromOtherInstances(t *testing.T) {
	dsn := "sqlite:" + filepath.Join(t.TempDir(), "diff.db")
	clk := &clock{Clock: testenv.NewClock(t0)}
	opt := store.Options{Now: clk.Now, NewID: clk.NewID,
		Noise: noise.Params{MinPairs: 4, MinNoiseSamples: 4, Ratio: 0.5, Absolute: 0.01}}
	ctx := context.Background()
	var recs []*recorder.Recorder
	for range 2 {
		st, err := store.Open(ctx, dsn, opt)
		if err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() { st.Close() })
		recs = append(recs, recorder.New(st, nil))
	}
	a, b := &env{rec: recs[0], clk: clk}, &env{rec: recs[1], clk: clk}
	legacy := func(used string) diff.Answer { return answer(200, `[`+used+`,5000]`) }
	a.observe(t, a.pair(quotaRoute, quotaPath, legacy("1"), legacy("9")), diff.Different)
	// The other instance learns that body[0] jitters in legacy itself.
	for _, u := range []string{"2", "3", "4", "5"} {
		p := b.pair(quotaRoute, quotaPath, legacy(u), legacy("9"))
		l2 := legacy(u + "1")
		p.Legacy2 = &l2
		if _, err := b.rec.Observe(ctx, p); err != nil {
			t.Fatal(err)
		}
	}
	clk.Set(t0.Add(6 * time.Second))
	a.observe(t, a.pair(quotaRoute, quotaPath, legacy("6"), legacy("9")), diff.Noise)
}
