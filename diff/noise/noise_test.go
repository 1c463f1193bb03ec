package noise

import (
	"math"
	"strings"
	"testing"
)

func TestClassify(t *testing.T) {
	p := DefaultParams() // min 20/20, ratio 0.5, absolute 0.01
	tests := []struct {
		name string
		c    Counts
		want Verdict
	}{
		{"nothing differs", Counts{Pairs: 100, NoiseSamples: 100}, Real},
		{"same rate both ways", Counts{100, 100, 100, 100}, Noise},
		{"timestamp-like: always differs, legacy too", Counts{500, 500, 40, 40}, Noise},
		{"noise at exactly half the rate", Counts{100, 40, 100, 20}, Noise},
		{"noise just under half the rate", Counts{100, 40, 100, 19}, Real},
		{"legacy never disagrees with itself", Counts{100, 100, 100, 0}, Real},
		{"no noise samples yet", Counts{100, 100, 0, 0}, Undecided},
		{"few noise samples, none differing", Counts{100, 100, 19, 0}, Undecided},
		{"few noise samples", Counts{100, 50, 19, 10}, Undecided},
		{"few pairs", Counts{19, 10, 100, 50}, Undecided},
		{"enough of both at the minimum", Counts{20, 10, 20, 10}, Noise},
		{"rare field within the absolute threshold", Counts{1000, 10, 1000, 1}, Noise},
		{"rare field beyond the absolute threshold", Counts{1000, 30, 1000, 1}, Real},
		{"noise more often than differences", Counts{100, 10, 100, 60}, Noise},
		{"native far worse than legacy's own jitter", Counts{200, 180, 200, 20}, Real},
	}
	for _, tt := range tests {
		if got := p.Classify(tt.c); got != tt.want {
			t.Errorf("%s: Classify(%+v) = %s, want %s (%s)", tt.name, tt.c, got, tt.want, tt.c.Explain())
		}
	}
}

func TestParamsChangeTheVerdict(t *testing.T) {
	c := Counts{Pairs: 100, Diffs: 60, NoiseSamples: 100, NoiseDiffs: 40}
	strict := Params{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0.9, Absolute: 0}
	loose := Params{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0.5, Absolute: 0}
	if got := strict.Classify(c); got != Real {
		t.Errorf("ratio 0.9: %s", got)
	}
	if got := loose.Classify(c); got != Noise {
		t.Errorf("ratio 0.5: %s", got)
	}
	wide := Params{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0.9, Absolute: 0.25}
	if got := wide.Classify(c); got != Noise {
		t.Errorf("absolute 0.25 covers a 20-point excess: %s", got)
	}
	many := Params{MinPairs: 101, MinNoiseSamples: 1, Ratio: 0.5, Absolute: 0}
	if got := many.Classify(c); got != Undecided {
		t.Errorf("min pairs 101: %s", got)
	}
}

func TestRates(t *testing.T) {
	c := Counts{Pairs: 8, Diffs: 2, NoiseSamples: 4, NoiseDiffs: 1}
	if c.Rate() != 0.25 || c.NoiseRate() != 0.25 {
		t.Errorf("rates %v %v", c.Rate(), c.NoiseRate())
	}
	var zero Counts
	if zero.Rate() != 0 || zero.NoiseRate() != 0 || math.IsNaN(zero.Rate()) {
		t.Error("rates without samples must be 0")
	}
	if e := c.Explain(); !strings.Contains(e, "2/8 (25.0%)") || !strings.Contains(e, "1/4 (25.0%)") {
		t.Errorf("Explain: %s", e)
	}
}

func TestValidate(t *testing.T) {
	if err := DefaultParams().Validate(); err != nil {
		t.Fatal(err)
	}
	bad := []Params{
		{MinPairs: 0, MinNoiseSamples: 1, Ratio: 0.5},
		{MinPairs: 1, MinNoiseSamples: 0, Ratio: 0.5},
		{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0},
		{MinPairs: 1, MinNoiseSamples: 1, Ratio: 1.5},
		{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0.5, Absolute: -0.1},
		{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0.5, Absolute: 1},
	}
	for _, p := range bad {
		if p.Validate() == nil {
			t.Errorf("%+v must be rejected", p)
		}
	}
}

// Monotonicity: more legacy self-disagreement can only move a field
// toward noise, more native disagreement only toward real.
func TestMonotone(t *testing.T) {
	p := Params{MinPairs: 1, MinNoiseSamples: 1, Ratio: 0.5, Absolute: 0.01}
	rank := map[Verdict]int{Real: 0, Undecided: 0, Noise: 1}
	for diffs := int64(1); diffs <= 50; diffs++ {
		prev := -1
		for nd := int64(0); nd <= 50; nd++ {
			v := rank[p.Classify(Counts{50, diffs, 50, nd})]
			if v < prev {
				t.Fatalf("diffs %d: noise %d went back from noise", diffs, nd)
			}
			prev = v
		}
	}
	for nd := int64(1); nd <= 50; nd++ {
		prev := 2
		for diffs := int64(1); diffs <= 50; diffs++ {
			v := rank[p.Classify(Counts{50, diffs, 50, nd})]
			if v > prev {
				t.Fatalf("noise %d: diffs %d went back to noise", nd, diffs)
			}
			prev = v
		}
	}
}
