package cef

import (
	"fmt"
	"net"
	"os"
	"strings"
	"sync"
	"time"
)

// SyslogConfig sends CEF lines to syslog, as Mozilla's cef library did.
type SyslogConfig struct {
	Enabled bool // implied by a non-empty Addr
	// Network is "udp", "tcp", "unix" or "unixgram"; with Addr empty the
	// local syslog socket (/dev/log) is used.
	Network  string
	Addr     string
	Facility string // "local4" (default), "auth", "user", ...
	Ident    string // default "weaveproxy"
}

// syslogTimeout bounds one write, so that a stuck syslog receiver cannot
// hold requests up for long.
const syslogTimeout = time.Second

// severityInfo is the syslog severity of every line: CEF carries its own.
const severityInfo = 6

var facilities = map[string]int{
	"kern": 0, "user": 1, "mail": 2, "daemon": 3, "auth": 4, "syslog": 5, "lpr": 6, "news": 7,
	"uucp": 8, "cron": 9, "authpriv": 10, "ftp": 11,
	"local0": 16, "local1": 17, "local2": 18, "local3": 19,
	"local4": 20, "local5": 21, "local6": 22, "local7": 23,
}

// SyslogWriter writes RFC 3164 lines ("<PRI>Mmm dd hh:mm:ss host
// ident[pid]: CEF:...") over UDP, TCP (newline-framed) or a unix socket.
// A failed write is retried once on a fresh connection.
type SyslogWriter struct {
	network, addr string
	pri           int
	ident, host   string
	pid           int
	// Now is the clock for the date prefix; nil means time.Now.
	Now func() time.Time

	mu     sync.Mutex
	conn   net.Conn
	closed bool
}

// NewSyslogWriter connects to a syslog receiver. network and addr empty
// mean the local syslog socket. facility is a name such as "local4" or
// "auth" (empty: local4); ident empty: "weaveproxy".
func NewSyslogWriter(network, addr, facility, ident string) (*SyslogWriter, error) {
	f := strings.TrimPrefix(strings.ToLower(facility), "log_")
	if f == "" {
		f = "local4"
	}
	code, ok := facilities[f]
	if !ok {
		return nil, fmt.Errorf("cef: unknown syslog facility %q", facility)
	}
	if ident == "" {
		ident = "weaveproxy"
	}
	host, _ := os.Hostname()
	if h, _, ok := strings.Cut(host, "."); ok {
		host = h
	}
	if host == "" {
		host = "localhost"
	}
	if network == "" && addr != "" {
		network = "udp"
	}
	w := &SyslogWriter{network: network, addr: addr, pri: code*8 + severityInfo,
		ident: sanitizeIdent(ident), host: host, pid: os.Getpid()}
	if w.ident == "" {
		w.ident = "weaveproxy"
	}
	if err := w.connect(); err != nil {
		return nil, err
	}
	return w, nil
}

// connect dials the receiver; the caller holds mu or owns w.
func (w *SyslogWriter) connect() error {
	if w.addr != "" {
		c, err := net.DialTimeout(w.network, w.addr, syslogTimeout)
		if err != nil {
			return fmt.Errorf("cef: syslog %s %s: %w", w.network, w.addr, err)
		}
		w.conn = c
		return nil
	}
	var last error
	for _, path := range []string{"/dev/log", "/var/run/syslog", "/var/run/log"} {
		for _, nw := range []string{"unixgram", "unix"} {
			c, err := net.DialTimeout(nw, path, syslogTimeout)
			if err == nil {
				w.conn, w.network = c, nw
				return nil
			}
			last = err
		}
	}
	return fmt.Errorf("cef: no local syslog socket: %w", last)
}

// WriteLine implements LineWriter.
func (w *SyslogWriter) WriteLine(line string) error {
	now := time.Now
	if w.Now != nil {
		now = w.Now
	}
	msg := fmt.Sprintf("<%d>%s %s %s[%d]: %s", w.pri, now().Format(time.Stamp), w.host, w.ident, w.pid, line)
	if w.network == "tcp" || w.network == "unix" {
		msg += "\n" // stream transports need a frame end
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.closed {
		return fmt.Errorf("cef: syslog: %w", net.ErrClosed)
	}
	err := w.write(msg)
	if err != nil {
		if w.conn != nil {
			w.conn.Close()
			w.conn = nil
		}
		if cerr := w.connect(); cerr != nil {
			return fmt.Errorf("cef: syslog write: %w (reconnect: %v)", err, cerr)
		}
		err = w.write(msg)
	}
	return err
}

func (w *SyslogWriter) write(msg string) error {
	if w.conn == nil {
		return fmt.Errorf("cef: syslog: %w", net.ErrClosed)
	}
	w.conn.SetWriteDeadline(time.Now().Add(syslogTimeout))
	_, err := w.conn.Write([]byte(msg))
	return err
}

// Close closes the connection.
func (w *SyslogWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	w.closed = true
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}

// sanitizeIdent keeps what an RFC 3164 tag may hold without confusing
// receivers: ASCII letters, digits, '_', '-' and '.'.
func sanitizeIdent(s string) string {
	return strings.Map(func(c rune) rune {
		if c < 0x80 && (sanitizeKey(string(c)) != "" || c == '-' || c == '.') {
			return c
		}
		return -1
	}, s)
}
