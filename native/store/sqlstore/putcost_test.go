package sqlstore

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// BenchmarkPutCost measures what MariaDB spends on a POST of 100 WBOs of
// 300 bytes (the bench tool's post workloads: ids from a range of 10,000
// that all exist, so updates), against the physical floor: the legacy PHP
// server's one multi-row INSERT … ON DUPLICATE KEY UPDATE of the same rows
// on the same schema, issued from Go with no PHP around it. It runs its own
// server (performance_schema on) and reports mariadb-ms/op, MariaDB's CPU
// time per operation from /proc, besides the wall time; -v logs the
// statements of one native POST with their server time:
//
//	go test -run '^$' -bench PutCost -benchtime 300x -v ./native/store/sqlstore/
func BenchmarkPutCost(b *testing.B) {
	if testing.Short() {
		b.Skip("starts its own MariaDB")
	}
	srv, err := testenv.StartMariaDB("--performance-schema=1", "--innodb-buffer-pool-size=256M",
		"--performance-schema-consumer-events-statements-history=OFF")
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(srv.Stop)
	if f := os.Getenv("PUTCOST_PIDFILE"); f != "" {
		os.WriteFile(f, []byte(strconv.Itoa(srv.Pid())), 0o644) // for perf record -p
	}
	ctx := context.Background()
	if err := srv.Exec(ctx, "CREATE DATABASE weave"); err != nil {
		b.Fatal(err)
	}
	e := openEngine(b, "mysql:"+srv.DSN("weave"), Config{})
	const users, rows = 2, 10_000
	payload := strings.Repeat("x", 300)
	for u := int64(1); u <= users; u++ {
		var items []store.WBO
		for i := range rows {
			w := wbo(fmt.Sprintf("w%05d", i), payload, 100_000+int64(i))
			w.SortIndex = ptr(int64(i % 1000))
			items = append(items, w)
		}
		for i := 0; i < rows; i += 1000 {
			mustPut(b, e, u, "history", items[i:i+1000]...)
		}
	}
	if _, err := e.DB().ExecContext(ctx, "ANALYZE TABLE wbo"); err != nil {
		b.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	stamp := int64(1_000_000)
	batch := func() []store.WBO {
		start := rng.IntN(rows - 100)
		out := make([]store.WBO, 100)
		for i := range out {
			p := randomText(rng, 300)
			stamp++
			out[i] = store.WBO{ID: fmt.Sprintf("w%05d", start+i), Payload: &p, PayloadSize: 300,
				SortIndex: ptr(int64(rng.IntN(1000))), Modified: ts(stamp)}
		}
		return out
	}
	// MariaDB's purge thread removes the old row versions an update left
	// behind after the fact: waiting for it before and after the loop
	// charges each case its own purge.
	measure := func(b *testing.B, op func(items []store.WBO) error) {
		waitPurge(b, e.DB())
		cpu0 := procCPU(b, srv.Pid())
		for b.Loop() {
			if err := op(batch()); err != nil {
				b.Fatal(err)
			}
		}
		waitPurge(b, e.DB())
		b.ReportMetric(float64(procCPU(b, srv.Pid())-cpu0)/float64(time.Millisecond)/float64(b.N), "mariadb-ms/op")
	}
	// What PHP runs (weave_storage.php store_object): every column set
	// from the new row, one statement, autocommitted.
	b.Run("php-upsert", func(b *testing.B) {
		measure(b, func(items []store.WBO) error { return phpUpsert(ctx, e.DB(), nil, 1, 4, items) })
	})
	// The same with the rows sent as a server-side prepared statement's
	// binary parameters (no 30 KB of SQL text to parse), and as an UPDATE
	// joined to the rows (no failed insert first): neither is much
	// cheaper; the row writes are the cost.
	b.Run("php-upsert-prepared", func(b *testing.B) {
		stmts := map[string]*sql.Stmt{}
		defer func() {
			for _, st := range stmts {
				st.Close()
			}
		}()
		measure(b, func(items []store.WBO) error { return phpUpsert(ctx, e.DB(), stmts, 1, 4, items) })
	})
	b.Run("update-join", func(b *testing.B) {
		measure(b, func(items []store.WBO) error { return updateJoin(ctx, e.DB(), 1, 4, items) })
	})
	// The upsert native runs, alone in a transaction.
	b.Run("native-upsert", func(b *testing.B) {
		measure(b, func(items []store.WBO) error {
			return e.withTx(ctx, func(tx querier) error { return e.upsert(ctx, tx, storageKey{int64(1)}, 4, items, false) })
		})
	})
	// Everything a native POST asks the database for: the precondition's
	// maximum, the quota check, then the sequenced write.
	post := func(e *Engine, items []store.WBO) error {
		if _, _, err := e.CollectionMax(ctx, 2, "history"); err != nil {
			return err
		}
		if _, err := e.TotalSize(ctx, 2, store.Timestamp(stamp)); err != nil {
			return err
		}
		return e.Sequenced(ctx, 2, store.Timestamp(stamp), func(at store.Timestamp, s store.Engine) error {
			_, err := s.PutItems(ctx, 2, "history", items)
			return err
		})
	}
	nativePost := func(items []store.WBO) error { return post(e, items) }
	b.Run("native-post", func(b *testing.B) {
		resetDigests(b, e.DB())
		measure(b, nativePost)
		logDigests(b, e.DB())
	})
	// PHP's upsert and the native POST taking turns, 25 operations at a
	// time (run it 1000x or more), purge included: what the machine does
	// meanwhile falls on both alike, so the ratio is steadier than that of
	// two runs.
	php := func(items []store.WBO) error { return phpUpsert(ctx, e.DB(), nil, 1, 4, items) }
	turns := func(b *testing.B, names [2]string, ops [2]func([]store.WBO) error) {
		var cpu [2]time.Duration
		var count [2]int
		n := 0
		for b.Loop() {
			if n%25 == 0 {
				waitPurge(b, e.DB())
			}
			which := n / 25 % 2
			cpu0 := procCPU(b, srv.Pid())
			if err := ops[which](batch()); err != nil {
				b.Fatal(err)
			}
			if n%25 == 24 {
				waitPurge(b, e.DB())
			}
			cpu[which] += procCPU(b, srv.Pid()) - cpu0
			count[which]++
			n++
		}
		for i, name := range names {
			b.ReportMetric(float64(cpu[i])/float64(time.Millisecond)/float64(max(count[i], 1)), name+"-mariadb-ms/op")
		}
	}
	b.Run("turns", func(b *testing.B) { turns(b, [2]string{"php", "native"}, [2]func([]store.WBO) error{php, nativePost}) })
	// The same statement sent as text and prepared.
	b.Run("turns-prepared", func(b *testing.B) {
		stmts := map[string]*sql.Stmt{}
		prepared := func(items []store.WBO) error { return phpUpsert(ctx, e.DB(), stmts, 1, 4, items) }
		turns(b, [2]string{"text", "prepared"}, [2]func([]store.WBO) error{php, prepared})
	})
	// The native POST with its upsert prepared (Init did) and as text.
	b.Run("turns-native-prepared", func(b *testing.B) {
		text := *e
		text.wstmts = newStmtCache(e.db) // empty: every upsert as text
		turns(b, [2]string{"text", "prepared"}, [2]func([]store.WBO) error{
			func(items []store.WBO) error { return post(&text, items) }, nativePost})
	})
}

// phpUpsert is the legacy server's store_object statement; with stmts it
// is a server-side prepared statement, kept there, else its arguments are
// interpolated into the text as the engine's are.
func phpUpsert(ctx context.Context, db *sql.DB, stmts map[string]*sql.Stmt, user int64, cid int, items []store.WBO) error {
	args := make([]any, 0, 9*len(items))
	for _, it := range items {
		args = append(args, user, it.ID, cid, nullable(it.ParentID), nullable(it.PredecessorID),
			nullable(it.SortIndex), nullableTS(it.Modified), nullable(it.Payload), len(*it.Payload))
	}
	q := "insert into wbo (username, id, collection, parentid, predecessorid, sortindex," +
		" modified, payload, payload_size) values " +
		strings.TrimSuffix(strings.Repeat("(?, ?, ?, ?, ?, ?, ?, ?, ?),", len(items)), ",") +
		" on duplicate key update parentid = values(parentid), predecessorid = values(predecessorid)," +
		" sortindex = values(sortindex), modified = values(modified), payload = values(payload)," +
		" payload_size = values(payload_size)"
	if stmts == nil {
		_, err := db.ExecContext(ctx, q, args...)
		return err
	}
	st := stmts[q]
	if st == nil {
		var err error
		if st, err = db.PrepareContext(ctx, q); err != nil {
			return err
		}
		stmts[q] = st
	}
	_, err := st.ExecContext(ctx, args...)
	return err
}

func randomText(rng *rand.Rand, n int) string {
	const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
	b := make([]byte, n)
	for i := range b {
		b[i] = alphabet[rng.IntN(len(alphabet))]
	}
	return string(b)
}

// procCPU is the user and system CPU time process pid has used.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Fatal(err)
	}
	// Fields after the command name, which is in parentheses.
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+2:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * (time.Second / 100) // USER_HZ
}

func resetDigests(b *testing.B, db *sql.DB) {
	if _, err := db.Exec("TRUNCATE performance_schema.events_statements_summary_by_digest"); err != nil {
		b.Fatal(err)
	}
}

// logDigests logs the statements run since resetDigests, with their count
// and mean server time (performance_schema timers are in picoseconds).
func logDigests(b *testing.B, db *sql.DB) {
	rows, err := db.Query("SELECT COUNT_STAR, SUM_TIMER_WAIT/COUNT_STAR/1e6, SUM_ROWS_EXAMINED/COUNT_STAR," +
		" SUM_LOCK_TIME/COUNT_STAR/1e6, LEFT(DIGEST_TEXT, 160) FROM performance_schema.events_statements_summary_by_digest" +
		" WHERE SCHEMA_NAME = 'weave' ORDER BY SUM_TIMER_WAIT DESC")
	if err != nil {
		b.Fatal(err)
	}
	defer rows.Close()
	for rows.Next() {
		var n int64
		var us, examined, lock float64
		var text sql.NullString
		if err := rows.Scan(&n, &us, &examined, &lock, &text); err != nil {
			b.Fatal(err)
		}
		b.Logf("%6d× %8.1f µs  %6.0f rows examined  %6.1f µs lock  %s", n, us, examined, lock, text.String)
	}
}

// updateJoin updates existing rows from a derived table of the new values.
func updateJoin(ctx context.Context, db *sql.DB, user int64, cid int, items []store.WBO) error {
	var b strings.Builder
	args := make([]any, 0, 5*len(items)+2)
	b.WriteString("UPDATE wbo w JOIN (")
	for i, it := range items {
		if i > 0 {
			b.WriteString(" UNION ALL ")
		}
		if i == 0 {
			b.WriteString("SELECT ? AS id, ? AS sortindex, ? AS modified, ? AS payload, ? AS payload_size")
		} else {
			b.WriteString("SELECT ?, ?, ?, ?, ?")
		}
		args = append(args, it.ID, nullable(it.SortIndex), nullableTS(it.Modified), nullable(it.Payload), len(*it.Payload))
	}
	b.WriteString(") v ON w.username = ? AND w.collection = ? AND w.id = v.id SET w.sortindex = v.sortindex," +
		" w.modified = v.modified, w.payload = v.payload, w.payload_size = v.payload_size")
	args = append(args, user, cid)
	_, err := db.ExecContext(ctx, b.String(), args...)
	return err
}

// waitPurge waits (a while at most) until InnoDB has purged the history
// of committed transactions.
func waitPurge(b *testing.B, db *sql.DB) {
	for range 100 {
		var n int64
		if err := db.QueryRow("SELECT COUNT FROM information_schema.INNODB_METRICS WHERE NAME = 'trx_rseg_history_len'").Scan(&n); err != nil {
			b.Fatal(err)
		}
		if n < 20 {
			return
		}
		time.Sleep(100 * time.Millisecond)
	}
}
