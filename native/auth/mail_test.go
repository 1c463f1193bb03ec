package auth

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/native/auth/smtpsink"
)

func TestSMTPMailerDeliversUTF8(t *testing.T) {
	sink := smtpsink.Start(t)
	m := NewSMTPMailer(SMTPConfig{Host: sink.Host, Port: sink.Port, From: "sync@example.org"})
	body := "Grüße ✓\nline two\n" + strings.Repeat("x", 120) + "\n.leading dot\n"
	err := m.Send(context.Background(), Message{To: "jösé@example.org", Subject: "Résumé ✓", Body: body})
	if err != nil {
		t.Fatal(err)
	}
	got, ok := sink.Next(5 * time.Second)
	if !ok {
		t.Fatal("no mail received")
	}
	if got.From != "sync@example.org" || len(got.To) != 1 || got.To[0] != "jösé@example.org" {
		t.Errorf("envelope = %q -> %q", got.From, got.To)
	}
	if got.Subject != "Résumé ✓" {
		t.Errorf("subject = %q", got.Subject)
	}
	if got.Body != body {
		t.Errorf("body = %q, want %q", got.Body, body)
	}
}

func TestSMTPMailerRefusesHeaderInjection(t *testing.T) {
	sink := smtpsink.Start(t)
	m := NewSMTPMailer(SMTPConfig{Host: sink.Host, Port: sink.Port, From: "sync@example.org"})
	err := m.Send(context.Background(), Message{To: "a@example.org\r\nBcc: evil@example.org", Subject: "x", Body: "y"})
	if err == nil {
		t.Fatal("header injection accepted")
	}
	if _, ok := sink.Next(200 * time.Millisecond); ok {
		t.Fatal("a mail went out")
	}
}

func TestSMTPMailerReportsRefusal(t *testing.T) {
	sink := smtpsink.Start(t)
	sink.Refuse(true)
	m := NewSMTPMailer(SMTPConfig{Host: sink.Host, Port: sink.Port, From: "sync@example.org"})
	if err := m.Send(context.Background(), Message{To: "a@example.org", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("refused recipient reported as delivered")
	}
}

func TestSMTPMailerUnreachable(t *testing.T) {
	sink := smtpsink.Start(t)
	port := sink.Port
	// A port nobody listens on: take the sink's, then close it.
	m := NewSMTPMailer(SMTPConfig{Host: "127.0.0.1", Port: port, From: "a@b.c", Timeout: 2 * time.Second})
	sink.Close()
	if err := m.Send(context.Background(), Message{To: "a@example.org", Subject: "x", Body: "y"}); err == nil {
		t.Fatal("send to a closed port succeeded")
	}
}
