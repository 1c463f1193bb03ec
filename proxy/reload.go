package proxy

import (
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"github.com/fsnotify/fsnotify"

	"github.com/weaveproxy/weaveproxy/proxy/routes"
)

// ErrNoSource is returned by Reload and Watch for a table that was not
// read from a file.
var ErrNoSource = errors.New("proxy: the routes table has no source file to reload")

// ReloadStatus is the outcome of the last reload attempt.
type ReloadStatus struct {
	At       time.Time        `json:"at"`
	Error    string           `json:"error,omitempty"`    // "" when it succeeded
	Problems []routes.Problem `json:"problems,omitempty"` // the file's problems, when it did not parse
}

// Reload re-reads the routes file. A valid file replaces the table in
// force atomically (requests already running finish on the old one); an
// invalid one changes nothing: the error is returned, logged, counted and
// shown by Status.
func (p *Proxy) Reload(ctx context.Context) error {
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if err := ctx.Err(); err != nil {
		return err
	}
	src := p.Table().Source
	if src == "" {
		return ErrNoSource
	}
	t, err := p.load(src)
	if err == nil {
		err = p.check(t)
	}
	st := &ReloadStatus{At: time.Now()}
	defer p.last.Store(st) // published complete: Status reads it without a lock
	if err != nil {
		st.Error = err.Error()
		var pe *routes.ParseError
		if errors.As(err, &pe) {
			st.Problems = pe.Problems
		}
		p.metrics.Reloads.WithLabelValues("failure").Inc()
		p.log.Error("routes reload failed; the previous table stays in force", "file", src, "err", err)
		return fmt.Errorf("proxy: reload %s: %w", src, err)
	}
	p.swap(t)
	p.metrics.Reloads.WithLabelValues("success").Inc()
	p.log.Info("routes reloaded", "file", src, "routes", len(t.Routes), "default", t.Default)
	return nil
}

// load reads and parses the file, remembering its content so the watch
// can tell a real change from an unrelated event. Called under reloadMu.
func (p *Proxy) load(src string) (*routes.Table, error) {
	b, err := os.ReadFile(src)
	if err != nil {
		p.fileSum = [32]byte{}
		return nil, err
	}
	p.fileSum = sha256.Sum256(b)
	t, err := p.state.Load().table.Parser().Parse(b, src)
	if err != nil {
		return nil, err
	}
	t.Source = src
	return t, nil
}

// changed reports whether the file differs from what was last read.
func (p *Proxy) changed(src string) bool {
	b, err := os.ReadFile(src)
	p.reloadMu.Lock()
	defer p.reloadMu.Unlock()
	if err != nil {
		return p.fileSum != [32]byte{} // it disappeared: say so once
	}
	return sha256.Sum256(b) != p.fileSum
}

// Watch reloads the routes file whenever it changes on disk and on
// SIGHUP, until ctx ends. It watches the directory, not the file, so
// editors that save by writing a new file and renaming it over the old
// one (vim, sed -i, ConfigMap symlink swaps) are seen too. Errors of
// individual reloads are logged and kept for Status; Watch itself only
// fails when it cannot watch at all.
func (p *Proxy) Watch(ctx context.Context) error {
	src := p.Table().Source
	if src == "" {
		return ErrNoSource
	}
	w, err := fsnotify.NewWatcher()
	if err != nil {
		return fmt.Errorf("proxy: watch: %w", err)
	}
	defer w.Close()
	if err := w.Add(filepath.Dir(src)); err != nil {
		return fmt.Errorf("proxy: watch %s: %w", filepath.Dir(src), err)
	}
	hup := make(chan os.Signal, 1)
	signal.Notify(hup, syscall.SIGHUP)
	defer signal.Stop(hup)
	if p.onWatchReady != nil {
		p.onWatchReady()
	}
	var settle <-chan time.Time
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-hup:
			p.log.Info("SIGHUP: reloading routes", "file", src)
			p.Reload(ctx)
		case <-w.Events:
			// A save is a burst of events (truncate, write, chmod,
			// rename): act once it has settled.
			settle = time.After(p.cfg.WatchDebounce)
		case <-settle:
			settle = nil
			if p.changed(src) {
				p.Reload(ctx)
			}
		case err := <-w.Errors:
			p.log.Warn("routes file watch", "err", err)
		}
	}
}

// SetMode changes one route's mode in the routes file, keeping its
// comments, and reloads: the run-time cutover switch. A route the file
// does not list yet is added. percent is used by canary only.
func (p *Proxy) SetMode(ctx context.Context, match string, mode routes.Mode, percent int) error {
	p.editMu.Lock()
	defer p.editMu.Unlock()
	src := p.Table().Source
	if src == "" {
		return ErrNoSource
	}
	if err := routes.SetModeFile(src, match, mode, percent); err != nil {
		return fmt.Errorf("proxy: %w", err)
	}
	return p.Reload(ctx)
}
