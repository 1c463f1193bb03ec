// Package shadow is the proxy's shadow mode (proxy.Shadower): for a route
// in `shadow` mode the client always gets legacy's answer, and the native
// server answers the same request on the side; the diff package compares
// the two and keeps the evidence the cutover gate decides on.
//
// What runs where:
//
//   - Reads (GET, HEAD, except the User API's password_reset, which mails
//     a reset code and counts as a write): legacy answers the client; the request is kept
//     and handed to a bounded queue. A worker goroutine then runs it on
//     the native handler (and, to learn noise, on legacy a second time),
//     compares and stores. The client's latency is legacy's plus copying
//     the answer into memory. Because native runs a little later than
//     legacy, a timestamp may have moved (the diff rules compare
//     timestamps with a tolerance and by their relations), and a write by
//     the same user may have landed in between: such a pair is skipped
//     (reason "stale"), never compared against the wrong state. Only
//     writes the shadower sees count: a user's writes on routes in legacy
//     mode are invisible to it.
//   - Writes (everything else), when the route has shadow_writes and the
//     proxy has a dry-run handler: the native dry run starts on a
//     goroutine of its own (at most Options.DryRuns at a time; beyond, the
//     write is not compared, reason "dry_run_busy"). It takes a read-only
//     snapshot of the database and reports it (internal/dryrun); only
//     then does legacy get the write, so native answers from exactly the
//     state legacy saw, from a snapshot plus an in-memory overlay that
//     holds no lock legacy could wait on (store.Engine.DryRun). The rest
//     of the dry run runs beside legacy; the client gets legacy's answer
//     as soon as legacy is done, and whichever of the two ends last hands
//     the pair to the queue. Taking the snapshot is the one piece of
//     shadow work on the client's path (weaveproxy_shadow_dry_run_seconds,
//     BenchmarkShadowLatency), bounded by Options.DryRunTimeout; the dry
//     run cannot fail the request. With shadow_writes: false, or no
//     dry-run handler, writes go to legacy alone and are not compared.
//   - The queue never blocks: when it holds QueueSize pairs or QueueBytes
//     bytes, a new pair is dropped and counted
//     (weaveproxy_shadow_dropped_total). Memory is bounded by QueueBytes
//     plus, per worker, one request and three answers of at most
//     MaxCapture bytes each.
//
// Pairs go through the diff package: compared under the route's rules
// (its `diff:` block in routes.yaml), secrets redacted, stored. Dry-run
// pairs are marked (diff.Pair.DryRun).
package shadow

import (
	"context"
	"errors"
	"log/slog"
	"math/rand/v2"
	"net/http"
	"runtime"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/weaveproxy/weaveproxy/diff/store"
	"github.com/weaveproxy/weaveproxy/internal/capture"
	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/proxy"
)

// Options configure a Shadower. Store is required.
type Options struct {
	// Store receives every compared pair (diff/store.Open).
	Store *store.Store
	// Metrics registers the collectors; nil: not exported.
	Metrics prometheus.Registerer
	// Logger; nil discards.
	Logger *slog.Logger

	// Workers compare pairs concurrently (default: half the CPUs Go
	// uses, at least 1). Comparing is off-path work, CPU-heavy for large
	// answers: it must leave room for the requests clients wait on.
	Workers int
	// QueueSize and QueueBytes bound the pairs waiting for a worker
	// (defaults 1024 pairs, 64 MiB).
	QueueSize  int
	QueueBytes int64
	// MaxCapture bounds each body kept (request and answers); a larger
	// one is passed through untouched and not compared (default
	// proxy.DefaultMaxCapture).
	MaxCapture int64
	// DryRunTimeout bounds how long a write waits for its native dry
	// run's snapshot (default 2s); when it expires the write goes on to
	// legacy and is not compared. The whole dry run is bounded by
	// NativeTimeout.
	DryRunTimeout time.Duration
	// DryRuns bounds the dry runs in progress (default 2), each holding a
	// database connection and a snapshot, and each causing database work
	// at the database's normal priority; a write beyond goes to legacy
	// alone and is not compared (reason "dry_run_busy").
	DryRuns int
	// DryRunLifetime bounds a dry run from its start (default 5s): an
	// open snapshot is a read view that holds back InnoDB's purge, so a
	// dry run starved of CPU on a busy machine is cancelled and not
	// compared (reason "dry_run_expired") rather than kept open.
	DryRunLifetime time.Duration
	// MaxQueueWait bounds how long a pair waits for a worker (default
	// 2s); an older one is dropped uncompared (reason "too_old"): a
	// machine too busy to compare sheds pairs, counted, instead of
	// holding them. (A read whose native run ends later after legacy got
	// it than its route's timestamp tolerance, 5 s by default, is not
	// compared either: reason "too_late".)
	MaxQueueWait time.Duration
	// MinIdle is the share (0–1) of the machine's CPU time that must have
	// been idle lately for shadow work to start (default 0.2; negative:
	// always start). Shadow work yields to client work (idle.go): below
	// it, requests go to legacy alone and queued pairs are dropped, each
	// counted with reason "cpu_busy".
	MinIdle float64
	// Idle reports that share; nil: measured from /proc/stat every 100 ms
	// on Linux, and always 1 elsewhere.
	Idle func() float64
	// NativeTimeout bounds each native or repeated run in a worker, and
	// StoreTimeout each store write (defaults 30s).
	NativeTimeout time.Duration
	StoreTimeout  time.Duration

	// Repeat forwards a read to legacy a second time, from a worker, so
	// the store learns which fields legacy itself does not repeat
	// (learned noise). It must not be the proxy's ShadowCall.Legacy,
	// which belongs to the client's request; a forward.New(table.Legacy,
	// ...) upstream of its own does. Nil: no repeats.
	Repeat http.Handler
	// LearnNoise is the share (0–1) of reads repeated on routes whose
	// diff: block has no learn_noise key (default 0: none).
	LearnNoise float64
}

func (o Options) withDefaults() Options {
	if o.Workers <= 0 {
		o.Workers = max(1, runtime.GOMAXPROCS(0)/2)
	}
	if o.QueueSize <= 0 {
		o.QueueSize = 1024
	}
	if o.QueueBytes <= 0 {
		o.QueueBytes = 64 << 20
	}
	if o.MaxCapture <= 0 {
		o.MaxCapture = proxy.DefaultMaxCapture
	}
	if o.DryRunTimeout <= 0 {
		o.DryRunTimeout = 2 * time.Second
	}
	if o.DryRuns <= 0 {
		o.DryRuns = 2
	}
	if o.DryRunLifetime <= 0 {
		o.DryRunLifetime = 5 * time.Second
	}
	if o.MaxQueueWait <= 0 {
		o.MaxQueueWait = 2 * time.Second
	}
	if o.MinIdle == 0 {
		o.MinIdle = 0.2
	}
	if o.NativeTimeout <= 0 {
		o.NativeTimeout = 30 * time.Second
	}
	if o.StoreTimeout <= 0 {
		o.StoreTimeout = 30 * time.Second
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Shadower implements proxy.Shadower. Create it with New; Close it after
// the server stopped sending requests.
type Shadower struct {
	opt     Options
	log     *slog.Logger
	m       *metrics
	q       *queue
	confs   *confCache
	clock   *writeClock
	ctx     context.Context // workers' runs; cancelled when Close gives up
	cancel  context.CancelFunc
	wg      sync.WaitGroup // workers
	closed  sync.Once
	idle    func() float64 // the machine's recent idle CPU share
	cov     coverage       // requests not compared, for the store
	covStop chan struct{}  // ends coverageWriter
	covDone chan struct{}

	dry dryRuns // writes' dry runs in progress
}

var _ proxy.Shadower = (*Shadower)(nil)

// New starts the workers.
func New(opt Options) (*Shadower, error) {
	if opt.Store == nil {
		return nil, errors.New("shadow: Options.Store is required")
	}
	if opt.LearnNoise < 0 || opt.LearnNoise > 1 {
		return nil, errors.New("shadow: Options.LearnNoise is a share between 0 and 1")
	}
	opt = opt.withDefaults()
	s := &Shadower{opt: opt, log: opt.Logger, q: newQueue(opt.QueueSize, opt.QueueBytes),
		confs: &confCache{st: opt.Store, log: opt.Logger}, clock: newWriteClock(),
		dry: dryRuns{slots: make(chan struct{}, opt.DryRuns)}}
	m, err := newMetrics(opt.Metrics, s.q)
	if err != nil {
		return nil, err
	}
	s.m = m
	s.ctx, s.cancel = context.WithCancel(context.Background())
	s.idle = opt.Idle
	if s.idle == nil && opt.MinIdle > 0 {
		s.idle = startIdleMeter(s.ctx, idleSample)
	}
	for range opt.Workers {
		s.wg.Add(1)
		go s.worker()
	}
	s.covStop, s.covDone = make(chan struct{}), make(chan struct{})
	go func() {
		defer close(s.covDone)
		s.coverageWriter(s.covStop)
	}()
	return s, nil
}

// Flush waits until every pair handed over so far is compared and stored,
// and the counts of requests not compared are stored too (or ctx ends). Tests and `report` after a replay use it.
func (s *Shadower) Flush(ctx context.Context) error {
	if err := s.q.wait(ctx); err != nil {
		return err
	}
	s.writeCoverage(ctx)
	return nil
}

// Close stops accepting pairs (later shadow requests are still served by
// legacy, their pairs dropped with reason "closed"), lets the dry runs in
// progress and the workers finish what is queued, and returns when they
// are done. If ctx ends first, the runs in progress are cancelled and the
// rest is dropped.
func (s *Shadower) Close(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		s.dry.close()
		s.closed.Do(func() {
			s.q.close()
			close(s.covStop)
		})
		s.wg.Wait()
		<-s.covDone
		s.writeCoverage(context.Background())
		close(done)
	}()
	select {
	case <-done:
		s.cancel()
		return nil
	case <-ctx.Done():
		s.cancel()
		<-done
		return ctx.Err()
	}
}

// ServeShadow implements proxy.Shadower.
func (s *Shadower) ServeShadow(w http.ResponseWriter, r *http.Request, call proxy.ShadowCall) {
	route := call.Route.Match
	s.m.requests.WithLabelValues(route).Inc()
	// A write runs natively only as a dry run. GET password_reset is one:
	// it stores a reset code and sends a mail.
	write := weaveurl.RouteWrites(route)
	if write {
		s.clock.begin(call.User)
		defer s.clock.end(call.User)
	}
	if s.busy() {
		// The machine has no CPU to spare: not even the copies of the
		// request and the answer are made, nor a write's snapshot taken.
		s.skip(route, reasonBusy)
		call.Legacy.ServeHTTP(w, r)
		return
	}
	body, complete := capture.ReadBody(r, s.opt.MaxCapture)
	if !complete {
		s.skip(route, "body_too_large")
		call.Legacy.ServeHTTP(w, r)
		return
	}
	j := &job{route: route, user: call.User, conf: s.confs.get(call.Route.Diff),
		req: detach(r, body), at: time.Now(), write: write}
	j.parts.Store(1)
	if write {
		s.startDryRun(call, j)
	} else {
		j.native = call.Native
		j.repeat = s.repeatRead(j.conf)
		j.clock, j.quiet = s.clock.now(call.User)
	}
	t := capture.NewTee(w, s.opt.MaxCapture)
	start := time.Now()
	call.Legacy.ServeHTTP(t, r)
	j.legacy = answerOf(t.Response(time.Since(start)))
	s.finish(j)
}

func (s *Shadower) repeatRead(c *routeConf) bool {
	if s.opt.Repeat == nil {
		return false
	}
	share := c.learnNoise
	if share < 0 {
		share = s.opt.LearnNoise
	}
	return share > 0 && (share >= 1 || rand.Float64() < share)
}

func (s *Shadower) enqueue(j *job) {
	switch {
	case j.skip != "":
		s.skip(j.route, j.skip)
		return
	case j.drySkip != "":
		s.skip(j.route, j.drySkip)
		return
	case j.legacy.truncated || (j.dry != nil && j.dry.truncated):
		s.skip(j.route, "answer_too_large")
		return
	}
	j.size = j.req.size() + j.legacy.size()
	if j.dry != nil {
		j.size += j.dry.size()
	}
	j.queued = time.Now()
	if reason := s.q.offer(j); reason != dropNone {
		s.drop(j.route, string(reason))
	}
}
