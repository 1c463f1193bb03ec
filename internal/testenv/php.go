package testenv

import (
	"strconv"
)

// PHP is a `php -S` built-in web server. Stop and Start as for Memcached.
type PHP struct {
	Addr string // "127.0.0.1:PORT"
	URL  string // "http://127.0.0.1:PORT"
	*Process
}

// StartPHP serves docroot with PHP's built-in server, through router when
// it is not empty, with env added to the environment. It returns once the
// port answers and stops the server at t.Cleanup.
func StartPHP(t T, docroot, router string, env map[string]string) *PHP {
	t.Helper()
	port := FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	args := []string{"-S", addr, "-t", docroot}
	if router != "" {
		args = append(args, router)
	}
	vars := make([]string, 0, len(env))
	for _, k := range sortedKeys(env) {
		vars = append(vars, k+"="+env[k])
	}
	return &PHP{Addr: addr, URL: "http://" + addr, Process: StartProcess(t, "php", args, vars, addr)}
}
