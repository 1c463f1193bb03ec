package routes

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"fmt"
)

// Hash is a short digest of what the table does: the default mode, the
// legacy upstream's settings and every listed route with its mode, canary
// share, fallback, shadow writes and diff rules. Comments, layout, key
// order and the file's path do not change it, so several proxies that
// each read their own copy of routes.yaml can be compared on the admin
// API's GET /routes: one hash, one table.
func (t *Table) Hash() string { return t.hash }

func (t *Table) digest() (string, error) {
	h := sha256.New()
	fmt.Fprintf(h, "default %s\nlegacy %+v\n", t.Default, t.Legacy)
	for _, rt := range t.Routes {
		diff, err := canonicalDiff(rt)
		if err != nil {
			return "", err
		}
		fmt.Fprintf(h, "route %q %s %d %t %t %s\n", rt.Match, rt.Mode, rt.Percent, rt.Fallback, rt.ShadowWrites, diff)
	}
	return hex.EncodeToString(h.Sum(nil))[:16], nil
}

// canonicalDiff is a route's diff: block as JSON (map keys sorted), so
// that its layout does not count.
func canonicalDiff(rt *Route) ([]byte, error) {
	if rt.Diff == nil {
		return nil, nil
	}
	var v any
	if err := rt.Diff.Decode(&v); err != nil {
		return nil, fmt.Errorf("routes: %s: diff block: %w", rt.Match, err)
	}
	b, err := json.Marshal(v)
	if err != nil {
		return nil, fmt.Errorf("routes: %s: diff block: %w", rt.Match, err)
	}
	return b, nil
}
