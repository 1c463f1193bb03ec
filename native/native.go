// Package native assembles the Go implementation of the Weave server: the
// storage API (1.0, 1.1), the User API 1.0, the password-reset and
// delete-account pages and the heartbeat, over one storage engine. A Server
// is a value: a process may hold several with different engines, and the
// shadow side builds one on a dry-run view of the engine.
package native

import (
	"log/slog"
	"net/http"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/dryrun"
	"github.com/weaveproxy/weaveproxy/internal/weaveurl"
	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/captcha"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/resetpages"
	"github.com/weaveproxy/weaveproxy/native/storageapi"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/userapi"
)

// Config configures a Server. Engine is required; every other field has a
// working default.
type Config struct {
	Engine store.Engine
	// Users holds the accounts; nil: Engine's users table. A directory
	// (ldapdir) keeps them elsewhere while storage stays in Engine under
	// the ids it gives. When Users implements DryRunUsers, a dry run uses
	// that view; otherwise the rolled-back transaction's users table.
	Users store.Users
	// Auth checks Basic credentials; nil uses auth.NewBasic on Engine. The
	// caller wraps it for lockout.
	Auth   auth.Authenticator
	Events cef.Sink
	Logger *slog.Logger

	Registration userapi.Registration
	// UserEndpoints are the public User API endpoints served; nil: all.
	UserEndpoints map[string]bool
	// PasswordHash is how new passwords are stored (zero: legacy md5).
	PasswordHash auth.PasswordHash
	Captcha      captcha.Verifier
	Resets       *auth.Resets
	// NodeURL is what node/weave answers for a user without a node;
	// empty: the request's own scheme and host, so a lone Weave Minimal
	// server sends clients to itself — unless Nodes is set, where empty
	// means PHP's 404 "No location" once every node is full.
	NodeURL string
	// Nodes assigns a node to each user without one; nil: none.
	Nodes *userapi.Nodes

	// QuotaKB is each user's storage quota in KB; 0 means none.
	QuotaKB       float64
	BatchMaxCount int
	BatchMaxBytes int
	RetryAfter    time.Duration
	Now           func() time.Time
}

// Server is the native Weave server as one http.Handler.
type Server struct {
	cfg     Config
	storage *storageapi.Handler
	users   http.Handler
	pages   http.Handler
}

// New builds a Server.
func New(cfg Config) (*Server, error) {
	if cfg.Events == nil {
		cfg.Events = cef.Discard{}
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.New(slog.DiscardHandler)
	}
	if cfg.Users == nil {
		cfg.Users = cfg.Engine
	}
	if cfg.Auth == nil {
		cfg.Auth = auth.NewBasic(cfg.Users, auth.BasicOptions{Events: cfg.Events})
	}
	s := &Server{cfg: cfg}
	s.storage = storageapi.New(storageapi.Config{
		Engine: cfg.Engine, Auth: cfg.Auth, Events: cfg.Events, Logger: cfg.Logger,
		Quota: cfg.QuotaKB > 0, QuotaKB: cfg.QuotaKB, BatchMaxCount: cfg.BatchMaxCount, BatchMaxBytes: cfg.BatchMaxBytes,
		RetryAfter: cfg.RetryAfter, Now: cfg.Now,
	})
	s.users = userapi.New(userapi.Config{
		Users: cfg.Users, Auth: cfg.Auth, Events: cfg.Events, Logger: cfg.Logger,
		Registration: cfg.Registration, Captcha: cfg.Captcha, Resets: cfg.Resets,
		NodeURL: s.nodeURL, Nodes: cfg.Nodes, Endpoints: cfg.UserEndpoints,
		PasswordHash: cfg.PasswordHash,
	})
	pages, err := resetpages.New(resetpages.Config{
		Users: cfg.Users, Auth: cfg.Auth, Resets: cfg.Resets, Captcha: cfg.Captcha,
		Events: cfg.Events, Logger: cfg.Logger,
	})
	if err != nil {
		return nil, err
	}
	s.pages = pages
	return s, nil
}

// DryRun returns a handler that answers each request exactly as s would,
// but on the engine's dry-run view (store.Engine.DryRun: a snapshot of the
// database plus the request's own writes, kept in memory): shadow mode
// runs a write natively this way, compares the answer with legacy's, and
// keeps nothing. Side effects outside the database are suppressed too: no
// CEF events, no lockout counting, no reset mail. Once the snapshot is
// taken it tells the request's dryrun.Gate, if any.
func (s *Server) DryRun() http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		err := s.cfg.Engine.DryRun(r.Context(), func(tx store.Engine) error {
			dryrun.Opened(r.Context())
			view, err := s.view(tx)
			if err != nil {
				return err
			}
			view.ServeHTTP(w, r)
			return nil
		})
		if err != nil {
			s.cfg.Logger.WarnContext(r.Context(), "dry run failed", "err", err)
			http.Error(w, "dry run failed", http.StatusServiceUnavailable)
		}
	})
}

// DryRunUsers is a Users backend living partly outside the database,
// which gives a view of itself over a dry-run view of the engine that
// keeps its own writes out (ldapdir.Directory).
type DryRunUsers interface {
	DryRunUsers(tx store.Engine) store.Users
}

// view is a Server over tx with every side effect beyond the database
// turned off. The storage handler is a shallow copy (its router compiled
// once) with a timestamp memory of its own, so dry-run writes never push
// real timestamps forward; the User API is cheap to rebuild.
func (s *Server) view(tx store.Engine) (*Server, error) {
	var users store.Users = tx
	if d, ok := s.cfg.Users.(DryRunUsers); ok {
		users = d.DryRunUsers(tx)
	}
	quiet := auth.NewBasic(users, auth.BasicOptions{CredentialTTL: -1})
	c := *s
	c.storage = s.storage.WithEngine(tx).WithOwnStamps().WithAuth(quiet).WithEvents(cef.Discard{})
	c.users = userapi.New(userapi.Config{
		Users: users, Auth: quiet, Events: cef.Discard{}, Logger: s.cfg.Logger,
		Registration: s.cfg.Registration, Captcha: s.cfg.Captcha, NodeURL: s.nodeURL, Nodes: s.cfg.Nodes.ReadOnly(),
		Endpoints: s.cfg.UserEndpoints, PasswordHash: s.cfg.PasswordHash,
	})
	pages, err := resetpages.New(resetpages.Config{Users: users, Auth: quiet, Captcha: s.cfg.Captcha, Logger: s.cfg.Logger})
	if err != nil {
		return nil, err
	}
	c.pages = pages
	return &c, nil
}

func (s *Server) nodeURL(r *http.Request) string {
	if s.cfg.NodeURL != "" || s.cfg.Nodes != nil {
		return s.cfg.NodeURL
	}
	scheme := "http"
	if r.TLS != nil {
		scheme = "https"
	}
	return scheme + "://" + r.Host + "/"
}

// ServeHTTP routes by the kind of path internal/weaveurl sees, the way the
// legacy deployment split its PHP entry points.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch weaveurl.Classify(r.Method, r.URL.EscapedPath()).Kind {
	case weaveurl.User, weaveurl.Misc:
		s.users.ServeHTTP(w, r)
	case weaveurl.ResetPage:
		s.pages.ServeHTTP(w, r)
	case weaveurl.Heartbeat:
		s.heartbeat(w, r)
	case weaveurl.Storage, weaveurl.Info:
		s.storage.ServeHTTP(w, r)
	default:
		http.NotFound(w, r)
	}
}

// heartbeat answers 200 when the database does, 503 otherwise, as the
// Python server's /__heartbeat__ did for load balancers.
func (s *Server) heartbeat(w http.ResponseWriter, r *http.Request) {
	if err := s.cfg.Engine.Ping(r.Context()); err != nil {
		s.cfg.Logger.WarnContext(r.Context(), "heartbeat: database down", "err", err)
		w.Header().Set("Retry-After", "60")
		http.Error(w, "database unavailable", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "text/plain; charset=utf-8")
	_, _ = w.Write([]byte("OK"))
}
