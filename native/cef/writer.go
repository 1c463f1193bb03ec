package cef

import (
	"errors"
	"fmt"
	"io"
	"log"
	"net/http"
	"os"
	"sync"
	"time"
)

// LineWriter takes finished CEF lines (without newline). FileWriter and
// SyslogWriter are the two this package offers.
type LineWriter interface {
	WriteLine(line string) error
}

// Logger is the Sink that formats events with its Config and hands the
// lines to a LineWriter.
type Logger struct {
	cfg Config
	out LineWriter
	// Now is the clock for rt=; nil means time.Now.
	Now func() time.Time
	// OnError hears about lines that could not be written (a full disk, an
	// unreachable syslog); nil means log.Printf. Emit never fails the
	// request over it.
	OnError func(error)
}

var _ Sink = (*Logger)(nil)

// NewLogger returns a Sink writing cfg-labelled lines to out.
func NewLogger(cfg Config, out LineWriter) *Logger {
	return &Logger{cfg: cfg.withDefaults(), out: out}
}

// Emit implements Sink.
func (l *Logger) Emit(r *http.Request, ev Event) {
	now := time.Now
	if l.Now != nil {
		now = l.Now
	}
	if err := l.out.WriteLine(Format(l.cfg, r, ev, now())); err != nil {
		if l.OnError != nil {
			l.OnError(err)
		} else {
			log.Printf("cef: %s event lost: %v", ev.Signature, err)
		}
	}
}

// FileWriter appends lines to a file, one write per line, so concurrent
// writers (and other processes appending to the same file) never interleave
// inside a line.
type FileWriter struct {
	path string
	mu   sync.Mutex
	f    *os.File
}

// NewFileWriter opens (creating if needed) path for appending.
func NewFileWriter(path string) (*FileWriter, error) {
	f, err := openAppend(path)
	if err != nil {
		return nil, err
	}
	return &FileWriter{path: path, f: f}, nil
}

func openAppend(path string) (*os.File, error) {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_APPEND|os.O_CREATE, 0o640)
	if err != nil {
		return nil, fmt.Errorf("cef: opening %s: %w", path, err)
	}
	return f, nil
}

// WriteLine implements LineWriter.
func (w *FileWriter) WriteLine(line string) error {
	buf := make([]byte, 0, len(line)+1)
	buf = append(append(buf, line...), '\n')
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return fmt.Errorf("cef: %s: %w", w.path, os.ErrClosed)
	}
	if _, err := w.f.Write(buf); err != nil {
		return fmt.Errorf("cef: writing %s: %w", w.path, err)
	}
	return nil
}

// Reopen opens the path afresh, for log rotation (call it on SIGHUP): lines
// go to the new file from then on. On error the old file stays in use.
func (w *FileWriter) Reopen() error {
	f, err := openAppend(w.path)
	if err != nil {
		return err
	}
	w.mu.Lock()
	old := w.f
	w.f = f
	w.mu.Unlock()
	if old != nil {
		return old.Close()
	}
	return nil
}

// Close closes the file; later lines fail.
func (w *FileWriter) Close() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.f == nil {
		return nil
	}
	err := w.f.Close()
	w.f = nil
	return err
}

// multiWriter sends each line to every writer, so a file and syslog can be
// configured together; one failing does not stop the others.
type multiWriter []LineWriter

func (m multiWriter) WriteLine(line string) error {
	var errs []error
	for _, w := range m {
		if err := w.WriteLine(line); err != nil {
			errs = append(errs, err)
		}
	}
	return errors.Join(errs...)
}

type closers []io.Closer

func (c closers) Close() error {
	var errs []error
	for _, cl := range c {
		errs = append(errs, cl.Close())
	}
	return errors.Join(errs...)
}

// Open builds the Sink cfg describes: a file (cfg.File), syslog
// (cfg.Syslog.Enabled, or an address given), or both; with neither,
// DefaultFile in the working directory. The Closer releases what was
// opened.
func Open(cfg Config) (Sink, io.Closer, error) {
	var out multiWriter
	var cl closers
	if cfg.Syslog.Enabled || cfg.Syslog.Addr != "" {
		s := cfg.Syslog
		w, err := NewSyslogWriter(s.Network, s.Addr, s.Facility, s.Ident)
		if err != nil {
			return nil, nil, err
		}
		out, cl = append(out, w), append(cl, w)
	}
	file := cfg.File
	if file == "" && len(out) == 0 {
		file = DefaultFile
	}
	if file != "" {
		w, err := NewFileWriter(file)
		if err != nil {
			cl.Close()
			return nil, nil, err
		}
		out, cl = append(out, w), append(cl, w)
	}
	var lw LineWriter = out
	if len(out) == 1 {
		lw = out[0]
	}
	return NewLogger(cfg, lw), cl, nil
}
