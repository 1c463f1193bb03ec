package storageapi

import (
	"fmt"
	"log/slog"
	"net/http/httptest"
	"os"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// BenchmarkConcurrent drives whole requests through the handler from many
// goroutines at once, as the wrk runs do (16 connections for
// reads, 8 for writes), on the real clock. Besides ns/op it reports the
// p50 and p99 latency of one request. Profile it with -cpuprofile,
// -mutexprofile and -blockprofile:
//
//	go test -run '^$' -bench 'Concurrent/mysql' -benchtime 2000x ./native/storageapi/
func BenchmarkConcurrent(b *testing.B) {
	for _, be := range storetest.Backends() {
		b.Run(be.Name, func(b *testing.B) {
			e := newEnv(b, be, "1.1", func(c *Config) {
				c.Now = time.Now
				c.Quota = os.Getenv("BENCH_NOQUOTA") == ""
				c.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelError}))
			})
			seed(b, e, "history", 10000)
			seed(b, e, "bookmarks", 500)
			analyze(b, e, be.Name)
			auths := []string{e.auth}
			users := []string{"alice"}
			for i := 1; i < 8; i++ {
				name := fmt.Sprintf("user%d", i)
				_, a := e.addUser(name, "correct horse 1")
				auths, users = append(auths, a), append(users, name)
			}
			post := batchBody(100, 300)
			cases := []struct {
				name, method, path, body string
				conns                    int
				manyUsers                bool
			}{
				{"info-collections", "GET", "info/collections", "", 16, false},
				{"get-limit100", "GET", "storage/history?full=1&limit=100&sort=index", "", 16, false},
				{"post-100-one-user", "POST", "storage/forms", post, 8, false},
				{"post-100-8-users", "POST", "storage/forms", post, 8, true},
			}
			for _, c := range cases {
				b.Run(c.name, func(b *testing.B) {
					var next atomic.Int64
					var mu sync.Mutex
					var lat []time.Duration
					b.SetParallelism((c.conns + runtime.GOMAXPROCS(0) - 1) / runtime.GOMAXPROCS(0))
					cpu0 := cpuTime(b)
					b.ResetTimer()
					b.RunParallel(func(pb *testing.PB) {
						u := int(next.Add(1)-1) % len(users)
						if !c.manyUsers {
							u = 0
						}
						var mine []time.Duration
						for pb.Next() {
							rec := httptest.NewRecorder()
							req := httptest.NewRequest(c.method, "/1.1/"+users[u]+"/"+c.path, strings.NewReader(c.body))
							req.Header.Set("Authorization", auths[u])
							t0 := time.Now()
							e.h.ServeHTTP(rec, req)
							mine = append(mine, time.Since(t0))
							if rec.Code != 200 || strings.Contains(rec.Body.String(), `"failed":{"`) {
								b.Errorf("%s: %d %.200s", c.name, rec.Code, rec.Body.String())
								return
							}
						}
						mu.Lock()
						lat = append(lat, mine...)
						mu.Unlock()
					})
					b.StopTimer()
					cpu := cpuTime(b) - cpu0
					if len(lat) > 0 {
						// CPU per request (this process and its MariaDB) is what
						// a loaded machine changes least: wall time here also
						// counts whatever else the machine runs.
						b.ReportMetric(cpu.Seconds()*1000/float64(len(lat)), "cpu-ms/op")
						slices.Sort(lat)
						b.ReportMetric(float64(lat[len(lat)/2].Microseconds())/1000, "p50-ms")
						b.ReportMetric(float64(lat[len(lat)*99/100].Microseconds())/1000, "p99-ms")
						b.ReportMetric(float64(len(lat))/b.Elapsed().Seconds(), "req/s")
					}
				})
			}
		})
	}
}

// cpuTime is the CPU time (user and system) of this process and of its
// child processes still running (the test MariaDB), from /proc.
func cpuTime(b *testing.B) time.Duration {
	var total time.Duration
	self := os.Getpid()
	dirs, _ := os.ReadDir("/proc")
	for _, d := range dirs {
		pid, err := strconv.Atoi(d.Name())
		if err != nil {
			continue
		}
		raw, err := os.ReadFile("/proc/" + d.Name() + "/stat")
		if err != nil {
			continue
		}
		// Fields after the command name, which is in parentheses.
		f := strings.Fields(string(raw[strings.LastIndexByte(string(raw), ')')+1:]))
		if len(f) < 13 {
			continue
		}
		ppid, _ := strconv.Atoi(f[1])
		if pid != self && ppid != self {
			continue
		}
		utime, _ := strconv.ParseInt(f[11], 10, 64)
		stime, _ := strconv.ParseInt(f[12], 10, 64)
		total += time.Duration(utime+stime) * time.Second / 100 // USER_HZ
	}
	if total == 0 {
		b.Log("no CPU time readable from /proc")
	}
	return total
}
