package shadow_test

import (
	"context"
	"crypto/rand"
	"database/sql"
	"encoding/hex"
	"fmt"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native"
	"github.com/weaveproxy/weaveproxy/native/auth"
	nstore "github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
	"github.com/weaveproxy/weaveproxy/shadow"
)

// The load of TestShadowWritesTakeNoLock: writers per user, users, and
// rounds per writer (a POST of 10 new items and a PUT of a new one).
const (
	lockWriters = 4
	lockUsers   = 2
	lockRounds  = 12
)

// Shadowing writes must not add a single InnoDB lock wait or deadlock to
// what the legacy server's writes see. The original PHP server (8 workers)
// and the native server share one MariaDB database; concurrent writers,
// several per user, send the same kind of load through a proxy in legacy
// mode, then through one in shadow mode. The load is built so that PHP's
// writes alone never wait for each other (every write inserts new ids,
// and concurrent inserts of distinct keys do not conflict), so MariaDB's
// counters must stay at zero in both modes. A dry run that locked what
// PHP writes (the old rolled-back transaction with SELECT ... FOR UPDATE)
// fails this test: its gap locks make PHP's inserts wait and dry runs
// deadlock each other. The run's report must hold no difference that is
// an artefact (a 5xx, a timeout).
func TestShadowWritesTakeNoLock(t *testing.T) {
	be, eng := newOriginalBackend(t)
	// A lock wait that happens anyway ends in seconds, not in 50.
	setLockWaitTimeout(t, be.db, 5)
	var users []string
	for i := range lockUsers {
		users = append(users, addUser(t, eng, fmt.Sprintf("lockuser%d", i)))
	}

	legacyMode := newStack(t, be, stackOptions{routes: "default: legacy\n"})
	before := innodbCounters(t, be.db)
	writeLoad(t, legacyMode.URL, users, "legacy")
	legacyDelta := innodbCounters(t, be.db).minus(before)
	t.Logf("legacy mode: %+v", legacyDelta)
	if legacyDelta != (lockCounters{}) {
		t.Fatalf("PHP's writes alone waited for locks (%+v): the load is meant to make none, the test proves nothing", legacyDelta)
	}

	// Room for every dry run: the test wants each write compared, however
	// slowly a loaded machine runs them.
	shadowMode := newStack(t, be, stackOptions{shadow: shadow.Options{Workers: 2, DryRuns: 1000}})
	before = innodbCounters(t, be.db)
	writeLoad(t, shadowMode.URL, users, "shadow")
	shadowMode.flush(t)
	shadowDelta := innodbCounters(t, be.db).minus(before)
	t.Logf("shadow mode: %+v", shadowDelta)
	if shadowDelta != legacyDelta {
		t.Errorf("shadow mode added lock waits or deadlocks: %+v, legacy mode %+v", shadowDelta, legacyDelta)
	}
	checkDifferences(t, shadowMode)
}

// newOriginalBackend is the original PHP server (php -S, 8 workers) and
// the native server on one fresh MariaDB database; without the original
// it skips t, saying how to provide it.
func newOriginalBackend(t testing.TB) (*backend, *sqlstore.Engine) {
	t.Helper()
	testenv.RequireLegacyPHP(t)
	srv := testenv.MariaDBServer(t)
	dbName := srv.CreateDatabase(t)
	dsn := srv.DSN(dbName)
	eng := openEngine(t, dsn)
	nat, err := native.New(native.Config{Engine: eng})
	if err != nil {
		t.Fatal(err)
	}
	php := testenv.StartLegacyPHPCLI(t, testenv.LegacyPHPConfig{Workers: 8,
		DB: testenv.LegacyDB{Host: srv.Host, Port: srv.Port, Name: dbName}})
	return &backend{dsn: dsn, db: eng.DB(), php: php.PHP, native: nat, eng: eng}, eng
}

// addUser creates an account with newClient's password for it.
func addUser(t testing.TB, eng *sqlstore.Engine, name string) string {
	t.Helper()
	return storetest.AddUser(t, eng, nstore.User{Username: name, MD5: auth.HashPassword("correct horse " + name)}).Username
}

// writeLoad runs the writers through base and fails the test on any
// answer but 200. Every write inserts ids never used before.
func writeLoad(t *testing.T, base string, users []string, tag string) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan string, lockWriters*len(users))
	for w := range lockWriters * len(users) {
		user := users[w%len(users)]
		c := newClient(t, base, user)
		c.http.Timeout = 40 * time.Second
		wg.Go(func() {
			for r := range lockRounds {
				var batch []string
				for i := range 10 {
					batch = append(batch, fmt.Sprintf(`{"id": %q, "payload": "item %d of round %d", "sortindex": %d}`,
						newID(tag), i, r, i))
				}
				for _, req := range []struct{ method, path, body string }{
					{"POST", "/1.0/" + user + "/storage/history", "[" + strings.Join(batch, ",") + "]"},
					{"PUT", "/1.0/" + user + "/storage/forms/" + newID(tag), `{"payload": "one"}`},
				} {
					if a := c.do(req.method, req.path, req.body); a.status != http.StatusOK {
						errs <- fmt.Sprintf("%s %s: %d %.200s", req.method, req.path, a.status, a.body)
						return
					}
				}
			}
		})
	}
	wg.Wait()
	close(errs)
	for e := range errs {
		t.Errorf("%s mode: %s", tag, e)
	}
}

// newID is an id no writer used before, spread over the key space so that
// concurrent writers' ids interleave.
func newID(tag string) string {
	b := make([]byte, 6)
	rand.Read(b)
	return hex.EncodeToString(b) + tag
}

type lockCounters struct {
	Waits, Deadlocks, Timeouts int64
}

func (c lockCounters) minus(o lockCounters) lockCounters {
	return lockCounters{c.Waits - o.Waits, c.Deadlocks - o.Deadlocks, c.Timeouts - o.Timeouts}
}

// innodbCounters reads MariaDB's lock counters (global: the test binary's
// server serves this test alone while it runs).
func innodbCounters(t *testing.T, db *sql.DB) lockCounters {
	t.Helper()
	var c lockCounters
	rows, err := db.Query("SELECT NAME, COUNT FROM information_schema.INNODB_METRICS WHERE NAME IN ('lock_row_lock_waits', 'lock_deadlocks', 'lock_timeouts')")
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	n := 0
	for rows.Next() {
		var name string
		var v int64
		if err := rows.Scan(&name, &v); err != nil {
			t.Fatal(err)
		}
		switch name {
		case "lock_row_lock_waits":
			c.Waits = v
		case "lock_deadlocks":
			c.Deadlocks = v
		case "lock_timeouts":
			c.Timeouts = v
		}
		n++
	}
	if err := rows.Err(); err != nil || n != 3 {
		t.Fatalf("innodb metrics: %d of 3, %v", n, err)
	}
	return c
}

func setLockWaitTimeout(t *testing.T, db *sql.DB, seconds int) {
	t.Helper()
	var old int
	if err := db.QueryRow("SELECT @@GLOBAL.innodb_lock_wait_timeout").Scan(&old); err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf("SET GLOBAL innodb_lock_wait_timeout = %d", seconds)); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Exec(fmt.Sprintf("SET GLOBAL innodb_lock_wait_timeout = %d", old)) })
}

// checkDifferences fails on a real difference in the shadow run's
// report that is an artefact of the machinery: a 5xx or a failed answer
// on either side, or a write whose dry run was not compared.
func checkDifferences(t *testing.T, s *stack) {
	t.Helper()
	ctx := context.Background()
	routes, err := s.st.RouteNames(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var dry int64
	for _, route := range routes {
		sum, err := s.st.Route(ctx, route, store.DefaultGate)
		if err != nil {
			t.Fatal(err)
		}
		dry += sum.DryRun
		if sum.BothFailed > 0 {
			t.Errorf("%s: %d pairs where both sides failed", route, sum.BothFailed)
		}
		fields, err := s.st.Fields(ctx, route)
		if err != nil {
			t.Fatal(err)
		}
		for _, f := range fields {
			if f.Real == 0 {
				continue
			}
			t.Logf("%s: real difference in %s (%d)", route, f.Field, f.Real)
			samples, err := s.st.Samples(ctx, route, f.Field)
			if err != nil {
				t.Fatal(err)
			}
			for _, sm := range samples {
				if l, n := sm.Pair.Legacy.Status, sm.Pair.Native.Status; l >= 500 || n >= 500 || n == 0 {
					t.Errorf("%s: difference %s is an artefact: legacy %d, native %d %.200s", route, f.Field, l, n, sm.Pair.Native.Body)
				}
			}
		}
	}
	if want := int64(lockWriters * lockUsers * lockRounds * 2); dry != want {
		t.Errorf("%d writes compared by dry run, want all %d", dry, want)
	}
	var skipped float64
	mfs, err := s.reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	for _, mf := range mfs {
		if mf.GetName() == "weaveproxy_shadow_skipped_total" || mf.GetName() == "weaveproxy_shadow_dropped_total" {
			for _, m := range mf.GetMetric() {
				skipped += m.GetCounter().GetValue()
				t.Logf("%s %v: %v", mf.GetName(), m.GetLabel(), m.GetCounter().GetValue())
			}
		}
	}
	if skipped > 0 {
		t.Errorf("%v shadowed requests not compared", skipped)
	}
}
