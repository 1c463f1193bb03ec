//go:build race

package forward

// raceEnabled: sync.Pool drops items at random under the race detector.
const raceEnabled = true
