package testenv

import (
	"cmp"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

// LegacyPHP is the original PHP Weave server (../shared/legacy-php) served
// the way it ran in production: php-fpm with a static pool of workers behind
// nginx, both throwaway processes with their configuration, sockets, pid
// files, temp files and logs in Dir.
type LegacyPHP struct {
	URL   string // "http://127.0.0.1:PORT", nginx
	Addr  string // "127.0.0.1:PORT"
	Dir   string // configs, sockets and logs
	FPM   *Process
	Nginx *Process
}

// StartLegacyPHP starts php-fpm and nginx with their files in dir (which
// must exist) and waits until the PHP server answers from its database. The
// caller stops it with Stop. It does not depend on a test: a development
// environment can run it as well.
func StartLegacyPHP(ctx context.Context, dir string, cfg LegacyPHPConfig) (*LegacyPHP, error) {
	src, err := legacySource(cfg)
	if err != nil {
		return nil, err
	}
	cfg.Source = src
	fpmBin, err := lookBinary("php-fpm8.2", "php-fpm")
	if err != nil {
		return nil, err
	}
	nginxBin, err := lookBinary("nginx")
	if err != nil {
		return nil, err
	}
	port, err := freePort()
	if err != nil {
		return nil, fmt.Errorf("testenv: nginx port: %w", err)
	}
	l := &LegacyPHP{Addr: "127.0.0.1:" + strconv.Itoa(port), Dir: dir}
	l.URL = "http://" + l.Addr
	sock := filepath.Join(dir, "php-fpm.sock")
	files := map[string]string{
		"config.php":   legacyConfigPHP(cfg),
		"php-fpm.conf": fpmConf(dir, sock, cfg),
		"nginx.conf":   nginxConf(dir, sock, l.Addr, cfg),
	}
	if err := os.MkdirAll(filepath.Join(dir, "nginx-tmp"), 0o755); err != nil {
		return nil, fmt.Errorf("testenv: nginx temp dir: %w", err)
	}
	for name, body := range files {
		if err := os.WriteFile(filepath.Join(dir, name), []byte(body), 0o644); err != nil {
			return nil, fmt.Errorf("testenv: %s: %w", name, err)
		}
	}
	fpmArgs := []string{"--nodaemonize", "--fpm-config", filepath.Join(dir, "php-fpm.conf"), "--prefix", dir}
	if os.Geteuid() == 0 {
		fpmArgs = append(fpmArgs, "--allow-to-run-as-root")
	}
	l.FPM = newProcess("php-fpm", fpmBin, fpmArgs, nil, "unix:"+sock, dir)
	if err := l.FPM.start(); err != nil {
		return nil, err
	}
	ngArgs := []string{"-p", dir + "/", "-c", filepath.Join(dir, "nginx.conf"), "-e", filepath.Join(dir, "nginx-error.log")}
	l.Nginx = newProcess("nginx", nginxBin, ngArgs, nil, l.Addr, dir)
	if err := l.Nginx.start(); err != nil {
		l.FPM.Stop()
		return nil, err
	}
	if err := PingLegacy(ctx, l.URL); err != nil {
		err = fmt.Errorf("testenv: legacy PHP at %s: %w\n%s\n%s\n%s", l.URL, err,
			l.FPM.LogTail(), l.Nginx.LogTail(), tail(filepath.Join(dir, "php-error.log")))
		l.Stop()
		return nil, err
	}
	return l, nil
}

// StartLegacyPHPT is StartLegacyPHP for a test: files in t.TempDir(),
// stopped at t.Cleanup, a failure fails t. Call RequireLegacyPHP first to
// skip where the PHP server is absent.
func StartLegacyPHPT(t testing.TB, cfg LegacyPHPConfig) *LegacyPHP {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), readyTimeout)
	defer cancel()
	l, err := StartLegacyPHP(ctx, t.TempDir(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(l.Stop)
	return l
}

// Stop kills nginx and php-fpm (workers included).
func (l *LegacyPHP) Stop() {
	l.Nginx.Stop()
	l.FPM.Stop()
}

// ErrorLog is the end of PHP's error log (warnings, fatal errors).
func (l *LegacyPHP) ErrorLog() string { return tail(filepath.Join(l.Dir, "php-error.log")) }

func fpmConf(dir, sock string, cfg LegacyPHPConfig) string {
	ini := legacyINI(cfg, filepath.Join(dir, "php-error.log"))
	var b strings.Builder
	fmt.Fprintf(&b, `[global]
pid = %s
error_log = %s
daemonize = no

[weave]
listen = %s
pm = static
pm.max_children = %d
clear_env = yes
catch_workers_output = yes
env[WEAVE_LEGACY_CONFIG] = %s
`, filepath.Join(dir, "php-fpm.pid"), filepath.Join(dir, "php-fpm.log"), sock,
		cmp.Or(cfg.Workers, 8), filepath.Join(dir, "config.php"))
	for _, k := range sortedKeys(ini) {
		fmt.Fprintf(&b, "php_admin_value[%s] = %s\n", k, ini[k])
	}
	return b.String()
}

// nginxConf serves every path through router.php, which maps the Apache
// layout of the PHP server itself from the raw REQUEST_URI.
func nginxConf(dir, sock, addr string, cfg LegacyPHPConfig) string {
	workers := "auto"
	if cfg.NginxWorkers > 0 {
		workers = strconv.Itoa(cfg.NginxWorkers)
	}
	user := ""
	if os.Geteuid() == 0 {
		// Workers would otherwise become nobody and lose access to the
		// temp dir and the socket.
		user = "user root;\n"
	}
	tmp := filepath.Join(dir, "nginx-tmp")
	return fmt.Sprintf(`%sdaemon off;
worker_processes %s;
pid %s;
error_log %s warn;
events { worker_connections 1024; }
http {
    access_log off;
    client_body_temp_path %s/body;
    fastcgi_temp_path %s/fastcgi;
    proxy_temp_path %s/proxy;
    scgi_temp_path %s/scgi;
    uwsgi_temp_path %s/uwsgi;
    client_max_body_size 0;
    keepalive_requests 100000;
    server {
        listen %s;
        location / {
            fastcgi_pass unix:%s;
            fastcgi_param SCRIPT_FILENAME %s;
            fastcgi_param SCRIPT_NAME /router.php;
            fastcgi_param DOCUMENT_ROOT %s;
            fastcgi_param QUERY_STRING $query_string;
            fastcgi_param REQUEST_METHOD $request_method;
            fastcgi_param CONTENT_TYPE $content_type;
            fastcgi_param CONTENT_LENGTH $content_length;
            fastcgi_param REQUEST_URI $request_uri;
            fastcgi_param SERVER_PROTOCOL $server_protocol;
            fastcgi_param REQUEST_SCHEME $scheme;
            fastcgi_param GATEWAY_INTERFACE CGI/1.1;
            fastcgi_param SERVER_SOFTWARE nginx;
            fastcgi_param REMOTE_ADDR $remote_addr;
            fastcgi_param REMOTE_PORT $remote_port;
            fastcgi_param SERVER_ADDR $server_addr;
            fastcgi_param SERVER_PORT $server_port;
            fastcgi_param SERVER_NAME $host;
            fastcgi_param REDIRECT_STATUS 200;
        }
    }
}
`, user, workers, filepath.Join(dir, "nginx.pid"), filepath.Join(dir, "nginx-error.log"),
		tmp, tmp, tmp, tmp, tmp, addr, sock, filepath.Join(cfg.Source, "router.php"), cfg.Source)
}
