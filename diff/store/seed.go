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
	ws := []Waiver{
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
	ws = append(ws, userAPIDeliberate(doc)...)
	return append(ws, storageDeliberate(doc)...)
}

// both waives status and body of the requests one decision changes
// wholesale (PHP refused or lacked what native implements).
func both(route, requestMatch, legacyContains, reason string) []Waiver {
	var out []Waiver
	for _, f := range []string{"status", "body"} {
		out = append(out, Waiver{Route: route, Field: f, RequestMatch: requestMatch, LegacyContains: legacyContains, Reason: reason})
	}
	return out
}

// userAPIDeliberate are the User API answers docs/compatibility.md
// records as deliberate ("User API 1.0 wire").
func userAPIDeliberate(doc string) []Waiver {
	ws := []Waiver{
		{Route: "PUT /user/{version}/{user}", Field: "body", LegacyContains: `"`,
			Reason: "deliberate: account creation answers the bare name, PHP the name as a JSON string (Mozilla's test_create_user; Firefox ignores the body)" + doc},
		{Route: "POST /user/{version}/{user}/password", Field: "body", LegacyContains: "1",
			Reason: "deliberate: a password change answers success, PHP 1 (Mozilla's test_change_password)" + doc},
		{Route: "DELETE /user/{version}/{user}", Field: "body", LegacyContains: "success",
			Reason: "deliberate: account deletion answers 1, PHP success plus a stray tab" + doc},
	}
	ws = append(ws, both("GET /user/{version}/{user}/node/weave", "", "No location",
		"deliberate: node/weave of a known user without a stored location answers the server's own node URL (a client's sync target either way), PHP 404 \"No location\""+doc)...)
	return append(ws, both("GET /user/{version}/{user}/password_reset", "", "",
		"deliberate: password_reset is implemented (PY: captcha, user, mailer, address); PHP had none and answered 400 1"+doc)...)
}

// storageDeliberate are the storage answers docs/compatibility.md records
// as deliberate where PHP refused, lacked or broke a documented call.
func storageDeliberate(doc string) []Waiver {
	const coll = "GET /{version}/{user}/storage/{collection}"
	ws := []Waiver{
		{Route: coll, Field: "body", RequestMatch: `[?&]index_(above|below)=`,
			Reason: "deliberate: index_above/index_below filter as PY; PHP bound the wrong value and always answered []" + doc},
		{Route: coll, Field: "body", RequestMatch: `[?&]full=0(&|$)`,
			Reason: "deliberate: full=0 asks for full items (PY: any non-empty value); PHP answered ids" + doc},
		{Route: "POST /{version}/{user}/storage/{collection}", Field: "body.failed", LegacyContains: "unable to extract from json",
			Reason: "deliberate: batch failures carry PY's messages (invalid wbo, invalid id, invalid sortindex), PHP's unable to extract from json" + doc},
	}
	ws = append(ws, both("GET /{version}/{user}/info/collection_usage", `^GET /1\.0/`, "",
		"deliberate: info/collection_usage is implemented on /1.0/ too (PY); PHP answered 400 1"+doc)...)
	ws = append(ws, both("GET /{version}/{user}/{other}", `^[A-Z]+ /1\.0/`, "",
		"deliberate: an unknown function is 404 11; PHP answered an empty 200, indistinguishable from success"+doc)...)
	ws = append(ws, both("GET (other)", `^[A-Z]+ /1\.0/[^?]*//`, "",
		"deliberate: an empty path segment is no route, 404 11; PHP answered an empty 200"+doc)...)
	ws = append(ws, both("*", `[?&](limit|offset|older|newer|index_above|index_below)=[^&]*[^0-9.&-]`, "",
		"deliberate: a non-numeric collection parameter is 400 1 (PY); PHP answered [] or a fatal error page"+doc)...)
	ws = append(ws, both("*", `[?&]limit=-`, "",
		"deliberate: a negative limit means no limit (PY); PHP failed the SQL and answered 503"+doc)...)
	return append(ws, both("DELETE /{version}/{user}/storage", "", "",
		"deliberate: DELETE of all storage works with X-Confirm-Delete (else 400 4) as PY; PHP always refused it with 400 1"+doc)...)
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
