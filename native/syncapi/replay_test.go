package syncapi

import (
	"bufio"
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"testing"

	"weaveproxy/native/auth"
	"weaveproxy/native/store"
)

// testdata/legacy-storage.jsonl holds every /1.0/ pair of
// shared/recordings/legacy-php-sync1.0.jsonl, plus the User API pairs
// whose effect the storage pairs depend on (account creation, password
// change, deletion), which the replay applies through the engine.

// replayPair is one recorded request and answer.
type replayPair struct {
	Seq      int    `json:"seq"`
	Scenario string `json:"scenario"`
	Request  struct {
		Method  string      `json:"method"`
		Path    string      `json:"path"`
		Headers [][2]string `json:"headers"`
		Body    string      `json:"body"`
	} `json:"request"`
	Response struct {
		Status  int         `json:"status"`
		Headers [][2]string `json:"headers"`
		Body    string      `json:"body"`
		BodyB64 []byte      `json:"body_b64"`
	} `json:"response"`
}

func (p *replayPair) header(name string) (string, bool) {
	for _, h := range p.Response.Headers {
		if strings.EqualFold(h[0], name) {
			return h[1], true
		}
	}
	return "", false
}

func (p *replayPair) body() string {
	if p.Response.BodyB64 != nil {
		return string(p.Response.BodyB64)
	}
	return p.Response.Body
}

func loadReplay(t *testing.T) []replayPair {
	t.Helper()
	f, err := os.Open("testdata/legacy-storage.jsonl")
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	sc.Buffer(nil, 4<<20)
	var pairs []replayPair
	for sc.Scan() {
		var p replayPair
		if err := json.Unmarshal(sc.Bytes(), &p); err != nil {
			t.Fatal(err)
		}
		pairs = append(pairs, p)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	slices.SortFunc(pairs, func(a, b replayPair) int { return a.Seq - b.Seq })
	return pairs
}

// TestReplayLegacyRecording replays the storage pairs in seq order on a
// clock set to each pair's recorded X-Weave-Timestamp, and compares
// status, Content-Type, X-Weave-Records, WWW-Authenticate and the body
// with timestamps masked. Pairs where native deliberately answers
// otherwise are in deliberateStorage (replay_expect_test.go) with the
// native answer; a new difference fails the test.
func TestReplayLegacyRecording(t *testing.T) {
	pairs := loadReplay(t)
	forEachEngine(t, func(t *testing.T, kind string) {
		eng := openEngine(t, kind)
		clk := &clock{}
		h := New(Config{Engine: eng, Auth: auth.NewBasic(eng, auth.BasicOptions{}), QuotaKB: 5000, Now: clk.Now})
		storage := 0
		for i := range pairs {
			p := &pairs[i]
			if !strings.HasPrefix(p.Request.Path, "/1.0/") {
				applyUserPair(t, eng, p)
				continue
			}
			storage++
			now := parseTS(t, mustHeader(t, p, "X-Weave-Timestamp"))
			clk.freeze(now.Time())
			got := replayOne(t, h, eng, p, now)
			want := legacyAnswer(p)
			if x, deliberate := deliberateStorage[p.Seq]; deliberate {
				if x.answer() == want {
					t.Errorf("seq %d %s is listed as a deliberate difference but matches legacy", p.Seq, p.Scenario)
				}
				want = x.answer()
			}
			if got != want {
				t.Errorf("seq %d %s %s %s:\n  native %s\n  want   %s\n  legacy %s", p.Seq, p.Scenario,
					p.Request.Method, p.Request.Path, got, want, legacyAnswer(p))
			}
		}
		if storage != 110 || len(deliberateStorage) != 36 {
			t.Errorf("replayed %d storage pairs with %d deliberate differences, want 110 and 36", storage, len(deliberateStorage))
		}
	})
}

func mustHeader(t *testing.T, p *replayPair, name string) string {
	t.Helper()
	v, ok := p.header(name)
	if !ok {
		t.Fatalf("seq %d has no %s", p.Seq, name)
	}
	return v
}

// applyUserPair does through the engine what a recorded User API call
// did, so that the storage pairs after it see the same accounts.
func applyUserPair(t *testing.T, eng store.Engine, p *replayPair) {
	t.Helper()
	ctx := context.Background()
	name := strings.Split(strings.TrimPrefix(p.Request.Path, "/user/1.0/"), "/")[0]
	switch p.Scenario {
	case "user.create", "user.create.no-email", "user.create.unicode-password":
		var body struct{ Password, Email string }
		if err := json.Unmarshal([]byte(p.Request.Body), &body); err != nil {
			t.Fatal(err)
		}
		if _, err := eng.CreateUser(ctx, store.User{Username: name, MD5: auth.HashPassword(body.Password),
			Email: body.Email, Status: 1}); err != nil {
			t.Fatal(err)
		}
	case "user.password.change", "user.delete":
		u, err := eng.UserByName(ctx, name)
		if err != nil {
			t.Fatal(err)
		}
		if p.Scenario == "user.delete" {
			err = eng.DeleteUser(ctx, u.ID)
		} else {
			err = eng.SetPasswordMD5(ctx, u.ID, auth.HashPassword(p.Request.Body))
		}
		if err != nil {
			t.Fatal(err)
		}
	default:
		t.Fatalf("seq %d: unexpected user pair %s", p.Seq, p.Scenario)
	}
}

// replayOne sends p's request and renders the native answer in the
// compared form.
func replayOne(t *testing.T, h *Handler, eng store.Engine, p *replayPair, now store.Timestamp) string {
	t.Helper()
	req, err := http.NewRequestWithContext(context.Background(), p.Request.Method,
		"http://127.0.0.1"+p.Request.Path, strings.NewReader(p.Request.Body))
	if err != nil {
		t.Fatal(err)
	}
	for _, hv := range p.Request.Headers {
		switch http.CanonicalHeaderKey(hv[0]) {
		case "Host", "Accept-Encoding", "Content-Length":
		default:
			req.Header.Add(hv[0], hv[1])
		}
	}
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, req)
	body := rec.Body.String()
	if rec.Header().Get("X-Weave-Timestamp") == "" {
		t.Errorf("seq %d: no X-Weave-Timestamp", p.Seq)
	}
	if p.Request.Method == http.MethodHead {
		body = "" // net/http never sends it
	}
	records := ""
	if strings.Contains(req.URL.Path, "/storage/") {
		records = rec.Header().Get("X-Weave-Records")
	}
	return answer{
		status:  rec.Code,
		ctype:   rec.Header().Get("Content-Type"),
		records: records,
		auth:    rec.Header().Get("WWW-Authenticate"),
		body:    canonicalBody(req.URL, body, nativeKeys(t, eng, req.URL, now)),
	}.String()
}

// legacyAnswer is the recorded answer in the compared form. PHP left
// X-Weave-Records out when it was 0; native always sends it, which the
// compared form treats as the same. Native also sends it on the info
// calls, where PHP never did: it is compared on collection GETs only.
func legacyAnswer(p *replayPair) string {
	ctype, _ := p.header("Content-Type")
	records, _ := p.header("X-Weave-Records")
	if !strings.Contains(p.Request.Path, "/storage/") {
		records = ""
	}
	wwwAuth, _ := p.header("WWW-Authenticate")
	u, _ := url.Parse(p.Request.Path)
	return answer{status: p.Response.Status, ctype: ctype, records: records, auth: wwwAuth,
		body: canonicalBody(u, p.body(), nil)}.String()
}

type answer struct {
	status                     int
	ctype, records, auth, body string
}

func (a answer) String() string {
	if a.records == "0" {
		a.records = ""
	}
	s := strconv.Itoa(a.status) + " " + a.ctype
	if a.records != "" {
		s += " records=" + a.records
	}
	if a.auth != "" {
		s += " auth=" + a.auth
	}
	return s + " " + strconv.Quote(a.body)
}

var (
	timestampRE = regexp.MustCompile(`\b1\d{9}(\.\d{1,2})?\b`)
	// longRunRE finds runs of one character too long to read in a
	// failure message (the 200000-byte payload, the 70-byte ids).
	longRunRE = regexp.MustCompile(`a{33,}|c{33,}|x{33,}|y{33,}|z{33,}`)
)

// canonicalBody masks timestamps, shortens long runs of one character,
// and removes what the database decides: the order of an unsorted list
// (put in id order here; with a limit only the count is kept, since
// which items come first is the database's choice too), and with keys
// (native side) the order within runs of equal sort keys.
func canonicalBody(u *url.URL, body string, keys map[string]float64) string {
	return mask(orderList(u, body, keys))
}

func mask(s string) string {
	s = timestampRE.ReplaceAllString(s, "<ts>")
	return longRunRE.ReplaceAllStringFunc(s, func(run string) string {
		return "<" + run[:1] + "×" + strconv.Itoa(len(run)) + ">"
	})
}

func orderList(u *url.URL, body string, keys map[string]float64) string {
	var elems []json.RawMessage
	if !strings.Contains(u.Path, "/storage/") || json.Unmarshal([]byte(body), &elems) != nil {
		return body
	}
	byID := func(a, b json.RawMessage) int { return strings.Compare(elemID(a), elemID(b)) }
	q := u.Query()
	switch sort := q.Get("sort"); {
	case sort != "index" && sort != "newest" && sort != "oldest":
		if n, err := strconv.Atoi(q.Get("limit")); err == nil && n > 0 {
			return "<" + strconv.Itoa(len(elems)) + " records>"
		}
		slices.SortFunc(elems, byID)
	case keys != nil:
		for i := 0; i < len(elems); {
			j := i + 1
			for j < len(elems) && keys[elemID(elems[j])] == keys[elemID(elems[i])] {
				j++
			}
			slices.SortFunc(elems[i:j], byID)
			i = j
		}
	}
	out := make([]string, len(elems))
	for i, e := range elems {
		out[i] = string(e)
	}
	return "[" + strings.Join(out, ",") + "]"
}

func elemID(raw json.RawMessage) string {
	var id string
	if json.Unmarshal(raw, &id) == nil {
		return id
	}
	var obj struct{ ID string }
	_ = json.Unmarshal(raw, &obj)
	return obj.ID
}

// nativeKeys reads, for a sorted collection GET, each item's sort key
// from the engine, so that runs of equal keys can be put in id order.
func nativeKeys(t *testing.T, eng store.Engine, u *url.URL, now store.Timestamp) map[string]float64 {
	t.Helper()
	sort := u.Query().Get("sort")
	parts := strings.Split(u.Path, "/")
	if len(parts) != 5 || parts[3] != "storage" || (sort != "index" && sort != "newest" && sort != "oldest") {
		return nil
	}
	ctx := context.Background()
	user, err := eng.UserByName(ctx, parts[2])
	if err != nil {
		return nil
	}
	items, err := eng.GetItems(ctx, user.ID, parts[4], store.Query{Now: now})
	if err != nil {
		t.Fatal(err)
	}
	keys := map[string]float64{}
	for _, w := range items {
		switch {
		case sort == "index" && w.SortIndex != nil:
			keys[w.ID] = float64(*w.SortIndex)
		case sort == "index":
			keys[w.ID] = -1e18 // NULL
		case w.Modified != nil:
			keys[w.ID] = float64(*w.Modified)
		}
	}
	return keys
}
