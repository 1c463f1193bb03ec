package storageapi

import (
	"context"
	"encoding/base64"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/cef/ceftest"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// TestCrossUserRefused: valid credentials for another account's path get
// 401 code 5, nothing of the other account is read or written, and one
// CrossUserAccess event is emitted (by the authenticator, not doubled).
func TestCrossUserRefused(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		bobID, bobAuth := e.addUser("bob", "bob password")
		e.user, e.auth = "bob", bobAuth
		e.put("bookmarks/secret", `{"payload":"bob's"}`)
		aliceAuth := basic("alice", "correct horse 1")
		for _, m := range []string{"GET", "PUT", "DELETE"} {
			rec := e.raw(m, "/"+e.version+"/bob/storage/bookmarks/secret", `{"payload":"alice's"}`, "Authorization", aliceAuth)
			if rec.Code != 401 || rec.Body.String() != "5" || rec.Header().Get("Www-Authenticate") != `Basic realm="Weave"` {
				t.Errorf("%s: %d %q", m, rec.Code, rec.Body.String())
			}
		}
		w, err := e.engine.GetItem(context.Background(), bobID, "bookmarks", "secret", store.FromTime(start))
		if err != nil || *w.Payload != "bob's" {
			t.Errorf("bob's item: %v %v", w.Payload, err)
		}
		sigs := e.events.Signatures()
		if n := strings.Count(strings.Join(sigs, " "), "CrossUserAccess"); n != 3 {
			t.Errorf("events %v, want 3 CrossUserAccess", sigs)
		}
	})
}

func basic(user, password string) string {
	return "Basic " + base64.StdEncoding.EncodeToString([]byte(user+":"+password))
}

// TestAlert: users.alert comes back on authenticated answers only.
func TestAlert(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		if _, err := e.engine.DB().ExecContext(context.Background(),
			"UPDATE users SET alert = ? WHERE id = ?", "node moving\r\nsoon", e.userID); err != nil {
			t.Fatal(err)
		}
		for _, rel := range []string{"info/collections", "storage/nope/x", "storage/col?limit=x"} {
			if got := e.do("GET", rel, "").Header().Get("X-Weave-Alert"); got != "node moving  soon" {
				t.Errorf("%s: X-Weave-Alert %q", rel, got)
			}
		}
		if got := e.raw("GET", "/"+e.version+"/alice/info/collections", "").Header().Get("X-Weave-Alert"); got != "" {
			t.Errorf("unauthenticated answer carries the alert %q", got)
		}
	})
}

// TestUnicode: non-ASCII ids, payloads and URL-escaped ids round-trip.
func TestUnicode(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		payload := "ünïcödé ✓ 漢字 😀 \"q\" \\ / \u2028"
		res := e.batch("history", fmt.Sprintf(`[{"id":"ünï","payload":%q},{"id":"a b","payload":"y"}]`, payload))
		if !slices.Equal(res.Success, []string{"ünï", "a b"}) {
			t.Errorf("success %v", res.Success)
		}
		var it map[string]any
		decode(t, e.ok(e.do("GET", "storage/history/%C3%BCn%C3%AF", "")), &it)
		if it["id"] != "ünï" || it["payload"] != payload {
			t.Errorf("item %v", it)
		}
		if body := e.ok(e.do("GET", "storage/history?ids=%C3%BCn%C3%AF", "")); body != `["\u00fcn\u00ef"]` {
			t.Errorf("escaped id list %s", body)
		}
		e.put("history/a%20b", `{"payload":"z"}`)
		decode(t, e.ok(e.do("GET", "storage/history/a%20b", "")), &it)
		if it["payload"] != "z" {
			t.Errorf("a b: %v", it)
		}
		var usage map[string]float64
		decode(t, e.ok(e.do("GET", "info/collection_usage", "")), &usage)
		if want := float64(len(payload)+1) / 1024; usage["history"] != want {
			t.Errorf("usage counts bytes: %v, want %v", usage["history"], want)
		}
	})
}

// TestTimestampsIncrease: writes within one clock tick, and writes after a
// foreign writer stored a later timestamp, still get strictly increasing
// timestamps above everything in the collection.
func TestTimestampsIncrease(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		var last store.Timestamp
		for i := range 5 {
			ts := stamp(t, e.put(fmt.Sprintf("col/%d", i), `{"payload":"x"}`))
			if ts <= last {
				t.Fatalf("write %d at %d, not after %d", i, ts, last)
			}
			last = ts
		}
		// Another server (the legacy one) wrote with a clock ahead of ours.
		ahead := store.FromTime(start) + 5000
		if _, err := e.engine.PutItems(context.Background(), e.userID, "other",
			[]store.WBO{{ID: "x", Payload: ptrTo("p"), Modified: &ahead}}); err != nil {
			t.Fatal(err)
		}
		if ts := stamp(t, e.put("other/y", `{"payload":"x"}`)); ts != ahead+1 {
			t.Errorf("write after a later foreign write: %d, want %d", ts, ahead+1)
		}
		if ts := stamp(t, e.ok(e.do("DELETE", "storage/col/0", ""))); ts <= ahead {
			t.Errorf("delete at %d, before the user's last write %d", ts, ahead+1)
		}
	})
}

func ptrTo[T any](v T) *T { return &v }

func TestIssuedStampsBounded(t *testing.T) {
	s := newIssuedStamps(4)
	for u := range int64(100) {
		s.reserve(u, 10, 0)
	}
	if len(s.cur)+len(s.prev) > 8 {
		t.Errorf("memory grew to %d entries", len(s.cur)+len(s.prev))
	}
	if got := s.reserve(99, 10, 0); got != 11 {
		t.Errorf("recent user forgot its last write: %d", got)
	}
	if got := s.reserve(1, 10, 20); got != 21 {
		t.Errorf("floor ignored: %d", got)
	}
}

// TestBodyTooLarge: a body over MaxBodyBytes is refused with 400 code 8
// and nothing is written.
func TestBodyTooLarge(t *testing.T) {
	forEach(t, func(c *Config) { c.MaxBodyBytes = 1000 }, func(t *testing.T, e *env) {
		rec := e.do("POST", "storage/col", batchBody(20, 100))
		if rec.Code != 400 || rec.Body.String() != "8" {
			t.Errorf("got %d %q", rec.Code, rec.Body.String())
		}
		if got := e.ids("col"); len(got) != 0 {
			t.Errorf("written: %v", got)
		}
	})
}

// TestWithEngineDryRun: a handler bound to a DryRun view answers as usual
// but keeps nothing.
func TestWithEngineDryRun(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		ctx := context.Background()
		err := e.engine.DryRun(ctx, func(view store.Engine) error {
			shadow := e.h.WithEngine(view)
			saved := e.h
			e.h = shadow
			defer func() { e.h = saved }()
			e.put("col/dry", `{"payload":"x"}`)
			if got := e.ids("col"); !slices.Equal(got, []string{"dry"}) {
				return fmt.Errorf("inside the dry run: %v", got)
			}
			return nil
		})
		if err != nil {
			t.Fatal(err)
		}
		if got := e.ids("col"); len(got) != 0 {
			t.Errorf("dry-run write kept: %v", got)
		}
	})
}

// TestEngineDown: an engine that cannot reach its database answers 503
// "Database unavailable" with the backoff headers.
func TestEngineDown(t *testing.T) {
	forEach(t, nil, func(t *testing.T, e *env) {
		_, bob := e.addUser("bob", "bob password")
		if err := e.engine.Close(); err != nil {
			t.Fatal(err)
		}
		// Authentication itself needs the database: the failure is 503,
		// never a 401 that would make a client drop its credentials.
		e.auth = bob
		e.user = "bob"
		rec := e.do("GET", "info/collections", "")
		if rec.Code != 503 || rec.Body.String() != `"Database unavailable"` ||
			rec.Header().Get("Retry-After") != "1800" || rec.Header().Get("X-Weave-Backoff") != "1800" {
			t.Errorf("got %d %q %v", rec.Code, rec.Body.String(), rec.Header())
		}
	})
}

// TestViewsShareTimestamps: copies made for a dry run keep the per-user
// timestamp memory and can swap authenticator and event sink.
func TestViewsShareTimestamps(t *testing.T) {
	e := newEnv(t, storetest.SQLite(), "1.1", func(c *Config) { c.QuotaKB = 1 })
	first := stamp(t, e.put("col/a", `{"payload":"`+strings.Repeat("x", 2000)+`"}`))
	quiet := &ceftest.Recorder{}
	saved := e.h
	e.h = e.h.WithEngine(e.engine).WithEvents(quiet).WithAuth(saved.cfg.Auth)
	if rec := e.do("PUT", "storage/col/b", `{"payload":"x"}`); rec.Code != 400 || rec.Body.String() != "14" {
		t.Fatalf("over quota: %d %q", rec.Code, rec.Body.String())
	}
	if len(quiet.Signatures()) != 1 || slices.Contains(e.events.Signatures(), "OverQuota") {
		t.Errorf("events went to %v / %v", quiet.Signatures(), e.events.Signatures())
	}
	e.h = saved
	if _, err := e.engine.DeleteItems(context.Background(), e.userID, "col", store.Query{}); err != nil {
		t.Fatal(err)
	}
	view := e.h.WithEngine(e.engine)
	e.h = view
	if ts := stamp(t, e.put("col/c", `{"payload":"x"}`)); ts <= first {
		t.Errorf("view issued %d, not after %d", ts, first)
	}
}
