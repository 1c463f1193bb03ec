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

// SeedKnownDefects accepts the KnownDefects waivers that are not active
// yet, in the name of by, and returns the ones it added.
func SeedKnownDefects(ctx context.Context, s *Store, by string) ([]Waiver, error) {
	active, err := s.ListWaivers(ctx, false)
	if err != nil {
		return nil, err
	}
	have := map[string]bool{}
	for _, w := range active {
		have[w.Route+"\x00"+w.RequestMatch+"\x00"+w.LegacyContains] = true
	}
	var added []Waiver
	for _, w := range KnownDefects() {
		if have[w.Route+"\x00"+w.RequestMatch+"\x00"+w.LegacyContains] {
			continue
		}
		w.By = by
		got, err := s.Accept(ctx, w)
		if err != nil {
			return added, fmt.Errorf("seed known defects: %w", err)
		}
		added = append(added, got)
	}
	return added, nil
}
