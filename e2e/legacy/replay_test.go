package legacy_test

import (
	"bufio"
	"bytes"
	"encoding/base64"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/internal/testfiles"
)

// recording is one request/response pair of testdata/recordings.
type recording struct {
	Seq      int    `json:"seq"`
	Scenario string `json:"scenario"`
	Request  struct {
		Method  string      `json:"method"`
		Path    string      `json:"path"`
		Headers [][2]string `json:"headers"`
		Body    *string     `json:"body"`
		BodyB64 *string     `json:"body_b64"`
	} `json:"request"`
	Response struct {
		Status  int         `json:"status"`
		Headers [][2]string `json:"headers"`
		Body    *string     `json:"body"`
		BodyB64 *string     `json:"body_b64"`
	} `json:"response"`
}

func decodeBody(text, b64 *string) ([]byte, error) {
	switch {
	case b64 != nil:
		return base64.StdEncoding.DecodeString(*b64)
	case text != nil:
		return []byte(*text), nil
	}
	return nil, nil
}

func (r *recording) want() wire {
	body, _ := decodeBody(r.Response.Body, r.Response.BodyB64)
	return wire{Status: r.Response.Status, Headers: r.Response.Headers, Body: body}
}

// recordingsPath is the repository's copy of the recordings, unless
// WEAVE_RECORDINGS names another file.
func recordingsPath() string {
	if p := os.Getenv("WEAVE_RECORDINGS"); p != "" {
		return p
	}
	return testfiles.Recordings()
}

func loadRecordings(t *testing.T) []*recording {
	t.Helper()
	f, err := os.Open(recordingsPath())
	if err != nil {
		t.Fatalf("recordings: %v (set WEAVE_RECORDINGS to the JSONL file)", err)
	}
	defer f.Close()
	var recs []*recording
	sc := bufio.NewScanner(f)
	sc.Buffer(make([]byte, 1<<20), 8<<20)
	for sc.Scan() {
		r := new(recording)
		if err := json.Unmarshal(sc.Bytes(), r); err != nil {
			t.Fatalf("recordings line %d: %v", len(recs)+1, err)
		}
		if _, err := decodeBody(r.Request.Body, r.Request.BodyB64); err != nil {
			t.Fatalf("recording #%d: request body: %v", r.Seq, err)
		}
		recs = append(recs, r)
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	sort.SliceStable(recs, func(i, j int) bool { return recs[i].Seq < recs[j].Seq })
	if len(recs) != 137 {
		t.Fatalf("%d recordings, want 137", len(recs))
	}
	return recs
}

// deviation is an answer the fixture gives on purpose instead of the
// recorded one: want rewrites the recorded answer into the expected one.
type deviation struct {
	reason string
	want   func(w *wire, recs map[int]*recording)
	// unordered compares JSON objects without regard to key order.
	unordered bool
}

// knownLegacyDefects are the pairs where the recorded PHP 8 server died with
// a fatal error page: artefacts of running 2009 code on PHP 8, not legacy
// behaviour. The fixture answers as the PHP 5 code did.
var knownLegacyDefects = map[int]deviation{
	19: {reason: "PHP 8 fatal error: captcha.php could not include weave_misc_constants.php; the fixture has no captcha and answers 404",
		want: func(w *wire, _ map[int]*recording) {
			*w = wire{Status: 404, Headers: [][2]string{{"Content-type", "text/html; charset=UTF-8"}}}
		}},
	39: {reason: "PHP 8 fatal error: join() with PHP 5 argument order in the metadata-only UPDATE; PHP 5 updated sortindex and echoed the server time",
		want: func(w *wire, _ map[int]*recording) {
			ts, _ := w.header("X-Weave-Timestamp")
			w.Body = []byte(ts)
		}},
	84: {reason: "PHP 8 TypeError on 'abc' * 100; PHP 5 computed 0, so newer was not applied: the whole collection, as in #63",
		want: func(w *wire, recs map[int]*recording) { *w = recs[63].want() }},
}

// consequencesOf39 are later pairs that see the update #39 made: item1's
// sortindex is 99, not the 5 the crashed PHP 8 server left.
var consequencesOf39 = map[int]deviation{
	91:  {reason: "#39 updated item1's sortindex to 99", want: sortindex99},
	125: {reason: "#39 updated item1's sortindex to 99", want: sortindex99},
}

func sortindex99(w *wire, _ map[int]*recording) {
	w.Body = []byte(strings.Replace(string(w.Body), `"id":"item1","modified":1795895500.46,"sortindex":5`,
		`"id":"item1","modified":1795895500.46,"sortindex":99`, 1))
}

// memcacheInfo: with memcache the legacy server answers info/collections
// from coll:<userid>, built in write order and never updated on DELETE, so
// the tabs stamp outlives DELETE storage/tabs (#115).
func memcacheInfo(keepTabs bool) deviation {
	return deviation{reason: "info/collections from the memcache map (write order, untouched by DELETE)", unordered: true,
		want: func(w *wire, recs map[int]*recording) {
			if keepTabs {
				w.Body = []byte(strings.TrimSuffix(string(w.Body), "}") + `,"tabs":1795895500.67}`)
			}
		}}
}

func merge(ms ...map[int]deviation) map[int]deviation {
	out := map[int]deviation{}
	for _, m := range ms {
		for k, v := range m {
			out[k] = v
		}
	}
	return out
}

// TestReplayRecordings replays all 137 recorded pairs in order against a
// legacy server on an empty database and compares status, headers (server
// spelling and order; transport noise aside) and bodies, timestamps by
// relation: every timestamp in an answer must be the X-Weave-Timestamp of a
// request that carried the same recorded timestamp. The original must
// answer exactly as recorded; the stand-in answers as PHP 5 did where the
// recorded PHP 8 crashed.
func TestReplayRecordings(t *testing.T) {
	recs := loadRecordings(t)
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		devs := standInOnly(srv, merge(knownLegacyDefects, consequencesOf39))
		requireAllMatch(t, f.php, recs, replay(t, f.php, recs, devs, installOf(srv)), devs)
	})
}

func TestReplayRecordingsWithMemcache(t *testing.T) {
	recs := loadRecordings(t)
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		mc := testenv.StartMemcached(t)
		f := startFixture(t, srv.Start, legacy.Options{MemcacheAddr: mc.Addr})
		devs := merge(standInOnly(srv, merge(knownLegacyDefects, consequencesOf39)), map[int]deviation{
			104: memcacheInfo(false), 117: memcacheInfo(true), 120: memcacheInfo(true), 128: memcacheInfo(true),
		})
		requireAllMatch(t, f.php, recs, replay(t, f.php, recs, devs, installOf(srv)), devs)
	})
}

// standInOnly is devs for the stand-in and none for the original, which
// crashes where the recorded server crashed.
func standInOnly(srv legacy.Server, devs map[int]deviation) map[int]deviation {
	if srv.Original {
		return nil
	}
	return devs
}

// TestReplayFindsPlants replays the recordings against a fixture with one
// planted deviation each: exactly the pairs that deviation touches must
// fail, which shows both the plant and the comparison work.
func TestReplayFindsPlants(t *testing.T) {
	recs := loadRecordings(t)
	devs := merge(knownLegacyDefects, consequencesOf39)
	bySeq := map[int]*recording{}
	for _, r := range recs {
		bySeq[r.Seq] = r
	}
	touched := map[string]func(r *recording, want wire) bool{
		legacy.PlantStatusInfoQuota: func(r *recording, _ wire) bool {
			return r.Request.Method == "GET" && strings.HasSuffix(r.Request.Path, "/info/quota")
		},
		legacy.PlantDropSortindex: func(_ *recording, want wire) bool {
			return strings.Contains(string(want.Body), `"sortindex":`)
		},
		legacy.PlantReverseSortIndex: func(r *recording, want wire) bool {
			n, _ := strconv.Atoi(mustHeader(want, "X-Weave-Records"))
			return strings.Contains(r.Request.Path, "sort=index") && n > 1
		},
	}
	for plant, isTouched := range touched {
		t.Run(plant, func(t *testing.T) {
			f := startFixture(t, legacy.Start, legacy.Options{Plant: []string{plant}})
			failed := replay(t, f.php, recs, devs, "")
			var want, got []int
			for _, r := range recs {
				w := r.want()
				if d, ok := devs[r.Seq]; ok {
					d.want(&w, bySeq)
				}
				if isTouched(r, w) {
					want = append(want, r.Seq)
				}
				if _, ok := failed[r.Seq]; ok {
					got = append(got, r.Seq)
				}
			}
			if len(want) == 0 {
				t.Fatal("no recorded pair is touched by the plant: the test proves nothing")
			}
			if d := cmp.Diff(want, got); d != "" {
				t.Errorf("pairs that failed (-touched by %s +failed):\n%s", plant, d)
				for _, seq := range got {
					t.Log(failed[seq])
				}
			}
		})
	}
}

// noiseHeaders are transport headers of php -S (README: not behaviour).
var noiseHeaders = map[string]bool{"host": true, "date": true, "connection": true, "x-powered-by": true}

// stampRE finds PHP-printed timestamps: ten digits, up to two decimals.
var stampRE = regexp.MustCompile(`\b1\d{9}(?:\.\d{1,2})?\b`)

// phpStamp is how PHP prints a hundredth-rounded float: no trailing zeros.
var phpStamp = regexp.MustCompile(`^1\d{9}(?:\.\d?[1-9])?$`)

func hundredths(s string) int64 {
	f, _ := strconv.ParseFloat(s, 64)
	return int64(math.Round(f * 100))
}

// replayer holds the timestamp relation between recording and replay.
type replayer struct {
	t       *testing.T
	stamps  map[int64]map[int64]bool // recorded header stamp -> replayed ones
	prevRec int64                    // last recorded X-Weave-Timestamp
	prevGot int64                    // and its replayed value
}

// replay runs recs in order and returns the problems of every pair that
// did not match, by seq. install is the original PHP server's folder,
// written as the recorded one in its answers ("" for the stand-in).
func replay(t *testing.T, php *testenv.PHP, recs []*recording, devs map[int]deviation, install string) map[int]string {
	bySeq := map[int]*recording{}
	for _, r := range recs {
		bySeq[r.Seq] = r
	}
	rp := &replayer{t: t, stamps: map[int64]map[int64]bool{}}
	failed := map[int]string{}
	for _, r := range recs {
		want := r.want()
		dev, deviates := devs[r.Seq]
		if deviates {
			dev.want(&want, bySeq)
		}
		rp.pace(want)
		body, _ := decodeBody(r.Request.Body, r.Request.BodyB64)
		var headers [][2]string
		for _, h := range r.Request.Headers {
			if n := strings.ToLower(h[0]); n != "host" && n != "content-length" {
				headers = append(headers, h)
			}
		}
		if body == nil && (r.Request.Method == "PUT" || r.Request.Method == "POST") {
			body = []byte{}
		}
		got := roundTrip(t, php.Addr, r.Request.Method, r.Request.Path, headers, body)
		got.Body = asRecordedInstall(got.Body, install)
		if problems := rp.compare(r, want, got, dev.unordered); len(problems) > 0 {
			failed[r.Seq] = fmt.Sprintf("#%d %s (%s %s)%s:\n  %s", r.Seq, r.Scenario, r.Request.Method, r.Request.Path,
				deviationNote(dev, deviates), strings.Join(problems, "\n  "))
		}
	}
	return failed
}

// installOf is the folder srv runs from, as its fatal error pages show
// it: the original's (symbolic links resolved), "" for the stand-in,
// whose pages name none.
func installOf(srv legacy.Server) string {
	if !srv.Original {
		return ""
	}
	dir, err := filepath.Abs(testenv.LegacyPHPDir())
	if err != nil {
		return ""
	}
	if real, err := filepath.EvalSymlinks(dir); err == nil {
		dir = real
	}
	return dir
}

// asRecordedInstall writes install, the original PHP server's folder, as
// /srv/weave, where the recorded server was installed
// (../shared/legacy-php/README.md).
func asRecordedInstall(body []byte, install string) []byte {
	if install == "" {
		return body
	}
	return bytes.ReplaceAll(body, []byte(install+"/"), []byte("/srv/weave/"))
}

// requireAllMatch fails t for every pair that did not match.
func requireAllMatch(t *testing.T, php *testenv.PHP, recs []*recording, failed map[int]string, devs map[int]deviation) {
	t.Helper()
	for _, r := range recs {
		if msg, ok := failed[r.Seq]; ok {
			t.Error(msg)
		}
	}
	t.Logf("%d of %d pairs matched; %d of them by a declared deviation", len(recs)-len(failed), len(recs), len(devs))
	if len(failed) > 0 {
		t.Log(php.LogTail())
	}
}

func deviationNote(d deviation, ok bool) string {
	if !ok {
		return ""
	}
	return " [expected deviation: " + d.reason + "]"
}

// pace keeps the order of recorded timestamps: a request the recording
// shows in a later hundredth of a second than the previous one is sent
// only once the server's rounded clock has moved past the previous answer.
func (rp *replayer) pace(want wire) {
	ts, ok := want.header("X-Weave-Timestamp")
	if !ok || rp.prevGot == 0 || hundredths(ts) <= rp.prevRec {
		return
	}
	// round(now, 2) exceeds prev once now >= prev + 0.005 s.
	next := time.UnixMilli(rp.prevGot*10 + 6)
	time.Sleep(time.Until(next))
}

func (rp *replayer) compare(r *recording, want, got wire, unordered bool) []string {
	var problems []string
	if got.Status != want.Status {
		problems = append(problems, fmt.Sprintf("status %d, want %d", got.Status, want.Status))
	}
	wantH, _ := rp.headers(want, false)
	gotH, gotTS := rp.headers(got, true)
	if d := cmp.Diff(wantH, gotH); d != "" {
		problems = append(problems, "headers (-want +got):\n"+d)
	}
	if wantTS, ok := want.header("X-Weave-Timestamp"); ok && gotTS != "" {
		if p := rp.relateHeader(hundredths(wantTS), hundredths(gotTS)); p != "" {
			problems = append(problems, p)
		}
	}
	wantB, wantStamps, err1 := normalize(want, unordered)
	gotB, gotStamps, err2 := normalize(got, unordered)
	switch {
	case err1 != nil || err2 != nil:
		problems = append(problems, fmt.Sprintf("body framing: want %v, got %v", err1, err2))
	case wantB != gotB:
		problems = append(problems, fmt.Sprintf("body:\n    want %.600q\n    got  %.600q", wantB, gotB))
	default:
		for i, ws := range wantStamps {
			if !phpStamp.MatchString(gotStamps[i]) {
				problems = append(problems, fmt.Sprintf("body timestamp %q is not PHP's float format", gotStamps[i]))
			} else if !rp.stamps[hundredths(ws)][hundredths(gotStamps[i])] {
				problems = append(problems, fmt.Sprintf("body timestamp %s (recorded %s) is no X-Weave-Timestamp of a request recorded at %s",
					gotStamps[i], ws, ws))
			}
		}
	}
	// A write answers with its own X-Weave-Timestamp, byte for byte.
	if strings.HasPrefix(r.Request.Path, "/1.0/") && got.Status == 200 && string(want.Body) == mustHeader(want, "X-Weave-Timestamp") &&
		string(got.Body) != gotTS {
		problems = append(problems, fmt.Sprintf("body %q is not the X-Weave-Timestamp %q", got.Body, gotTS))
	}
	return problems
}

func mustHeader(w wire, name string) string {
	v, _ := w.header(name)
	return v
}

// headers drops transport noise and masks X-Weave-Timestamp, whose value is
// checked for PHP's format and returned.
func (rp *replayer) headers(w wire, replayed bool) ([]string, string) {
	var out []string
	ts := ""
	for _, h := range w.Headers {
		if noiseHeaders[strings.ToLower(h[0])] {
			continue
		}
		v := h[1]
		if h[0] == "X-Weave-Timestamp" {
			ts, v = v, "<php float>"
			if !phpStamp.MatchString(ts) {
				v = "<not a PHP float: " + ts + ">"
			}
		}
		out = append(out, h[0]+": "+v)
	}
	return out, ts
}

// relateHeader records the replayed stamp of a recorded one and checks the
// order: same or later recorded time, same or later replayed time, and a
// later recorded hundredth gives a later replayed one.
func (rp *replayer) relateHeader(rec, got int64) string {
	if rp.stamps[rec] == nil {
		rp.stamps[rec] = map[int64]bool{}
	}
	rp.stamps[rec][got] = true
	prevRec, prevGot := rp.prevRec, rp.prevGot
	rp.prevRec, rp.prevGot = rec, got
	if prevGot == 0 {
		return ""
	}
	if got < prevGot || (rec > prevRec && got <= prevGot) {
		return fmt.Sprintf("X-Weave-Timestamp %d after %d (recorded %d after %d): order not kept", got, prevGot, rec, prevRec)
	}
	return ""
}

// normalize turns a body into comparable text with its timestamps masked
// (returned in order). whoisi bodies are split on their length prefixes,
// which must be right; unordered JSON objects are sorted by key.
func normalize(w wire, unordered bool) (string, []string, error) {
	body := w.Body
	if ct, _ := w.header("Content-type"); ct == "application/whoisi" {
		var records []string
		for len(body) > 0 {
			if len(body) < 4 || int(binary.BigEndian.Uint32(body)) > len(body)-4 {
				return "", nil, fmt.Errorf("bad whoisi frame at %q", body)
			}
			n := binary.BigEndian.Uint32(body)
			records = append(records, string(body[4:4+n]))
			body = body[4+n:]
		}
		body = []byte(strings.Join(records, "\n<whoisi frame>\n"))
	}
	if unordered {
		var m map[string]json.RawMessage
		if err := json.Unmarshal(body, &m); err != nil {
			return "", nil, err
		}
		keys := make([]string, 0, len(m))
		for k := range m {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		var b strings.Builder
		for _, k := range keys {
			fmt.Fprintf(&b, "%s=%s;", k, m[k])
		}
		body = []byte(b.String())
	}
	stamps := stampRE.FindAllString(string(body), -1)
	return stampRE.ReplaceAllString(string(body), "<ts>"), stamps, nil
}
