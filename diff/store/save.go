package store

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"sort"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/redact"
	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
)

// Observation is one compared pair, ready to be stored.
type Observation struct {
	Pair diff.Pair
	// Result compares Pair.Legacy with Pair.Native.
	Result diff.Result
	// NoiseKeys are the keys that differed between Pair.Legacy and
	// *Pair.Legacy2; ignored when Pair.Legacy2 is nil.
	NoiseKeys []string
}

// base is the part of a pair's class that needs no learning.
const (
	baseIdentical = "identical"
	baseEqual     = "equal_after_rules"
	baseFindings  = "findings"
	baseFailed    = "both_failed"
)

// entry is one field of a pair shape; waiver names the waiver whose
// predicate (legacy body, request) matched that field of that pair.
type entry struct {
	key    string
	waiver string
}

func encodeShape(es []entry) string {
	parts := make([]string, len(es))
	for i, e := range es {
		parts[i] = e.key
		if e.waiver != "" {
			parts[i] += "\t" + e.waiver
		}
	}
	return strings.Join(parts, "\n")
}

func decodeShape(s string) []entry {
	if s == "" {
		return nil
	}
	lines := strings.Split(s, "\n")
	es := make([]entry, len(lines))
	for i, l := range lines {
		k, w, _ := strings.Cut(l, "\t")
		es[i] = entry{key: k, waiver: w}
	}
	return es
}

func shapeHash(shape string) string {
	sum := sha256.Sum256([]byte(shape))
	return hex.EncodeToString(sum[:8])
}

// Save records an observation, secrets redacted first, and returns the
// pair's class given everything learned and waived so far.
func (s *Store) Save(ctx context.Context, o Observation) (diff.Class, error) {
	p := redact.Pair(o.Pair)
	if p.At.IsZero() {
		p.At = s.opt.Now()
	}
	route := keyText(p.Route)
	base := baseFor(o.Result.Class)
	waivers, err := s.activeWaivers(ctx)
	if err != nil {
		return "", err
	}
	var es []entry
	if base == baseFindings {
		es = tagEntries(route, p, o.Result.Keys(), waivers)
	}
	shape := encodeShape(es)
	hash := ""
	if base == baseFindings {
		hash = shapeHash(shape)
	}
	findings := redact.Findings(o.Result.Findings)
	noise := noiseFields(p, o.NoiseKeys)
	err = s.inTx(ctx, func(tx *sql.Tx) error {
		if err := s.write(ctx, tx, route, p, base, shape, hash, findings, noise); err != nil {
			return err
		}
		return s.countRules(ctx, tx, route, o.Result.Rules)
	})
	if err != nil {
		return "", fmt.Errorf("diff store: save: %w", err)
	}
	s.noteSaved(route, hash, es, noise)
	if err := s.maybeTrim(ctx, route); err != nil {
		return "", err
	}
	switch base {
	case baseIdentical:
		return diff.Identical, nil
	case baseEqual:
		return diff.EqualAfterRules, nil
	case baseFailed:
		return diff.BothFailed, nil
	}
	return s.classOf(ctx, route, hash)
}

// noiseFields are the diff_noise rows a pair adds to: "" counting the
// legacy-vs-legacy samples, and each field that differed in its own; none
// without a second legacy answer.
func noiseFields(p diff.Pair, noiseKeys []string) []string {
	if p.Legacy2 == nil {
		return nil
	}
	seen := map[string]bool{"": true}
	fields := []string{""}
	for _, k := range noiseKeys {
		if k = keyText(k); !seen[k] {
			seen[k] = true
			fields = append(fields, k)
		}
	}
	return fields
}

func baseFor(c diff.Class) string {
	switch c {
	case diff.Identical:
		return baseIdentical
	case diff.EqualAfterRules:
		return baseEqual
	case diff.BothFailed:
		return baseFailed
	}
	return baseFindings
}

// tagEntries builds a pair's shape, marking the fields a predicate waiver
// (one that looks at the pair's content) accepts. Such waivers cannot be
// applied later from counts alone, so they are applied now.
func tagEntries(route string, p diff.Pair, keys []string, ws []Waiver) []entry {
	es := make([]entry, len(keys))
	for i, k := range keys {
		es[i] = entry{key: keyText(k)}
	}
	for _, w := range ws {
		if !w.predicate() || !w.routeMatches(route) || !w.contentMatches(p) {
			continue
		}
		if len(w.Shape) > 0 && strings.Join(w.Shape, "\n") != strings.Join(keys, "\n") {
			continue
		}
		for i := range es {
			if es[i].waiver == "" && w.fieldMatches(es[i].key) {
				es[i].waiver = w.ID
			}
		}
	}
	return es
}

func (s *Store) write(ctx context.Context, tx *sql.Tx, route string, p diff.Pair, base, shape, hash string,
	findings []diff.Finding, noise []string) error {
	at := p.At.UnixNano()
	bucket := p.At.Unix() - mod(p.At.Unix(), int64(s.opt.BucketSize/time.Second))
	dry := boolInt(p.DryRun)
	if hash != "" {
		if _, err := exec(ctx, tx, s.stmts.shapes, route, hash, shape); err != nil {
			return err
		}
	}
	if _, err := exec(ctx, tx, s.stmts.counts, route, bucket, base, hash, dry); err != nil {
		return err
	}
	id := s.opt.NewID()
	if _, err := exec(ctx, tx, s.stmts.pairs, route, at, id, base, hash, dry); err != nil {
		return err
	}
	if base != baseFailed {
		user, req := pairKeys(p)
		if _, err := exec(ctx, tx, s.stmts.pairKeys, route, at, id, user, req); err != nil {
			return err
		}
	}
	for _, f := range noise {
		if _, err := exec(ctx, tx, s.stmts.noise, route, f); err != nil {
			return err
		}
	}
	if len(findings) > 0 {
		return s.sample(ctx, tx, route, p, findings)
	}
	return nil
}

// pairKeys are a pair's user (its normalised key) and request (method,
// target and body), hashed: the gate counts how many distinct ones its
// evidence comes from, and names need not be kept for that.
func pairKeys(p diff.Pair) (user, request string) {
	u := weaveurl.Classify(p.Request.Method, pathOnly(p.Request.Path)).UserKey
	h := sha256.New()
	h.Write([]byte(p.Request.Method + " " + p.Request.Path + "\x00"))
	h.Write(p.Request.Body)
	return shapeHash(u), hex.EncodeToString(h.Sum(nil)[:8])
}

// pathOnly drops the query of a request target.
func pathOnly(target string) string {
	path, _, _ := strings.Cut(target, "?")
	return path
}

// countRules counts which rules made pairs of route equal.
func (s *Store) countRules(ctx context.Context, tx *sql.Tx, route string, rules []string) error {
	for _, r := range rules {
		if _, err := exec(ctx, tx, s.stmts.rules, route, keyText(r)); err != nil {
			return err
		}
	}
	return nil
}

func mod(a, b int64) int64 {
	if b <= 0 {
		return 0
	}
	return ((a % b) + b) % b
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

// maxSampledFields bounds the fields one pair is kept as a sample for.
const maxSampledFields = 32

// sample keeps the pair as a sample of each of its fields that has fewer
// than SamplesPerField samples, or whose newest is older than SampleEvery;
// the oldest samples beyond the bound go.
func (s *Store) sample(ctx context.Context, tx *sql.Tx, route string, p diff.Pair, findings []diff.Finding) error {
	keys := map[string]bool{}
	var need []string
	at := p.At.UnixNano()
	for _, f := range findings {
		k := keyText(f.Key)
		if keys[k] || len(keys) >= maxSampledFields {
			continue
		}
		keys[k] = true
		var n int64
		var newest sql.NullInt64
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*), MAX(at_ns) FROM diff_sample_refs WHERE route = ? AND field = ?",
			route, k).Scan(&n, &newest); err != nil {
			return err
		}
		if n < int64(s.opt.SamplesPerField) || at-newest.Int64 >= int64(s.opt.SampleEvery) {
			need = append(need, k)
		}
	}
	if len(need) == 0 {
		return nil
	}
	sort.Strings(need)
	pairJSON, err := json.Marshal(storePair(p, s.opt.MaxBodyBytes))
	if err != nil {
		return err
	}
	findJSON, err := json.Marshal(findings)
	if err != nil {
		return err
	}
	id := s.opt.NewID()
	if _, err := tx.ExecContext(ctx, "INSERT INTO diff_samples (id, route, at_ns, dry_run, pair, findings) VALUES (?, ?, ?, ?, ?, ?)",
		id, route, at, boolInt(p.DryRun), string(pairJSON), string(findJSON)); err != nil {
		return err
	}
	for _, k := range need {
		if _, err := tx.ExecContext(ctx, "INSERT INTO diff_sample_refs (route, field, at_ns, sample_id) VALUES (?, ?, ?, ?)",
			route, k, at, id); err != nil {
			return err
		}
		if err := s.pruneSamples(ctx, tx, route, k); err != nil {
			return err
		}
	}
	return nil
}

func (s *Store) pruneSamples(ctx context.Context, tx *sql.Tx, route, field string) error {
	rows, err := tx.QueryContext(ctx, "SELECT sample_id FROM diff_sample_refs WHERE route = ? AND field = ? "+
		"ORDER BY at_ns DESC, sample_id DESC LIMIT 100 OFFSET ?", route, field, s.opt.SamplesPerField)
	if err != nil {
		return err
	}
	var old []string
	for rows.Next() {
		var id string
		if err := rows.Scan(&id); err != nil {
			rows.Close()
			return err
		}
		old = append(old, id)
	}
	rows.Close()
	if err := rows.Err(); err != nil {
		return err
	}
	for _, id := range old {
		if _, err := tx.ExecContext(ctx, "DELETE FROM diff_sample_refs WHERE route = ? AND field = ? AND sample_id = ?",
			route, field, id); err != nil {
			return err
		}
		var left int
		if err := tx.QueryRowContext(ctx, "SELECT COUNT(*) FROM diff_sample_refs WHERE sample_id = ?", id).Scan(&left); err != nil {
			return err
		}
		if left == 0 {
			if _, err := tx.ExecContext(ctx, "DELETE FROM diff_samples WHERE id = ?", id); err != nil {
				return err
			}
		}
	}
	return nil
}

// trimEvery: the pair log of a route is trimmed once per this many saves.
const trimEvery = 200

func (s *Store) maybeTrim(ctx context.Context, route string) error {
	s.mu.Lock()
	s.saves[route]++
	due := s.saves[route]%trimEvery == 1
	s.mu.Unlock()
	if !due {
		return nil
	}
	var cutoff sql.NullInt64
	err := s.db.QueryRowContext(ctx, "SELECT at_ns FROM diff_pairs WHERE route = ? ORDER BY at_ns DESC LIMIT 1 OFFSET ?",
		route, s.opt.KeepPairs).Scan(&cutoff)
	if err == sql.ErrNoRows || !cutoff.Valid {
		return nil
	}
	if err != nil {
		return fmt.Errorf("diff store: trim: %w", err)
	}
	for _, table := range []string{"diff_pairs", "diff_pair_keys"} {
		if _, err := s.db.ExecContext(ctx, "DELETE FROM "+table+" WHERE route = ? AND at_ns <= ?", route, cutoff.Int64); err != nil {
			return fmt.Errorf("diff store: trim: %w", err)
		}
	}
	return nil
}
