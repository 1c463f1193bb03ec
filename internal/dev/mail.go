package dev

import (
	"context"
	"fmt"
	"html/template"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"time"

	"github.com/weaveproxy/weaveproxy/native/auth/smtpsink"
)

// mailbox keeps what the SMTP sink receives: each message as NNNN.eml in
// a folder, and a page listing them (newest first) with their text.
type mailbox struct {
	dir  string
	url  string
	srv  *http.Server
	stop chan struct{}
	done chan struct{}

	mu   sync.Mutex
	mail []smtpsink.Mail
}

func startMailbox(sink *smtpsink.Server, dir string) (*mailbox, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("dev: mail folder: %w", err)
	}
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return nil, fmt.Errorf("dev: mail page: %w", err)
	}
	b := &mailbox{dir: dir, url: "http://" + ln.Addr().String() + "/", stop: make(chan struct{}), done: make(chan struct{})}
	mux := http.NewServeMux()
	mux.HandleFunc("GET /{$}", b.list)
	mux.HandleFunc("GET /{n}", b.raw)
	b.srv = &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	go b.srv.Serve(ln)
	go b.collect(sink)
	return b, nil
}

// collect takes each message off the sink, as it arrives, until close.
func (b *mailbox) collect(sink *smtpsink.Server) {
	defer close(b.done)
	for {
		select {
		case <-b.stop:
			return
		default:
		}
		m, ok := sink.Next(200 * time.Millisecond)
		if !ok {
			continue
		}
		b.mu.Lock()
		b.mail = append(b.mail, m)
		n := len(b.mail)
		b.mu.Unlock()
		os.WriteFile(filepath.Join(b.dir, fmt.Sprintf("%04d.eml", n)), []byte(m.Raw), 0o644)
	}
}

func (b *mailbox) close() {
	close(b.stop)
	<-b.done
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	b.srv.Shutdown(ctx)
}

var listPage = template.Must(template.New("mail").Parse(`<!doctype html>
<meta charset="utf-8"><title>weaveproxy dev: mail</title>
<h1>Mail received by the SMTP sink ({{len .}})</h1>
<table border="1" cellpadding="4"><tr><th>#</th><th>From</th><th>To</th><th>Subject</th><th>Text</th></tr>
{{range .}}<tr><td><a href="/{{.N}}">{{.N}}</a></td><td>{{.M.From}}</td><td>{{range .M.To}}{{.}} {{end}}</td><td>{{.M.Subject}}</td><td><pre>{{.M.Body}}</pre></td></tr>
{{end}}</table>`))

func (b *mailbox) list(w http.ResponseWriter, r *http.Request) {
	type row struct {
		N int
		M smtpsink.Mail
	}
	b.mu.Lock()
	rows := make([]row, 0, len(b.mail))
	for i := len(b.mail) - 1; i >= 0; i-- {
		rows = append(rows, row{i + 1, b.mail[i]})
	}
	b.mu.Unlock()
	w.Header().Set("Content-Type", "text/html; charset=utf-8")
	listPage.Execute(w, rows)
}

func (b *mailbox) raw(w http.ResponseWriter, r *http.Request) {
	n, err := strconv.Atoi(r.PathValue("n"))
	b.mu.Lock()
	defer b.mu.Unlock()
	if err != nil || n < 1 || n > len(b.mail) {
		http.NotFound(w, r)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	w.Write([]byte(b.mail[n-1].Raw))
}
