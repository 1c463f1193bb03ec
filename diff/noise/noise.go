// Package noise decides, as Diffy does, whether a field that differs
// between legacy and native is a finding or noise.
//
// Some reads are sent to legacy twice. A field that differs between the two
// legacy answers (legacy-vs-legacy) about as often as it differs between
// legacy and native (legacy-vs-native) says nothing about native: it is
// noise. A field that differs legacy-vs-native clearly more often than
// legacy-vs-legacy is a real difference. Too few samples decide nothing.
package noise

import "fmt"

// Counts are one field's observations on one route.
type Counts struct {
	Pairs        int64 // legacy-vs-native comparisons on the route
	Diffs        int64 // ... in which this field differed
	NoiseSamples int64 // legacy-vs-legacy comparisons on the route
	NoiseDiffs   int64 // ... in which this field differed
}

// Rate is the legacy-vs-native difference rate, 0 without pairs.
func (c Counts) Rate() float64 { return rate(c.Diffs, c.Pairs) }

// NoiseRate is the legacy-vs-legacy difference rate, 0 without samples.
func (c Counts) NoiseRate() float64 { return rate(c.NoiseDiffs, c.NoiseSamples) }

func rate(n, of int64) float64 {
	if of <= 0 {
		return 0
	}
	return float64(n) / float64(of)
}

// Params are the thresholds.
type Params struct {
	// MinPairs and MinNoiseSamples: below either, nothing is decided.
	MinPairs        int64
	MinNoiseSamples int64
	// Ratio: the field is noise when its noise rate is at least Ratio
	// times its difference rate (0.5: legacy disagrees with itself at
	// least half as often as with native).
	Ratio float64
	// Absolute: the field is also noise when its difference rate exceeds
	// its noise rate by at most this much (0.01 = one percentage point),
	// which keeps rare fields with some self-disagreement quiet.
	Absolute float64
}

// DefaultParams are the thresholds used unless configured.
func DefaultParams() Params {
	return Params{MinPairs: 20, MinNoiseSamples: 20, Ratio: 0.5, Absolute: 0.01}
}

// Validate rejects thresholds that cannot mean anything.
func (p Params) Validate() error {
	switch {
	case p.MinPairs < 1 || p.MinNoiseSamples < 1:
		return fmt.Errorf("noise: minimum sample counts must be at least 1 (got %d, %d)", p.MinPairs, p.MinNoiseSamples)
	case p.Ratio <= 0 || p.Ratio > 1:
		return fmt.Errorf("noise: ratio %v must be in (0, 1]", p.Ratio)
	case p.Absolute < 0 || p.Absolute >= 1:
		return fmt.Errorf("noise: absolute threshold %v must be in [0, 1)", p.Absolute)
	}
	return nil
}

// Verdict is the decision on one field.
type Verdict string

const (
	// Real: native differs from legacy more than legacy from itself.
	Real Verdict = "real"
	// Noise: legacy differs from itself about as often.
	Noise Verdict = "noise"
	// Undecided: too few samples; callers treat it as real, never hide it.
	Undecided Verdict = "undecided"
)

// Classify decides one field.
func (p Params) Classify(c Counts) Verdict {
	if c.Diffs == 0 {
		return Real // nothing differs: nothing to excuse
	}
	if c.NoiseDiffs == 0 {
		// Legacy never disagreed with itself here. With enough samples
		// that is evidence the field is stable; with few it is none, but
		// either way nothing can be excused as noise.
		if c.NoiseSamples < p.MinNoiseSamples {
			return Undecided
		}
		return Real
	}
	if c.Pairs < p.MinPairs || c.NoiseSamples < p.MinNoiseSamples {
		return Undecided
	}
	r, n := c.Rate(), c.NoiseRate()
	if n >= p.Ratio*r || r-n <= p.Absolute {
		return Noise
	}
	return Real
}

// Explain renders the rates behind a verdict for reports.
func (c Counts) Explain() string {
	return fmt.Sprintf("legacy-vs-native %d/%d (%.1f%%), legacy-vs-legacy %d/%d (%.1f%%)",
		c.Diffs, c.Pairs, 100*c.Rate(), c.NoiseDiffs, c.NoiseSamples, 100*c.NoiseRate())
}
