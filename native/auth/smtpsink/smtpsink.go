// Package smtpsink is a small real SMTP server for tests: it listens on a
// free 127.0.0.1 port, accepts every message (or refuses recipients on
// demand) and hands the parsed messages to the test. It speaks enough of RFC
// 5321 for net/smtp: EHLO/HELO, MAIL, RCPT, DATA, RSET, NOOP, QUIT.
package smtpsink

import (
	"bufio"
	"fmt"
	"io"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/mail"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Mail is one received message.
type Mail struct {
	From    string // envelope sender
	To      []string
	Header  mail.Header
	Subject string // decoded
	Body    string // transfer-decoded
	Raw     string
}

// Server is a running sink.
type Server struct {
	Host string
	Port int

	ln     net.Listener
	ch     chan Mail
	refuse atomic.Bool
	wg     sync.WaitGroup
}

// T is what Start needs of its caller: a testing.TB, or a development
// environment's testenv.Session.
type T interface {
	Helper()
	Fatalf(format string, args ...any)
	Cleanup(func())
}

// Start runs a sink until the test (or the session) ends.
func Start(t T) *Server {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("smtpsink: %v", err)
	}
	a := ln.Addr().(*net.TCPAddr)
	s := &Server{Host: "127.0.0.1", Port: a.Port, ln: ln, ch: make(chan Mail, 100)}
	s.wg.Add(1)
	go s.serve()
	t.Cleanup(s.Close)
	return s
}

// Close stops the server and waits for its sessions to end.
func (s *Server) Close() {
	s.ln.Close()
	s.wg.Wait()
}

// Refuse makes the server reject recipients (550) while on.
func (s *Server) Refuse(on bool) { s.refuse.Store(on) }

// Next waits up to d for the next message.
func (s *Server) Next(d time.Duration) (Mail, bool) {
	select {
	case m := <-s.ch:
		return m, true
	case <-time.After(d):
		return Mail{}, false
	}
}

// Pending is the number of received messages not yet taken by Next.
func (s *Server) Pending() int { return len(s.ch) }

func (s *Server) serve() {
	defer s.wg.Done()
	for {
		c, err := s.ln.Accept()
		if err != nil {
			return
		}
		s.wg.Add(1)
		go func() {
			defer s.wg.Done()
			defer c.Close()
			c.SetDeadline(time.Now().Add(time.Minute))
			s.session(c)
		}()
	}
}

func (s *Server) session(c net.Conn) {
	r := bufio.NewReader(c)
	reply := func(format string, a ...any) { fmt.Fprintf(c, format+"\r\n", a...) }
	reply("220 smtpsink ready")
	var cur Mail
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return
		}
		line = strings.TrimRight(line, "\r\n")
		verb := strings.ToUpper(strings.SplitN(line, " ", 2)[0])
		arg := strings.TrimSpace(line[len(verb):])
		switch verb {
		case "EHLO":
			reply("250-smtpsink")
			reply("250 8BITMIME")
		case "HELO", "NOOP":
			reply("250 ok")
		case "RSET":
			cur = Mail{}
			reply("250 ok")
		case "MAIL":
			cur = Mail{From: addrArg(arg)}
			reply("250 ok")
		case "RCPT":
			if s.refuse.Load() {
				reply("550 mailbox unavailable")
				continue
			}
			cur.To = append(cur.To, addrArg(arg))
			reply("250 ok")
		case "DATA":
			reply("354 end with .")
			raw, err := readData(r)
			if err != nil {
				return
			}
			cur.Raw = raw
			parse(&cur)
			s.ch <- cur
			cur = Mail{}
			reply("250 queued")
		case "QUIT":
			reply("221 bye")
			return
		default:
			reply("502 not implemented")
		}
	}
}

func addrArg(arg string) string {
	if i := strings.IndexByte(arg, '<'); i >= 0 {
		if j := strings.IndexByte(arg[i:], '>'); j > 0 {
			return arg[i+1 : i+j]
		}
	}
	return arg
}

func readData(r *bufio.Reader) (string, error) {
	var b strings.Builder
	for {
		line, err := r.ReadString('\n')
		if err != nil {
			return "", err
		}
		if line == ".\r\n" || line == ".\n" {
			return b.String(), nil
		}
		b.WriteString(strings.TrimPrefix(line, "."))
	}
}

func parse(m *Mail) {
	msg, err := mail.ReadMessage(strings.NewReader(m.Raw))
	if err != nil {
		return
	}
	m.Header = msg.Header
	dec := new(mime.WordDecoder)
	if subj, err := dec.DecodeHeader(msg.Header.Get("Subject")); err == nil {
		m.Subject = subj
	}
	var body io.Reader = msg.Body
	if strings.EqualFold(msg.Header.Get("Content-Transfer-Encoding"), "quoted-printable") {
		body = quotedprintable.NewReader(body)
	}
	b, _ := io.ReadAll(body)
	m.Body = strings.ReplaceAll(string(b), "\r\n", "\n")
}
