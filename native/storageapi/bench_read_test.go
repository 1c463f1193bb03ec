package storageapi

import (
	"context"
	"database/sql"
	"encoding/base64"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

// BenchmarkReadPath is the read of issue 8 (GET
// storage/history?full=1&limit=100&sort=index of a user holding 10,000
// items of ~300 bytes, 16 clients at once) on real MariaDB, split into
// where its CPU goes:
//
//   - handler: the whole request through the storage handler (auth,
//     query, rows, JSON), the answer discarded;
//   - statement: the handler's one SQL statement alone (prepared, as the
//     engine runs it), from a minimal loop reading the rows as raw bytes:
//     the floor of MariaDB and the driver for this page, whatever the
//     handler does.
//
// Each reports CPU per request of this process (go-cpu-ms/op) and of
// mariadbd (db-cpu-ms/op), which other load on the machine moves much
// less than ns/op, the latency p50/p99, and how often a query waited for
// a pooled connection (pool-waits/op):
//
//	go test -run '^$' -bench ReadPath -benchtime 4000x ./native/storageapi/
func BenchmarkReadPath(b *testing.B) {
	srv := testenv.MariaDBServer(b)
	eng := openBenchEngine(b, "mysql:"+srv.DSN(srv.CreateDatabase(b)))
	e := newEnvOn(b, eng, "1.0", func(c *Config) {
		c.Now = time.Now
		// As serve has it: a login verified in the last 2 s is not
		// looked up again.
		c.Auth = auth.NewBasic(eng, auth.BasicOptions{RecentTTL: auth.DefaultRecentTTL})
	})
	seedRecords(b, e, "history", 10_000)
	analyze(b, e, "mysql")
	path := "/1.0/alice/storage/history?full=1&limit=100&sort=index"
	handler := func() error {
		w := &discardWriter{h: http.Header{}}
		r := httptest.NewRequest("GET", path, nil)
		r.Header.Set("Authorization", e.auth)
		e.h.ServeHTTP(w, r)
		if w.status != http.StatusOK || w.n < 100*300 {
			return fmt.Errorf("GET: %d, %d bytes", w.status, w.n)
		}
		return nil
	}
	db := e.engine.DB()
	// As the engine sends it: prepared, the limit a parameter.
	st, err := db.Prepare("SELECT w.id, w.parentid, w.predecessorid, w.sortindex," +
		" w.modified, w.payload, w.payload_size, t.ttl FROM `wbo` w LEFT JOIN `wbo_ttl` t ON EXISTS" +
		" (SELECT 1 FROM `wbo_ttl` x WHERE x.username = ? AND x.collection = ?) AND t.username = w.username" +
		" AND t.collection = w.collection AND t.id = w.id AND t.modified <=> w.modified" +
		" WHERE w.username = ? AND w.collection = ? AND (t.ttl IS NULL OR t.ttl > ?)" +
		" ORDER BY w.sortindex DESC LIMIT ?")
	if err != nil {
		b.Fatal(err)
	}
	defer st.Close()
	statement := func() error {
		rows, err := st.QueryContext(context.Background(), e.userID, 4, e.userID, 4, time.Now().Unix(), 100)
		if err != nil {
			return err
		}
		defer rows.Close()
		var raw [8]sql.RawBytes
		dest := []any{&raw[0], &raw[1], &raw[2], &raw[3], &raw[4], &raw[5], &raw[6], &raw[7]}
		n := 0
		for rows.Next() {
			if err := rows.Scan(dest...); err != nil {
				return err
			}
			n++
		}
		if n != 100 {
			return fmt.Errorf("statement: %d rows", n)
		}
		return rows.Err()
	}
	for _, c := range []struct {
		name string
		do   func() error
	}{{"handler", handler}, {"statement", statement}} {
		b.Run(c.name, func(b *testing.B) { measureReads(b, srv.Pid(), db, c.do) })
	}
}

// measureReads runs do b.N times from 16 goroutines and reports CPU per
// request by process, latency and pool waits.
func measureReads(b *testing.B, dbPid int, db *sql.DB, do func() error) {
	const clients = 16
	var mu sync.Mutex
	var lat []time.Duration
	waits0 := db.Stats().WaitCount
	self0, db0 := procCPU(b, os.Getpid()), procCPU(b, dbPid)
	b.ResetTimer()
	var wg sync.WaitGroup
	for i := range clients {
		wg.Add(1)
		go func() {
			defer wg.Done()
			n := b.N / clients
			if i < b.N%clients {
				n++
			}
			mine := make([]time.Duration, 0, n)
			for range n {
				t0 := time.Now()
				if err := do(); err != nil {
					b.Error(err)
					return
				}
				mine = append(mine, time.Since(t0))
			}
			mu.Lock()
			lat = append(lat, mine...)
			mu.Unlock()
		}()
	}
	wg.Wait()
	b.StopTimer()
	if len(lat) == 0 {
		return
	}
	per := func(d time.Duration) float64 { return d.Seconds() * 1000 / float64(len(lat)) }
	b.ReportMetric(per(procCPU(b, os.Getpid())-self0), "go-cpu-ms/op")
	b.ReportMetric(per(procCPU(b, dbPid)-db0), "db-cpu-ms/op")
	b.ReportMetric(float64(db.Stats().WaitCount-waits0)/float64(len(lat)), "pool-waits/op")
	slices.Sort(lat)
	b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
	b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
}

// procCPU is the user and system CPU time of one process, from /proc.
func procCPU(b *testing.B, pid int) time.Duration {
	raw, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		b.Skipf("no CPU times from /proc: %v", err)
	}
	f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
	utime, _ := strconv.ParseInt(f[11], 10, 64)
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	return time.Duration(utime+stime) * time.Second / 100 // USER_HZ
}

// discardWriter is a ResponseWriter that keeps only the status and size.
type discardWriter struct {
	h      http.Header
	status int
	n      int
}

func (w *discardWriter) Header() http.Header { return w.h }
func (w *discardWriter) WriteHeader(s int)   { w.status = s }
func (w *discardWriter) Write(p []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	w.n += len(p)
	return len(p), nil
}

func openBenchEngine(b *testing.B, dsn string) *sqlstore.Engine {
	e, err := sqlstore.Open(context.Background(), dsn, sqlstore.Config{})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { e.Close() })
	if err := e.Init(context.Background()); err != nil {
		b.Fatal(err)
	}
	return e
}

// seedRecords writes n items as clients store them: the JSON of an
// encrypted record (~300 bytes, quotes and slashes to escape), random
// sortindex, increasing modified.
func seedRecords(b *testing.B, e *env, coll string, n int) {
	r := rand.New(rand.NewPCG(8, 1))
	now := store.FromTime(time.Now())
	for start := 0; start < n; start += 1000 {
		var items []store.WBO
		for i := start; i < min(start+1000, n); i++ {
			raw := make([]byte, 150)
			for j := range raw {
				raw[j] = byte(r.Uint32())
			}
			p := fmt.Sprintf(`{"ciphertext":"%s","IV":"%s","hmac":"%x"}`, base64.StdEncoding.EncodeToString(raw),
				base64.StdEncoding.EncodeToString(raw[:16]), raw[:16])
			ts, si := now-store.Timestamp(n-i), int64(r.IntN(1_000_000))
			items = append(items, store.WBO{ID: fmt.Sprintf("%012x", r.Uint64()>>16), Payload: &p,
				PayloadSize: int64(len(p)), Modified: &ts, SortIndex: &si})
		}
		if _, err := e.engine.PutItems(context.Background(), e.userID, coll, items); err != nil {
			b.Fatal(err)
		}
	}
}
