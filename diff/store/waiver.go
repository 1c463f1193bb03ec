package store

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"regexp"
	"sort"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/diff"
	"github.com/weaveproxy/weaveproxy/diff/path"
)

// Waiver accepts a finding: QA decided native may differ there.
//
// It names a route ("*" for every route) and what it accepts: a field
// (a key pattern such as body.failed or header.x-weave-records; wildcards
// allowed), or a whole pair shape (exactly this set of differing fields).
// It may also be limited to pairs whose legacy body contains a text or
// whose request ("METHOD target") matches a regular expression: known
// legacy defects, such as PHP fatal-error pages, are accepted that way.
// Such content-limited waivers apply to pairs stored after they were
// made; the others apply to everything, past pairs included.
type Waiver struct {
	ID    string   `json:"id"`
	Route string   `json:"route"`
	Field string   `json:"field,omitempty"`
	Shape []string `json:"shape,omitempty"`
	// LegacyContains limits the waiver to pairs whose legacy body
	// contains this text.
	LegacyContains string `json:"legacy_contains,omitempty"`
	// RequestMatch limits the waiver to requests whose "METHOD target"
	// matches this regular expression.
	RequestMatch string    `json:"request_match,omitempty"`
	Reason       string    `json:"reason"`
	By           string    `json:"by"`
	Created      time.Time `json:"created"`
	Revoked      time.Time `json:"revoked,omitzero"`
	RevokedBy    string    `json:"revoked_by,omitempty"`
}

// ErrNoWaiver is returned by Revoke for an unknown or revoked id.
var ErrNoWaiver = errors.New("diff store: no such active waiver")

// Waiver kinds, for reports: where an acceptance comes from.
const (
	KindDeliberate   = "deliberate"          // docs/compatibility.md records it (SeedDeliberate)
	KindLegacyDefect = "known legacy defect" // a PHP 8 artefact of the recordings (SeedKnownDefects)
	KindQA           = "accepted by QA"
)

// Kind labels the waiver by where it comes from; the seeded ones say so
// at the start of their reason.
func (w Waiver) Kind() string {
	switch {
	case strings.HasPrefix(w.Reason, "deliberate:"):
		return KindDeliberate
	case strings.HasPrefix(w.Reason, "known legacy defect:"):
		return KindLegacyDefect
	}
	return KindQA
}

func (w Waiver) predicate() bool { return w.LegacyContains != "" || w.RequestMatch != "" }

func (w Waiver) routeMatches(route string) bool { return w.Route == "*" || w.Route == route }

// fieldMatches: a waiver without a field accepts every field it applies to.
func (w Waiver) fieldMatches(key string) bool {
	if w.Field == "" {
		return true
	}
	pt, err := path.Compile(w.Field)
	return err == nil && pt.MatchPrefix(key)
}

func (w Waiver) contentMatches(p diff.Pair) bool {
	if w.LegacyContains != "" && !bytes.Contains(p.Legacy.Body, []byte(w.LegacyContains)) {
		return false
	}
	if w.RequestMatch != "" {
		re, err := regexp.Compile(w.RequestMatch)
		if err != nil || !re.MatchString(p.Request.Method+" "+p.Request.Path) {
			return false
		}
	}
	return true
}

// Validate checks a waiver before it is stored.
func (w Waiver) Validate() error {
	switch {
	case strings.TrimSpace(w.Route) == "":
		return errors.New("waiver: route is required (\"*\" for every route)")
	case strings.TrimSpace(w.Reason) == "":
		return errors.New("waiver: a reason is required")
	case strings.TrimSpace(w.By) == "":
		return errors.New("waiver: who accepts it is required")
	case w.Field != "" && len(w.Shape) > 0:
		return errors.New("waiver: name a field or a pair shape, not both")
	case w.Field == "" && len(w.Shape) == 0 && !w.predicate():
		return errors.New("waiver: name a field, a pair shape, or limit it by legacy body or request")
	}
	if w.Field != "" {
		if _, err := path.Compile(w.Field); err != nil {
			return fmt.Errorf("waiver: field: %w", err)
		}
	}
	if w.RequestMatch != "" {
		if _, err := regexp.Compile(w.RequestMatch); err != nil {
			return fmt.Errorf("waiver: request_match: %w", err)
		}
	}
	return nil
}

// Accept stores a waiver and returns it with its id and time.
func (s *Store) Accept(ctx context.Context, w Waiver) (Waiver, error) {
	if err := w.Validate(); err != nil {
		return Waiver{}, err
	}
	w.ID = s.opt.NewID()
	w.Route = keyText(w.Route)
	w.Created = s.opt.Now().UTC()
	w.Revoked, w.RevokedBy = time.Time{}, ""
	shape := append([]string(nil), w.Shape...)
	sort.Strings(shape)
	w.Shape = shape
	_, err := s.db.ExecContext(ctx, `INSERT INTO diff_waivers (id, route, field, shape, legacy_contains,
		request_match, reason, by_who, created_ns, revoked_ns, revoked_by) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, 0, '')`,
		w.ID, w.Route, keyText(w.Field), strings.Join(shape, "\n"), w.LegacyContains, w.RequestMatch,
		w.Reason, keyText(w.By), w.Created.UnixNano())
	if err != nil {
		return Waiver{}, fmt.Errorf("diff store: accept: %w", err)
	}
	s.forgetWaivers()
	return w, nil
}

// Revoke ends a waiver; it stays listed (with who revoked it) for the
// record.
func (s *Store) Revoke(ctx context.Context, id, by string) error {
	if strings.TrimSpace(by) == "" {
		return errors.New("waiver: who revokes it is required")
	}
	res, err := s.db.ExecContext(ctx, "UPDATE diff_waivers SET revoked_ns = ?, revoked_by = ? WHERE id = ? AND revoked_ns = 0",
		s.opt.Now().UnixNano(), keyText(by), id)
	if err != nil {
		return fmt.Errorf("diff store: revoke: %w", err)
	}
	if n, _ := res.RowsAffected(); n == 0 {
		return fmt.Errorf("%w: %s", ErrNoWaiver, id)
	}
	s.forgetWaivers()
	return nil
}

// ListWaivers returns the waivers, oldest first; revoked ones only when
// asked.
func (s *Store) ListWaivers(ctx context.Context, includeRevoked bool) ([]Waiver, error) {
	q := `SELECT id, route, field, shape, legacy_contains, request_match, reason, by_who,
		created_ns, revoked_ns, revoked_by FROM diff_waivers`
	if !includeRevoked {
		q += " WHERE revoked_ns = 0"
	}
	rows, err := s.db.QueryContext(ctx, q+" ORDER BY created_ns, id")
	if err != nil {
		return nil, fmt.Errorf("diff store: waivers: %w", err)
	}
	defer rows.Close()
	var out []Waiver
	for rows.Next() {
		var w Waiver
		var shape string
		var created, revoked int64
		if err := rows.Scan(&w.ID, &w.Route, &w.Field, &shape, &w.LegacyContains, &w.RequestMatch,
			&w.Reason, &w.By, &created, &revoked, &w.RevokedBy); err != nil {
			return nil, fmt.Errorf("diff store: waivers: %w", err)
		}
		if shape != "" {
			w.Shape = strings.Split(shape, "\n")
		}
		w.Created = time.Unix(0, created).UTC()
		if revoked != 0 {
			w.Revoked = time.Unix(0, revoked).UTC()
		}
		out = append(out, w)
	}
	return out, rows.Err()
}

// waiverTTL: Save reads waivers from this cache; another instance's new
// waiver reaches this one within it.
const waiverTTL = 5 * time.Second

func (s *Store) activeWaivers(ctx context.Context) ([]Waiver, error) {
	s.mu.Lock()
	if !s.loaded.IsZero() && s.opt.Now().Sub(s.loaded) < waiverTTL {
		ws := s.waivers
		s.mu.Unlock()
		return ws, nil
	}
	s.mu.Unlock()
	ws, err := s.ListWaivers(ctx, false)
	if err != nil {
		return nil, err
	}
	s.mu.Lock()
	s.waivers, s.loaded = ws, s.opt.Now()
	s.mu.Unlock()
	return ws, nil
}

func (s *Store) forgetWaivers() {
	s.mu.Lock()
	s.loaded = time.Time{}
	s.mu.Unlock()
	s.forgetClasses()
}
