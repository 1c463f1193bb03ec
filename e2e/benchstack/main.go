// Command benchstack measures the migration as Ops would meet it, in one
// run: the original PHP server (../shared/legacy-php) under php-fpm (8
// workers) and nginx on its own MariaDB, and on the same database
// weaveproxy native, weaveproxy as the proxy forwarding every route to PHP
// (mode legacy) and weaveproxy in shadow mode (every route shadowed). It
// seeds the data, runs `weaveproxy bench` logic (internal/bench) against
// the four targets for each workload and prints the machine and the
// tables, PHP first so that every ratio is to PHP.
//
// It is not a test (go test ./... only compiles it): run it through
// e2e/bench.sh.
package main

import (
	"cmp"
	"context"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/bench"
	"github.com/weaveproxy/weaveproxy/internal/testenv"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, os.Args[1:], os.Stdout, os.Stderr); err != nil {
		fmt.Fprintln(os.Stderr, "benchstack:", err)
		os.Exit(1)
	}
}

type options struct {
	bin        string
	workers    int
	bufferPool string
	targets    string
	keep       bool
	serveArgs  string
	variants   variants
	cfg        bench.Config
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	var o options
	var workloads string
	fs := flag.NewFlagSet("benchstack", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.StringVar(&o.bin, "bin", "", "the weaveproxy binary (required)")
	fs.IntVar(&o.workers, "php-workers", 8, "php-fpm workers")
	fs.StringVar(&o.bufferPool, "buffer-pool", "256M", "MariaDB innodb_buffer_pool_size")
	fs.StringVar(&o.targets, "targets", "php,native,proxied,shadow", "targets to measure, in table order")
	fs.StringVar(&o.serveArgs, "serve-args", "", "more flags for every weaveproxy serve, space-separated")
	fs.Var(&o.variants, "variant", "one more weaveproxy target, repeatable: 'NAME=KIND [ENV=VALUE ...] [BIN] [FLAG ...]', "+
		"KIND native, proxied or shadow, BIN another build (default --bin); e.g. 'gmp1=proxied GOMAXPROCS=1' "+
		"or 'old=proxied /tmp/old/weaveproxy', then --targets php,proxied,old")
	fs.BoolVar(&o.keep, "keep", false, "leave the servers running until interrupted, after the run")
	fs.StringVar(&workloads, "workload", strings.Join(bench.WorkloadNames(), ","), "workloads")
	fs.DurationVar(&o.cfg.Duration, "duration", 15*time.Second, "measured time per target and workload")
	fs.IntVar(&o.cfg.Requests, "requests", 0, "measured requests per target and workload (0: none)")
	fs.IntVar(&o.cfg.Rounds, "rounds", 3, "rounds of turns")
	fs.DurationVar(&o.cfg.Warmup, "warmup", 2*time.Second, "unmeasured run of each target first")
	fs.IntVar(&o.cfg.Concurrency, "concurrency", 0, "clients per target (0: each workload's own)")
	fs.IntVar(&o.cfg.Users, "users", 50, "user pool of the mozilla workload")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.bin == "" {
		return fmt.Errorf("--bin is required")
	}
	o.cfg.Workloads = strings.Split(workloads, ",")
	dir, err := os.MkdirTemp("", "weaveproxy-benchstack-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	st, err := startStack(ctx, dir, o, stderr)
	if st != nil {
		defer st.stop()
	}
	if err != nil {
		return err
	}
	writeMachine(stdout, o)
	all := map[string]bench.Target{"php": {Name: "php", URL: st.php.URL}}
	for name, url := range st.urls {
		all[name] = bench.Target{Name: name, URL: url}
	}
	for _, name := range strings.Split(o.targets, ",") {
		t, ok := all[name]
		if !ok {
			return fmt.Errorf("--targets: unknown %q", name)
		}
		o.cfg.Targets = append(o.cfg.Targets, t)
	}
	// PHP registers the users (as it always did) and the others find
	// them in the shared database.
	o.cfg.Register, o.cfg.Seed, o.cfg.Progress = true, true, stderr
	meter := st.meter()
	o.cfg.OnSlice = func(wl string, t bench.Target) func(int64) { return meter.slice(wl, t.Name) }
	results, err := bench.Run(ctx, o.cfg, stdout)
	if err != nil {
		return err
	}
	fmt.Fprintln(stdout, "\n== CPU per request: where each target's time goes (on a shared machine, steadier than requests/s)")
	for _, r := range results {
		fmt.Fprintf(stdout, "%s:\n", r.Workload)
		meter.write(stdout, r.Workload)
	}
	fmt.Fprintln(stdout, "\n== summary (all requests of each workload; ratios to the first target)")
	if err := bench.WriteMarkdown(stdout, results); err != nil {
		return err
	}
	fmt.Fprintf(stdout, "\n== load average at the end: %s\n", loadAvg())
	st.coverage(ctx, stdout)
	st.report(stdout)
	if o.keep {
		fmt.Fprintf(stderr, "benchstack: servers still up (php %s, native %s, proxied %s, shadow %s, database %s); ^C ends them\n",
			st.php.URL, st.urls["native"], st.urls["proxied"], st.urls["shadow"], st.db.DSN("weave"))
		<-ctx.Done()
	}
	return nil
}

// stack is everything the run started.
type stack struct {
	db     *testenv.MariaDBProc
	php    *testenv.LegacyPHP
	procs  []*testenv.Process
	byName map[string]*testenv.Process // weaveproxy processes
	admins map[string]string           // admin listener of each shadow target
	urls   map[string]string           // every weaveproxy target's, by name
	kinds  map[string]string           // weaveproxy target -> native, proxied or shadow
	dir    string
}

func (s *stack) stop() {
	for _, p := range s.procs {
		p.Stop()
	}
	if s.php != nil {
		s.php.Stop()
	}
	if s.db != nil {
		s.db.Stop()
	}
}

func startStack(ctx context.Context, dir string, o options, log io.Writer) (*stack, error) {
	s := &stack{dir: dir}
	fmt.Fprintln(log, "benchstack: starting MariaDB")
	db, err := testenv.StartMariaDB("--innodb-buffer-pool-size="+o.bufferPool, "--innodb-log-file-size=64M",
		"--max-connections=500")
	if err != nil {
		return s, err
	}
	s.db = db
	if err := db.Exec(ctx, "CREATE DATABASE weave CHARACTER SET utf8mb4 COLLATE utf8mb4_general_ci"); err != nil {
		return s, err
	}
	dsn := "mysql:" + db.DSN("weave")
	// The tables as weaveproxy makes them on a legacy database: the
	// legacy three exactly, plus its own.
	if out, err := exec.CommandContext(ctx, o.bin, "db", "init", "--db", dsn).CombinedOutput(); err != nil {
		return s, fmt.Errorf("db init: %w\n%s", err, out)
	}
	fmt.Fprintf(log, "benchstack: starting PHP under php-fpm (%d workers) and nginx\n", o.workers)
	phpDir := filepath.Join(dir, "php")
	if err := os.Mkdir(phpDir, 0o755); err != nil {
		return s, err
	}
	s.php, err = testenv.StartLegacyPHP(ctx, phpDir, testenv.LegacyPHPConfig{
		DB: testenv.LegacyDB{Port: db.Port, Name: "weave"}, Workers: o.workers})
	if err != nil {
		return s, err
	}
	legacyBlock := "legacy:\n  url: " + s.php.URL + "\n"
	routes := map[string]string{"native": "", "proxied": legacyBlock + "default: legacy\n",
		"shadow": legacyBlock + "default: shadow\n"}
	s.urls, s.kinds = map[string]string{}, map[string]string{}
	all := []variant{{name: "native", kind: "native"}, {name: "proxied", kind: "proxied"}, {name: "shadow", kind: "shadow"}}
	for _, v := range append(all, o.variants...) {
		fmt.Fprintf(log, "benchstack: starting weaveproxy %s\n", v.name)
		url, err := s.serve(v, o, dsn, routes[v.kind])
		if err != nil {
			return s, err
		}
		s.urls[v.name], s.kinds[v.name] = url, v.kind
	}
	return s, nil
}

// meter counts CPU by component: each target's servers, and MariaDB and
// the bench client, which every target uses.
func (s *stack) meter() *cpuMeter {
	phpSide := []component{{"php-fpm", s.php.FPM.Pid(), true}, {"nginx", s.php.Nginx.Pid(), true}}
	wp := func(name string) component { return component{"weaveproxy", s.byName[name].Pid(), true} }
	own := map[string][]component{"php": phpSide}
	for name, kind := range s.kinds {
		own[name] = []component{wp(name)}
		if kind != "native" {
			own[name] = append(own[name], phpSide...)
		}
	}
	return &cpuMeter{
		common: []component{{"mariadb", s.db.Pid(), true}, {"bench client", os.Getpid(), false}},
		own:    own,
	}
}

// serve starts one `weaveproxy serve` on the shared database, without
// rate budgets (the bench users are few and busy).
func (s *stack) serve(v variant, o options, dsn, routes string) (string, error) {
	name := v.name
	d := filepath.Join(s.dir, name)
	if err := os.Mkdir(d, 0o755); err != nil {
		return "", err
	}
	addr, err := testenv.FreeAddr()
	if err != nil {
		return "", err
	}
	// A shadow target's admin listener serves its /metrics: coverage.
	admin := ""
	if v.kind == "shadow" {
		if admin, err = testenv.FreeAddr(); err != nil {
			return "", err
		}
		if s.admins == nil {
			s.admins = map[string]string{}
		}
		s.admins[name] = admin
	}
	args := []string{"serve", "--listen", addr, "--admin-listen", admin, "--db", dsn,
		"--rate-reads", "-1", "--rate-writes", "-1", "--log-level", "warn",
		"--cef-file", filepath.Join(d, "cef.log"), "--diff-db", "sqlite:" + filepath.Join(d, "diff.db")}
	if routes != "" {
		file := filepath.Join(d, "routes.yaml")
		if err := os.WriteFile(file, []byte(routes), 0o644); err != nil {
			return "", err
		}
		args = append(args, "--routes", file)
	}
	args = append(append(args, strings.Fields(o.serveArgs)...), v.args...)
	p, err := testenv.Launch(cmp.Or(v.bin, o.bin), args, v.env, addr, d)
	if err != nil {
		return "", err
	}
	s.procs = append(s.procs, p)
	if s.byName == nil {
		s.byName = map[string]*testenv.Process{}
	}
	s.byName[name] = p
	return "http://" + addr, nil
}

// report prints what went wrong on the servers' side during the run:
// PHP's errors and InnoDB deadlocks, weaveproxy's warnings.
func (s *stack) report(w io.Writer) {
	fmt.Fprintln(w, "\n== server logs after the run")
	if l := strings.TrimSpace(s.php.ErrorLog()); l != "" {
		fmt.Fprintln(w, "PHP error log (tail):", l)
	}
	for _, p := range s.procs {
		b, _ := os.ReadFile(p.LogPath)
		var lines []string
		for _, l := range strings.Split(strings.TrimSpace(string(b)), "\n") {
			if !strings.HasPrefix(l, "=== testenv:") {
				lines = append(lines, l)
			}
		}
		fmt.Fprintf(w, "%s: %d log lines (warn and above)\n", filepath.Base(p.Dir), len(lines))
		for _, l := range lines[max(0, len(lines)-3):] {
			fmt.Fprintf(w, "   %s\n", truncate(l, 300))
		}
	}
}

func truncate(s string, n int) string {
	if len(s) > n {
		return s[:n] + "…"
	}
	return s
}

func writeMachine(w io.Writer, o options) {
	fmt.Fprintf(w, "== machine: %d CPUs (%s), %s memory, %s/%s, %s; started %s\n", runtime.NumCPU(), cpuModel(),
		memTotal(), runtime.GOOS, runtime.GOARCH, runtime.Version(), time.Now().UTC().Format(time.RFC3339))
	fmt.Fprintf(w, "   PHP: php-fpm %d workers (static) behind nginx; MariaDB buffer pool %s; weaveproxy %s\n",
		o.workers, o.bufferPool, version(o.bin))
	fmt.Fprintf(w, "   load average at the start: %s\n", loadAvg())
}

// loadAvg is /proc/loadavg's 1, 5 and 15 minute figures: the machine is
// shared, and this says how busy it was besides the run itself.
func loadAvg() string {
	b, err := os.ReadFile("/proc/loadavg")
	if err != nil {
		return "unknown"
	}
	f := strings.Fields(string(b))
	if len(f) < 3 {
		return "unknown"
	}
	return strings.Join(f[:3], " ")
}

func cpuModel() string {
	b, _ := os.ReadFile("/proc/cpuinfo")
	for _, l := range strings.Split(string(b), "\n") {
		if k, v, ok := strings.Cut(l, ":"); ok && strings.TrimSpace(k) == "model name" {
			return strings.TrimSpace(v)
		}
	}
	return "unknown CPU"
}

func memTotal() string {
	b, _ := os.ReadFile("/proc/meminfo")
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "MemTotal:"); ok {
			kb, _ := strconv.Atoi(strings.TrimSpace(strings.TrimSuffix(strings.TrimSpace(v), "kB")))
			return fmt.Sprintf("%.1f GiB", float64(kb)/(1<<20))
		}
	}
	return "unknown"
}

func version(bin string) string {
	out, err := exec.Command(bin, "version").Output()
	if err != nil {
		return "(version unknown)"
	}
	return strings.TrimSpace(string(out))
}
