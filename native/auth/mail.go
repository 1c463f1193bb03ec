package auth

import (
	"bytes"
	"context"
	"crypto/rand"
	"crypto/tls"
	"encoding/hex"
	"errors"
	"fmt"
	"mime"
	"mime/quotedprintable"
	"net"
	"net/smtp"
	"strconv"
	"strings"
	"time"
)

// Message is a plain-text mail.
type Message struct {
	To      string
	Subject string
	Body    string
}

// Mailer sends mail. Implementations must be safe for concurrent use.
type Mailer interface {
	Send(ctx context.Context, m Message) error
}

// SMTPConfig says where and as whom to send.
type SMTPConfig struct {
	Host string
	Port int // 25 when zero
	From string
	// Username and Password enable AUTH PLAIN, which net/smtp only performs
	// over TLS (STARTTLS is used when the server offers it) or to localhost.
	Username string
	Password string
	// Timeout bounds one whole delivery; 30s when zero.
	Timeout time.Duration
	// Hostname is sent in EHLO; "localhost" when empty.
	Hostname string
}

// SMTPMailer delivers through one SMTP server with net/smtp.
type SMTPMailer struct{ cfg SMTPConfig }

// NewSMTPMailer returns a Mailer for cfg.
func NewSMTPMailer(cfg SMTPConfig) *SMTPMailer {
	if cfg.Port == 0 {
		cfg.Port = 25
	}
	if cfg.Timeout == 0 {
		cfg.Timeout = 30 * time.Second
	}
	if cfg.Hostname == "" {
		cfg.Hostname = "localhost"
	}
	return &SMTPMailer{cfg: cfg}
}

var errHeaderInjection = errors.New("auth: line break in a mail header field")

// Send delivers m. ctx bounds the whole SMTP conversation.
func (s *SMTPMailer) Send(ctx context.Context, m Message) error {
	for _, f := range []string{m.To, m.Subject, s.cfg.From} {
		if strings.ContainsAny(f, "\r\n") {
			return errHeaderInjection
		}
	}
	ctx, cancel := context.WithTimeout(ctx, s.cfg.Timeout)
	defer cancel()
	addr := net.JoinHostPort(s.cfg.Host, strconv.Itoa(s.cfg.Port))
	var d net.Dialer
	conn, err := d.DialContext(ctx, "tcp", addr)
	if err != nil {
		return fmt.Errorf("auth: smtp dial %s: %w", addr, err)
	}
	defer conn.Close()
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	c, err := smtp.NewClient(conn, s.cfg.Host)
	if err != nil {
		return fmt.Errorf("auth: smtp greeting: %w", err)
	}
	defer c.Close()
	if err := s.converse(c, m); err != nil {
		return fmt.Errorf("auth: smtp %s: %w", addr, err)
	}
	return c.Quit()
}

func (s *SMTPMailer) converse(c *smtp.Client, m Message) error {
	if err := c.Hello(s.cfg.Hostname); err != nil {
		return err
	}
	if ok, _ := c.Extension("STARTTLS"); ok {
		if err := c.StartTLS(&tls.Config{ServerName: s.cfg.Host}); err != nil {
			return err
		}
	}
	if s.cfg.Username != "" {
		if err := c.Auth(smtp.PlainAuth("", s.cfg.Username, s.cfg.Password, s.cfg.Host)); err != nil {
			return err
		}
	}
	if err := c.Mail(s.cfg.From); err != nil {
		return err
	}
	if err := c.Rcpt(m.To); err != nil {
		return err
	}
	w, err := c.Data()
	if err != nil {
		return err
	}
	if _, err := w.Write(s.compose(m)); err != nil {
		return err
	}
	return w.Close()
}

// compose renders headers and a quoted-printable UTF-8 body.
func (s *SMTPMailer) compose(m Message) []byte {
	var b bytes.Buffer
	id := make([]byte, 12)
	rand.Read(id)
	fmt.Fprintf(&b, "From: %s\r\n", s.cfg.From)
	fmt.Fprintf(&b, "To: %s\r\n", m.To)
	fmt.Fprintf(&b, "Subject: %s\r\n", mime.QEncoding.Encode("utf-8", m.Subject))
	fmt.Fprintf(&b, "Date: %s\r\n", time.Now().Format(time.RFC1123Z))
	fmt.Fprintf(&b, "Message-ID: <%s@%s>\r\n", hex.EncodeToString(id), s.cfg.Hostname)
	b.WriteString("MIME-Version: 1.0\r\n")
	b.WriteString("Content-Type: text/plain; charset=UTF-8\r\n")
	b.WriteString("Content-Transfer-Encoding: quoted-printable\r\n\r\n")
	qp := quotedprintable.NewWriter(&b)
	qp.Write([]byte(m.Body)) // text mode: line breaks go out as CRLF
	qp.Close()
	return b.Bytes()
}
