package store

import (
	"context"
	"fmt"
)

// fatalError marks a PHP fatal-error page in a legacy body.
const fatalError = "<b>Fatal error</b>"

// KnownDefects are the legacy answers the recordings show to be artefacts
// of running 2009 PHP 5 code on PHP 8 (../shared/recordings/README.md):
// a fatal-error page instead of an answer. Native follows the spec there,
// so these pairs differ by design.
func KnownDefects() []Waiver {
	return []Waiver{
		{
			Route:          "*",
			RequestMatch:   `^PUT /[^/?]+/[^/?]+/storage/[^/?]+/[^?]+`,
			LegacyContains: fatalError,
			Reason: "known legacy defect: PHP 8 fatal error (join() TypeError in update_object) " +
				"on a PUT without payload; native follows the spec (storage.md §1.7, §11.15; recording #39)",
		},
		{
			Route:          "*",
			RequestMatch:   `^(GET|DELETE) /[^/?]+/[^/?]+/storage/[^?]+\?(.*&)?(newer|older)=`,
			LegacyContains: fatalError,
			Reason: "known legacy defect: PHP 8 TypeError on a non-numeric newer/older; " +
				"native answers 400 1 (storage.md §2, §11.29; recording #84)",
		},
		{
			Route:          "*",
			RequestMatch:   `^(GET|POST) /misc/1\.0/captcha_html`,
			LegacyContains: fatalError,
			Reason: "known legacy defect: PHP 8 fatal error, the captcha page cannot include its " +
				"constants file; native follows security.md §3 (recording #19)",
		},
	}
}

// DeliberateDifferences are waivers for wire differences that
// docs/compatibility.md records as deliberate: native answers this way on
// purpose, so QA should see them counted apart, with the reason, and not
// as findings. They are narrow (one field, and a request pattern where the
// field could also differ for a real reason) so that a real difference on
// the same route still shows.
func DeliberateDifferences() []Waiver {
	const doc = " (docs/compatibility.md)"
	userAPI := `^[A-Z]+ /user/`
	return []Waiver{
		{Route: "*", Field: "header.x-weave-records",
			Reason: "deliberate: native sends X-Weave-Records on every collection GET and on info/collections and info/collection_counts, as PY did; PHP only on non-empty collection GETs" + doc},
		{Route: "*", Field: "header.content-type", RequestMatch: userAPI,
			Reason: "deliberate: the User API answers text/plain or application/json, never PHP's text/html, because it echoes user text" + doc},
		{Route: "*", Field: "header.x-content-type-options", RequestMatch: userAPI,
			Reason: "deliberate: the User API sends X-Content-Type-Options: nosniff with its answers" + doc},
		{Route: "*", Field: "header.www-authenticate", RequestMatch: userAPI,
			Reason: "deliberate: User API 401s carry WWW-Authenticate (RFC 7235), as storage 401s always did" + doc},
		{Route: "GET /{version}/{user}/info/quota", Field: "body[0]",
			Reason: "deliberate: info/quota reports used KB as an exact float (PY), not PHP's rounded integer" + doc},
	}
}

// SeedKnownDefects accepts the KnownDefects waivers that are not active
// yet, in the name of by, and returns the ones it added.
func SeedKnownDefects(ctx context.Context, s *Store, by string) ([]Waiver, error) {
	return seed(ctx, s, by, KnownDefects())
}

// SeedDeliberate accepts the DeliberateDifferences waivers that are not
// active yet, in the name of by, and returns the ones it added.
func SeedDeliberate(ctx context.Context, s *Store, by string) ([]Waiver, error) {
	return seed(ctx, s, by, DeliberateDifferences())
}

func seed(ctx context.Context, s *Store, by string, ws []Waiver) ([]Waiver, error) {
	active, err := s.ListWaivers(ctx, false)
	if err != nil {
		return nil, err
	}
	key := func(w Waiver) string {
		return w.Route + "\x00" + w.Field + "\x00" + w.RequestMatch + "\x00" + w.LegacyContains
	}
	have := map[string]bool{}
	for _, w := range active {
		have[key(w)] = true
	}
	var added []Waiver
	for _, w := range ws {
		if have[key(w)] {
			continue
		}
		w.By = by
		got, err := s.Accept(ctx, w)
		if err != nil {
			return added, fmt.Errorf("seed waivers: %w", err)
		}
		added = append(added, got)
	}
	return added, nil
}
