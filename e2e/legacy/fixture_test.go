package legacy_test

import (
	"bufio"
	"crypto/md5"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"maps"
	"math"
	"net"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/bradfitz/gomemcache/memcache"

	"github.com/weaveproxy/weaveproxy/e2e/legacy"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func userID(t testing.TB, f *fixture, name string) int {
	t.Helper()
	var id int
	if err := f.db.QueryRowContext(t.Context(), "SELECT id FROM users WHERE username = ?", name).Scan(&id); err != nil {
		t.Fatalf("user %s: %v", name, err)
	}
	return id
}

// stamp is a PHP timestamp answer in hundredths, as the tables keep it.
func stamp(t testing.TB, body []byte) int64 {
	t.Helper()
	f, err := strconv.ParseFloat(string(body), 64)
	if err != nil {
		t.Fatalf("timestamp body %q: %v", body, err)
	}
	return int64(math.Round(f * 100))
}

// phpMap is PHP's serialize() of a string => number array, in order: an
// int64 value is an integer (i:, as a map rebuilt from SQL holds), a
// float64 a float (d:, as the legacy server's own writes store the
// hundredths it computed by multiplying a float).
func phpMap(kv ...any) string {
	var b strings.Builder
	fmt.Fprintf(&b, "a:%d:{", len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		k := kv[i].(string)
		switch v := kv[i+1].(type) {
		case float64:
			fmt.Fprintf(&b, "s:%d:\"%s\";d:%s;", len(k), k, strconv.FormatFloat(v, 'f', -1, 64))
		default:
			fmt.Fprintf(&b, "s:%d:\"%s\";i:%d;", len(k), k, v)
		}
	}
	return b.String() + "}"
}

// memcacheTTL asks memcached (meta protocol) for the seconds key has left.
func memcacheTTL(t testing.TB, addr, key string) int {
	t.Helper()
	conn, err := net.DialTimeout("tcp", addr, 5*time.Second)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	conn.SetDeadline(time.Now().Add(10 * time.Second))
	fmt.Fprintf(conn, "mg %s t\r\n", key)
	line, err := bufio.NewReader(conn).ReadString('\n')
	if err != nil {
		t.Fatal(err)
	}
	f := strings.Fields(line)
	if len(f) != 2 || f[0] != "HD" || !strings.HasPrefix(f[1], "t") {
		t.Fatalf("mg %s: %q", key, line)
	}
	ttl, err := strconv.Atoi(f[1][1:])
	if err != nil {
		t.Fatalf("mg %s: %q", key, line)
	}
	return ttl
}

// TestMemcacheCollectionMap checks the legacy coll:<userid> map: written
// after PUT and POST in the PHP Memcache extension's format, left alone by
// DELETE, and the source of info/collections and X-If-Unmodified-Since, so
// whoever else writes it (the native side) is believed.
func TestMemcacheCollectionMap(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		mc := testenv.StartMemcached(t)
		f := startFixture(t, srv.Start, legacy.Options{MemcacheAddr: mc.Addr, MemcacheDecay: 120 * time.Second})
		alice := f.createUser(t, "alice", "correct horse 1")
		key := fmt.Sprintf("coll:%d", userID(t, f, "alice"))
		cache := memcache.New(mc.Addr)
		mapIs := func(want string) {
			t.Helper()
			it, err := cache.Get(key)
			if err != nil {
				t.Fatalf("get %s: %v", key, err)
			}
			if string(it.Value) != want || it.Flags != 1 {
				t.Fatalf("%s = %q flags %d, want %q flags 1", key, it.Value, it.Flags, want)
			}
		}

		bm := stamp(t, alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/a", `{"payload":"x"}`).Body)
		mapIs(phpMap("bookmarks", float64(bm)))
		if ttl := memcacheTTL(t, mc.Addr, key); ttl <= 0 || ttl > 120 {
			t.Errorf("%s expires in %d s, want WEAVE_STORAGE_MEMCACHE_DECAY (120)", key, ttl)
		}
		post := alice.mustDo(200, "POST", "/1.0/alice/storage/history", `[{"id":"h","payload":"y"}]`)
		hist := stamp(t, []byte(mustHeader(post, "X-Weave-Timestamp")))
		mapIs(phpMap("bookmarks", float64(bm), "history", float64(hist)))

		// DELETE leaves the map alone: info/collections still shows bookmarks.
		alice.mustDo(200, "DELETE", "/1.0/alice/storage/bookmarks", "")
		mapIs(phpMap("bookmarks", float64(bm), "history", float64(hist)))
		info := alice.mustDo(200, "GET", "/1.0/alice/info/collections", "")
		if want := fmt.Sprintf(`{"bookmarks":%s,"history":%s}`, php2(bm), php2(hist)); string(info.Body) != want {
			t.Errorf("info/collections after DELETE = %s, want %s", info.Body, want)
		}

		// A map written by someone else is what the fixture answers from.
		if err := cache.Set(&memcache.Item{Key: key, Value: []byte(phpMap("forms", 123456, "bookmarks", 999999999900)), Flags: 1}); err != nil {
			t.Fatal(err)
		}
		if info := alice.mustDo(200, "GET", "/1.0/alice/info/collections", ""); string(info.Body) != `{"forms":1234.56,"bookmarks":9999999999}` {
			t.Errorf("info/collections from a foreign map = %s", info.Body)
		}
		unmodified := [2]string{"X-If-Unmodified-Since", strconv.FormatInt(time.Now().Unix()+3600, 10)}
		if w := alice.do("PUT", "/1.0/alice/storage/bookmarks/b", `{"payload":"z"}`, unmodified); w.Status != 412 || string(w.Body) != "4" {
			t.Errorf("PUT with X-If-Unmodified-Since below the map's stamp: %d %q, want 412 4", w.Status, w.Body)
		}

		// Without the key the map is rebuilt from the database and stored.
		if err := cache.Delete(key); err != nil {
			t.Fatal(err)
		}
		if info := alice.mustDo(200, "GET", "/1.0/alice/info/collections", ""); string(info.Body) != fmt.Sprintf(`{"history":%s}`, php2(hist)) {
			t.Errorf("info/collections rebuilt = %s", info.Body)
		}
		mapIs(phpMap("history", hist))

		// memcached down: the legacy server logged it and went on from SQL.
		mc.Stop()
		if info := alice.mustDo(200, "GET", "/1.0/alice/info/collections", ""); string(info.Body) != fmt.Sprintf(`{"history":%s}`, php2(hist)) {
			t.Errorf("info/collections without memcached = %s", info.Body)
		}
		alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/c", `{"payload":"z"}`)
	})
}

// php2 prints hundredths as PHP prints the float.
func php2(h int64) string {
	return strconv.FormatFloat(float64(h)/100, 'f', -1, 64)
}

func TestPlantedStatusIsConfigurable(t *testing.T) {
	f := startFixture(t, legacy.Start, legacy.Options{Plant: []string{legacy.PlantStatusInfoQuota + "=418"}})
	alice := f.createUser(t, "alice", "correct horse 1")
	if w := alice.do("GET", "/1.0/alice/info/quota", ""); w.Status != 418 || string(w.Body) != "[0,5000]" {
		t.Errorf("info/quota: %d %q, want 418 [0,5000]", w.Status, w.Body)
	}
}

// TestAccountColumns covers the users columns the recordings never vary:
// alert, status, location, and a password with ':'.
func TestAccountColumns(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		alice := f.createUser(t, "alice", "correct horse 1")
		set := func(q string, args ...any) {
			t.Helper()
			if _, err := f.db.ExecContext(t.Context(), q, args...); err != nil {
				t.Fatal(err)
			}
		}
		set("UPDATE users SET alert = 'read the news' WHERE username = 'alice'")
		w := alice.mustDo(200, "GET", "/1.0/alice/info/collections", "")
		if v, _ := w.header("X-Weave-Alert"); v != "read the news" {
			t.Errorf("X-Weave-Alert = %q", v)
		}
		if w := (&client{t: t, addr: f.php.Addr}).do("GET", "/1.0/alice/info/collections", ""); w.Status != 401 {
			t.Errorf("no auth: %d", w.Status)
		} else if _, ok := w.header("X-Weave-Alert"); ok {
			t.Error("X-Weave-Alert sent to an unauthenticated request")
		}

		for _, tc := range []struct {
			name, status, location string
			want                   int
		}{
			{"disabled", "0", "", 401},
			{"status 2", "2", "", 401},
			{"other node", "1", "sync.example.com", 401},
			{"this node", "1", f.php.Addr, 200},
		} {
			set("UPDATE users SET status = ?, location = ? WHERE username = 'alice'", tc.status, tc.location)
			w := alice.do("GET", "/1.0/alice/info/collections", "")
			if w.Status != tc.want || (tc.want == 401 && string(w.Body) != `"Authentication failed"`) {
				t.Errorf("%s: %d %q, want %d", tc.name, w.Status, w.Body, tc.want)
			}
		}

		// php -S splits Basic credentials at the first ':', as mod_php did.
		sum := md5.Sum([]byte("pass:word:1"))
		set("UPDATE users SET status = 1, location = '', md5 = ? WHERE username = 'alice'", hex.EncodeToString(sum[:]))
		newClient(t, f.php, "alice", "pass:word:1").mustDo(200, "GET", "/1.0/alice/info/collections", "")
	})
}

func TestCustomCollectionsFrom101(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		alice := f.createUser(t, "alice", "correct horse 1")
		alice.mustDo(200, "PUT", "/1.0/alice/storage/foo/1", `{"payload":"x"}`)
		alice.mustDo(200, "GET", "/1.0/alice/storage/bar", "") // created on any use
		alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/1", `{"payload":"x"}`)
		rows, err := f.db.QueryContext(t.Context(), "SELECT collectionid, name FROM collections WHERE userid = ? ORDER BY collectionid", userID(t, f, "alice"))
		if err != nil {
			t.Fatal(err)
		}
		defer rows.Close()
		var got []string
		for rows.Next() {
			var id int
			var name string
			if err := rows.Scan(&id, &name); err != nil {
				t.Fatal(err)
			}
			got = append(got, fmt.Sprintf("%d=%s", id, name))
		}
		if strings.Join(got, " ") != "101=foo 102=bar" {
			t.Errorf("collections rows: %v, want 101=foo 102=bar", got)
		}
		counts := alice.mustDo(200, "GET", "/1.0/alice/info/collection_counts", "")
		if string(counts.Body) != `{"bookmarks":1,"foo":1}` {
			t.Errorf("info/collection_counts = %s", counts.Body)
		}
	})
}

// TestPutSemantics pins the PHP 5 write paths around the recorded crash.
func TestPutSemantics(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		alice := f.createUser(t, "alice", "correct horse 1")
		get := func(id string) string {
			t.Helper()
			return string(alice.do("GET", "/1.0/alice/storage/bookmarks/"+id, "").Body)
		}
		first := php2(stamp(t, alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/a",
			`{"payload":"x","sortindex":5,"parentid":"p","predecessorid":"q"}`).Body))

		// Without payload: an UPDATE of the existing row only.
		alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/new", `{"sortindex":3}`)
		if got := get("new"); got != `"record not found"` {
			t.Errorf("metadata-only PUT created a row: %s", got)
		}
		if srv.Original {
			// PHP 8 dies in update_object (REC #39): 200, a fatal error
			// page, nothing changed. The stand-in answers as PHP 5 did.
			for _, body := range []string{`{"sortindex":7}`, `{"parentid":"p2"}`} {
				w := alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/a", body)
				if !strings.Contains(string(w.Body), "<b>Fatal error</b>") {
					t.Errorf("metadata-only PUT %s on PHP 8: %q, want the recorded fatal error", body, w.Body)
				}
			}
			if got, want := get("a"), `{"id":"a","parentid":"p","modified":`+first+`,"predecessorid":"q","sortindex":5,"payload":"x"}`; got != want {
				t.Errorf("after crashed updates:\n got %s\nwant %s", got, want)
			}
		} else {
			alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/a", `{"sortindex":7}`)
			if got, want := get("a"), `{"id":"a","parentid":"p","modified":`+first+`,"predecessorid":"q","sortindex":7,"payload":"x"}`; got != want {
				t.Errorf("weight-only update:\n got %s\nwant %s", got, want)
			}
			moved := php2(stamp(t, alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/a", `{"parentid":"p2"}`).Body))
			if got, want := get("a"), `{"id":"a","parentid":"p2","modified":`+moved+`,"predecessorid":"q","sortindex":7,"payload":"x"}`; got != want {
				t.Errorf("parentid update:\n got %s\nwant %s", got, want)
			}
		}

		// With payload: every column rewritten, absent ones NULL; body id wins.
		again := php2(stamp(t, alice.mustDo(200, "PUT", "/1.0/alice/storage/bookmarks/url", `{"id":"a","payload":"y","ttl":5}`).Body))
		if got, want := get("a"), `{"id":"a","modified":`+again+`,"payload":"y"}`; got != want {
			t.Errorf("full PUT:\n got %s\nwant %s", got, want)
		}
		if got := get("url"); got != `"record not found"` {
			t.Errorf("the URL id was stored too: %s", got)
		}
	})
}

// TestDeleteUserLeavesStorage: the legacy server's DELETE of a user
// removes the account only; its storage delete matched no row, so items
// and collections rows stay (native deletes them: docs/compatibility.md).
func TestDeleteUserLeavesStorage(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		alice := f.createUser(t, "alice", "correct horse 1")
		id := userID(t, f, "alice")
		alice.mustDo(200, "PUT", "/1.0/alice/storage/custom/a", `{"payload":"x"}`)
		if w := alice.mustDo(200, "DELETE", "/user/1.0/alice", ""); string(w.Body) != "success\t" {
			t.Errorf("DELETE user body %q", w.Body)
		}
		for q, want := range map[string]int{
			"SELECT COUNT(*) FROM users WHERE id = ?":           0,
			"SELECT COUNT(*) FROM wbo WHERE username = ?":       1,
			"SELECT COUNT(*) FROM collections WHERE userid = ?": 1,
		} {
			var n int
			if err := f.db.QueryRowContext(t.Context(), q, id).Scan(&n); err != nil || n != want {
				t.Errorf("%s: %d rows (%v), want %d", q, n, err, want)
			}
		}
	})
}

// TestDatabaseDown: a legacy server whose MySQL does not answer gives the
// legacy 503, with X-Weave-Backoff on the storage API only.
func TestDatabaseDown(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		port := testenv.FreePort(t) // nothing listens there
		down := legacy.DBConfig{Port: port, Name: "none"}
		var php *testenv.PHP
		if srv.Original {
			// Up first (the starter waits for an answer from the
			// database), then pointed at nothing.
			_, cfg := newDB(t)
			l := legacy.StartOriginal(t, cfg, legacy.Options{})
			cfgDown, err := legacy.OriginalConfig(down, legacy.Options{})
			if err != nil {
				t.Fatal(err)
			}
			if err := l.Reconfigure(cfgDown); err != nil {
				t.Fatal(err)
			}
			php = l.PHP
		} else {
			dir := legacy.Dir()
			php = testenv.StartPHP(t, dir, dir+"/router.php", legacy.Env(down, legacy.Options{}))
		}
		c := newClient(t, php, "alice", "correct horse 1")
		w := c.do("GET", "/1.0/alice/info/collections", "")
		if w.Status != 503 || string(w.Body) != `"Database unavailable"` || mustHeader(w, "X-Weave-Backoff") != "1800" || mustHeader(w, "X-Weave-Timestamp") == "" {
			t.Errorf("storage: %d %q %v", w.Status, w.Body, w.Headers)
		}
		w = c.do("GET", "/user/1.0/alice", "")
		if _, backoff := w.header("X-Weave-Backoff"); w.Status != 503 || string(w.Body) != `"Database unavailable"` || backoff {
			t.Errorf("user API: %d %q %v", w.Status, w.Body, w.Headers)
		}
	})
}

// TestConcurrentClients: several clients at once (PHP workers, one
// database) each read back exactly their own writes.
func TestConcurrentClients(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		f.createUser(t, "alice", "correct horse 1")
		auth := [][2]string{{"Authorization", newClient(t, f.php, "alice", "correct horse 1").auth}}
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for g := range 8 {
			wg.Add(1)
			go func() {
				defer wg.Done()
				for i := range 10 {
					item := fmt.Sprintf("/1.0/alice/storage/tabs/g%d-%d", g, i)
					payload := fmt.Sprintf(`{"payload":"p%d-%d"}`, g, i)
					w, err := send(f.php.Addr, "PUT", item, auth, []byte(payload))
					if err == nil && w.Status != 200 {
						err = fmt.Errorf("PUT %s: %d %q", item, w.Status, w.Body)
					}
					if err == nil {
						w, err = send(f.php.Addr, "GET", item, auth, nil)
					}
					if err == nil && (w.Status != 200 || !strings.Contains(string(w.Body), fmt.Sprintf(`"payload":"p%d-%d"`, g, i))) {
						err = fmt.Errorf("GET %s: %d %q", item, w.Status, w.Body)
					}
					if err != nil {
						errs <- err
						return
					}
				}
			}()
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			t.Error(err)
		}
		counts := newClient(t, f.php, "alice", "correct horse 1").mustDo(200, "GET", "/1.0/alice/info/collection_counts", "")
		if string(counts.Body) != `{"tabs":80}` {
			t.Errorf("info/collection_counts = %s, want {\"tabs\":80}", counts.Body)
		}
	})
}

// TestFailedSliceIsReported: a POST stores its items 100 at a time; when
// one such statement fails, the stand-in reports exactly that slice's
// items as failed (and not as successes). The original PHP marks the items
// still waiting instead ($wbos, not the slice: index.php), so it reports
// items that were stored as failed and lost ones as stored: a legacy
// defect the stand-in does not copy, since shadow results against it
// would then count it as native's difference. A trigger makes the
// database refuse the slice holding an id starting with "fail".
func TestFailedSliceIsReported(t *testing.T) {
	legacy.Each(t, func(t *testing.T, srv legacy.Server) {
		f := startFixture(t, srv.Start, legacy.Options{})
		if _, err := f.db.Exec(`CREATE TRIGGER wbo_planted_failure BEFORE INSERT ON wbo FOR EACH ROW
			BEGIN IF NEW.id LIKE 'fail%' THEN SIGNAL SQLSTATE '45000' SET MESSAGE_TEXT = 'planted failure'; END IF; END`); err != nil {
			t.Fatal(err)
		}
		alice := f.createUser(t, "alice", "correct horse 1")
		var items []string
		var ids []string
		for i := range 150 {
			id := fmt.Sprintf("id%03d", i)
			if i == 20 {
				id = "fail020"
			}
			ids = append(ids, id)
			items = append(items, fmt.Sprintf(`{"id":%q,"payload":"p"}`, id))
		}
		w := alice.mustDo(200, "POST", "/1.0/alice/storage/history", "["+strings.Join(items, ",")+"]")
		var got struct {
			Success []string          `json:"success"`
			Failed  map[string]string `json:"failed"`
		}
		if err := json.Unmarshal(w.Body, &got); err != nil {
			t.Fatalf("%v: %s", err, w.Body)
		}
		stored := alice.mustDo(200, "GET", "/1.0/alice/storage/history", "")
		var storedIDs []string
		if err := json.Unmarshal(stored.Body, &storedIDs); err != nil {
			t.Fatalf("%v: %s", err, stored.Body)
		}
		if !sameSet(storedIDs, ids[100:]) {
			t.Fatalf("stored %s, want the second slice only", stored.Body)
		}
		wantFailed, wantSuccess := ids[:100], ids[100:]
		if srv.Original {
			wantFailed, wantSuccess = ids[100:], ids
		}
		failed := slices.Collect(maps.Keys(got.Failed))
		if !sameSet(failed, wantFailed) || !sameSet(got.Success, wantSuccess) {
			t.Errorf("success %v\nfailed %v\nwant success %v, failed %v", got.Success, failed, wantSuccess, wantFailed)
		}
	})
}

// sameSet reports whether a and b hold the same strings, in any order.
func sameSet(a, b []string) bool {
	return slices.Equal(slices.Sorted(slices.Values(a)), slices.Sorted(slices.Values(b)))
}
