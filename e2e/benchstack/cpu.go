package main

import (
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"text/tabwriter"
	"time"
)

// clockTicks is USER_HZ, the unit of utime and stime in /proc/PID/stat:
// 100 on every Linux this runs on.
const clockTicks = 100

// component is a group of processes whose CPU time is counted together:
// a server's process and all its descendants (php-fpm's workers, nginx's).
type component struct {
	name string
	pid  int
	tree bool // with its descendants; false for the bench's own process, parent of all
}

// cpu is the component's CPU time in one reading of the processes.
func (c component) cpu(procs procTable) time.Duration {
	if c.tree {
		return procs.treeCPU(c.pid)
	}
	return tickTime(procs.ticks[c.pid])
}

// cpuMeter attributes the CPU time the stack's processes spend during
// each measured slice to the slice's target. CPU per request is a figure
// the other load on a shared machine hardly moves, unlike requests/s.
type cpuMeter struct {
	common []component            // serve every target: MariaDB, the bench client
	own    map[string][]component // per target: its servers

	mu    sync.Mutex
	total map[string]map[string]time.Duration // workload/target -> component -> CPU
	reqs  map[string]int64
	order []string
}

func (m *cpuMeter) slice(workload, target string) func(int64) {
	comps := append(append([]component(nil), m.own[target]...), m.common...)
	before := make([]time.Duration, len(comps))
	procs := readProcs()
	for i, c := range comps {
		before[i] = c.cpu(procs)
	}
	return func(n int64) {
		key := workload + "\x00" + target
		procs := readProcs()
		m.mu.Lock()
		defer m.mu.Unlock()
		if m.total == nil {
			m.total, m.reqs = map[string]map[string]time.Duration{}, map[string]int64{}
		}
		if m.total[key] == nil {
			m.total[key] = map[string]time.Duration{}
			m.order = append(m.order, key)
		}
		for i, c := range comps {
			m.total[key][c.name] += c.cpu(procs) - before[i]
		}
		m.reqs[key] += n
	}
}

// write prints, per workload and target, milliseconds of CPU per request
// by component.
func (m *cpuMeter) write(w io.Writer, workload string) {
	m.mu.Lock()
	defer m.mu.Unlock()
	names := []string{"php-fpm", "nginx", "weaveproxy", "mariadb", "bench client"}
	fmt.Fprintf(w, "   CPU per request (ms) of the stack's own processes during the slices:\n")
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "   target\t%s\ttotal\t\n", strings.Join(names, "\t"))
	for _, key := range m.order {
		wl, target, _ := strings.Cut(key, "\x00")
		if wl != workload || m.reqs[key] == 0 {
			continue
		}
		var total time.Duration
		fmt.Fprintf(tw, "   %s", target)
		for _, n := range names {
			d, ok := m.total[key][n]
			if !ok {
				fmt.Fprint(tw, "\t-")
				continue
			}
			total += d
			fmt.Fprintf(tw, "\t%.2f", perReq(d, m.reqs[key]))
		}
		fmt.Fprintf(tw, "\t%.2f\t\n", perReq(total, m.reqs[key]))
	}
	tw.Flush()
}

func perReq(d time.Duration, n int64) float64 {
	return float64(d) / float64(time.Millisecond) / float64(n)
}

// procStat reads a process's parent and its CPU ticks (user + system).
func procStat(path string) (ppid int, ticks int64, ok bool) {
	b, err := os.ReadFile(path)
	if err != nil {
		return 0, 0, false
	}
	// The command name may hold spaces: fields start after its ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	if i < 0 {
		return 0, 0, false
	}
	f := strings.Fields(s[i+1:])
	if len(f) < 13 {
		return 0, 0, false
	}
	ppid, _ = strconv.Atoi(f[1])
	ut, _ := strconv.ParseInt(f[11], 10, 64)
	st, _ := strconv.ParseInt(f[12], 10, 64)
	return ppid, ut + st, true
}

// procTable is one reading of every process's parent and CPU ticks.
// Each end of a slice reads /proc once for all components: a scan per
// component (8 ms each on a loaded 2-core machine) ran while the bench
// client's own CPU time was being measured, and was counted as the
// client's.
type procTable struct {
	parent map[int]int
	ticks  map[int]int64
}

func readProcs() procTable {
	entries, _ := filepath.Glob("/proc/[0-9]*/stat")
	t := procTable{parent: map[int]int{}, ticks: map[int]int64{}}
	for _, e := range entries {
		pp, n, ok := procStat(e)
		if !ok {
			continue
		}
		p, _ := strconv.Atoi(filepath.Base(filepath.Dir(e)))
		t.parent[p], t.ticks[p] = pp, n
	}
	return t
}

// treeCPU is the user and system CPU time of pid and all its living
// descendants.
func (t procTable) treeCPU(pid int) time.Duration {
	if pid <= 0 {
		return 0
	}
	var sum int64
	for p, n := range t.ticks {
		for q := p; q > 1; q = t.parent[q] {
			if q == pid {
				sum += n
				break
			}
		}
	}
	return tickTime(sum)
}

func tickTime(n int64) time.Duration { return time.Duration(n) * time.Second / clockTicks }
