package testenv

import (
	"os"
	"strconv"
)

// Memcached is one memcached process of its own. Stop kills it (simulating
// a failed cache server) and Start brings it back, empty, on the same port.
type Memcached struct {
	Addr string // "127.0.0.1:PORT"
	*Process
}

// StartMemcached starts a fresh memcached, stopped at t.Cleanup.
func StartMemcached(t T) *Memcached {
	t.Helper()
	port := FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-l", "127.0.0.1", "-p", strconv.Itoa(port), "-U", "0", "-m", "16", "-t", "1"}
	if os.Geteuid() == 0 {
		// memcached refuses to run as root unless told which user to be.
		args = append(args, "-u", "root")
	}
	return &Memcached{Addr: addr, Process: StartProcess(t, "memcached", args, nil, addr)}
}
