package cef

import (
	"bufio"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// syslogRE is an RFC 3164 line: <PRI>, "Mmm dd hh:mm:ss", host, tag[pid]:
var syslogRE = regexp.MustCompile(`^<(\d+)>([A-Z][a-z]{2} [ 1-3]\d \d\d:\d\d:\d\d) (\S+) ([A-Za-z0-9_.-]+)\[(\d+)\]: (CEF:.*)$`)

func checkSyslogLine(t *testing.T, msg, wantPri, wantIdent string) parsed {
	t.Helper()
	m := syslogRE.FindStringSubmatch(msg)
	if m == nil {
		t.Fatalf("not an RFC 3164 line: %q", msg)
	}
	if m[1] != wantPri || m[4] != wantIdent || m[5] != fmt.Sprint(os.Getpid()) {
		t.Errorf("pri %s ident %s pid %s in %q", m[1], m[4], m[5], msg)
	}
	if m[2] != t0.Local().Format(time.Stamp) {
		t.Errorf("date %q, want %q", m[2], t0.Local().Format(time.Stamp))
	}
	p, err := parseCEF(m[6])
	if err != nil {
		t.Fatalf("CEF part of %q: %v", msg, err)
	}
	return p
}

func TestSyslogUDP(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	w, err := NewSyslogWriter("udp", pc.LocalAddr().String(), "local4", "weave-test")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Now = func() time.Time { return t0 }
	l := NewLogger(Config{}, w)
	l.Now = w.Now
	l.Emit(newReq("GET", "/1.0/gina/storage/tabs", "UA | x=y"), AccountLocked("gïna", 10, t0.Add(30*time.Minute)))

	buf := make([]byte, 64*1024)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	// local4 = 20, severity info = 6: 20*8+6.
	p := checkSyslogLine(t, string(buf[:n]), "166", "weave-test")
	if p.Header[4] != SigAccountLocked || p.Header[6] != "8" || p.Ext["suser"] != "gïna" ||
		p.Ext["cs1"] != "UA | x=y" || p.Ext["cn1"] != "10" || p.Ext["end"] != fmt.Sprint(t0.Add(30*time.Minute).UnixMilli()) {
		t.Errorf("fields: %+v", p)
	}
}

func TestSyslogTCPFramingAndReconnect(t *testing.T) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	lines := make(chan string, 10)
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				sc := bufio.NewScanner(c)
				for sc.Scan() {
					lines <- sc.Text()
				}
			}()
		}
	}()
	w, err := NewSyslogWriter("tcp", ln.Addr().String(), "auth", "")
	if err != nil {
		t.Fatal(err)
	}
	defer w.Close()
	w.Now = func() time.Time { return t0 }
	l := NewLogger(Config{}, w)
	l.OnError = func(err error) { t.Errorf("emit: %v", err) }
	l.Emit(newReq("PUT", "/user/1.0/h", "ua"), AccountCreated("h"))
	// A dropped connection is replaced on the next write.
	w.mu.Lock()
	w.conn.Close()
	w.mu.Unlock()
	l.Emit(newReq("DELETE", "/user/1.0/h", "ua"), AccountDeleted("h"))
	// The two lines travel on two connections, read by two goroutines:
	// their arrival order is not the order they were sent in.
	got := map[string]bool{}
	for range 2 {
		select {
		case msg := <-lines:
			// auth = 4: 4*8+6.
			got[checkSyslogLine(t, msg, "38", "weaveproxy").Header[4]] = true
		case <-time.After(10 * time.Second):
			t.Fatalf("only %v arrived", got)
		}
	}
	if !got[SigAccountCreated] || !got[SigAccountDeleted] {
		t.Errorf("lines received: %v, want %s and %s", got, SigAccountCreated, SigAccountDeleted)
	}
}

func TestSyslogBadFacility(t *testing.T) {
	if _, err := NewSyslogWriter("udp", "127.0.0.1:9", "local9", ""); err == nil {
		t.Error("facility local9 accepted")
	}
}

// TestOpenFileAndSyslog: both destinations configured get every line.
func TestOpenFileAndSyslog(t *testing.T) {
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer pc.Close()
	path := filepath.Join(t.TempDir(), "sec.log")
	sink, closer, err := Open(Config{File: path, Vendor: "acme", Syslog: SyslogConfig{Addr: pc.LocalAddr().String(), Facility: "LOG_LOCAL0"}})
	if err != nil {
		t.Fatal(err)
	}
	sink.Emit(newReq("POST", "/1.0/i/storage/x", "ua"), RateLimited("i", "write", "i", 300, time.Minute))
	if err := closer.Close(); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 64*1024)
	pc.SetReadDeadline(time.Now().Add(10 * time.Second))
	n, _, err := pc.ReadFrom(buf)
	if err != nil {
		t.Fatal(err)
	}
	_, cefPart, _ := strings.Cut(string(buf[:n]), ": ")
	lines := readLines(t, path)
	if len(lines) != 1 || lines[0] != cefPart {
		t.Fatalf("file %q, syslog %q", lines, cefPart)
	}
	p, err := parseCEF(cefPart)
	if err != nil {
		t.Fatal(err)
	}
	if p.Header[1] != "acme" || p.Header[4] != SigRateLimited || p.Ext["cs2"] != "write" || p.Ext["cn2"] != "60" {
		t.Errorf("fields: %+v", p)
	}
}
