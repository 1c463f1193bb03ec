package ldapdir

import (
	"context"
	"crypto/rand"
	"crypto/sha1"
	"encoding/base64"
	"errors"
	"fmt"
	"net"
	"strconv"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/store"
)

// Directory is a store.Users on an LDAP directory, and an
// auth.PasswordBackend: passwords are checked by binding and stored as
// {SSHA}. It keeps a few idle service connections; it is safe for
// concurrent use.
type Directory struct {
	cfg Config
	// readOnly is set on a dry-run view: directory writes are skipped.
	readOnly bool
	// idle holds service-bound connections between calls (a dry-run view
	// shares its directory's), so a request costs a search, not a TCP
	// and bind handshake; a connection the server closed is dropped.
	idle chan *ldap.Conn
}

var (
	_ store.Users          = (*Directory)(nil)
	_ auth.PasswordBackend = (*Directory)(nil)
)

// New returns a Directory for cfg (after its Preset was applied).
func New(cfg Config) (*Directory, error) {
	if cfg.UserFilter == "" || cfg.NameAttr == "" || cfg.MailAttr == "" {
		var err error
		if cfg, err = InetOrgPerson.Apply(cfg); err != nil {
			return nil, err
		}
	}
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	if cfg.Timeout <= 0 {
		cfg.Timeout = 10 * time.Second
	}
	return &Directory{cfg: cfg, idle: make(chan *ldap.Conn, maxIdle)}, nil
}

// maxIdle bounds the idle service connections kept.
const maxIdle = 8

// conn is a service-bound connection: an idle one, or a new one. Give it
// back with release.
func (d *Directory) conn(ctx context.Context) (*ldap.Conn, error) {
	for {
		select {
		case c := <-d.idle:
			if !c.IsClosing() {
				return c, nil
			}
			c.Close()
		default:
			return d.dial(ctx, true)
		}
	}
}

// release keeps c for the next call unless the server or a network error
// closed it, or enough are idle.
func (d *Directory) release(c *ldap.Conn) {
	if c.IsClosing() {
		c.Close()
		return
	}
	select {
	case d.idle <- c:
	default:
		c.Close()
	}
}

// DryRunUsers is the directory over a dry-run view tx: storage
// and reset codes go to tx, and directory writes are skipped (LDAP has no
// transaction to roll back), so a shadow dry run changes nothing.
func (d *Directory) DryRunUsers(tx store.Engine) store.Users {
	c := *d
	c.cfg.Local = tx
	c.cfg.IDs = dryIDs{d.cfg.IDs}
	c.readOnly = true
	return &c
}

// dryIDs reads the id map and writes nothing: a name not mapped yet gets
// a negative id, as the store's dry-run overlay gives new accounts.
type dryIDs struct{ IDMap }

func (m dryIDs) MappedUserID(ctx context.Context, name string, create bool) (int64, error) {
	id, err := m.IDMap.MappedUserID(ctx, name, false)
	if create && errors.Is(err, store.ErrNotFound) {
		return -1, nil
	}
	return id, err
}

func (m dryIDs) ForgetUserID(context.Context, int64) error { return nil }

// dial opens a connection and, with service, binds it as the service
// account (or leaves it anonymous). The caller closes it.
func (d *Directory) dial(ctx context.Context, service bool) (*ldap.Conn, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	timeout := d.cfg.Timeout
	if dl, ok := ctx.Deadline(); ok && time.Until(dl) < timeout {
		timeout = time.Until(dl)
	}
	tc := d.tlsConfig()
	opts := []ldap.DialOpt{ldap.DialWithDialer(&net.Dialer{Timeout: timeout}), ldap.DialWithTLSConfig(tc)}
	conn, err := ldap.DialURL(d.cfg.URL, opts...)
	if err != nil {
		return nil, unavailable("dial", err)
	}
	conn.SetTimeout(timeout)
	if d.cfg.StartTLS {
		if err := conn.StartTLS(tc); err != nil {
			conn.Close()
			return nil, unavailable("starttls", err)
		}
	}
	if service && d.cfg.BindDN != "" {
		if err := conn.Bind(d.cfg.BindDN, d.cfg.BindPassword); err != nil {
			conn.Close()
			return nil, unavailable("service bind", err)
		}
	}
	return conn, nil
}

// unavailable marks a failure to reach or use the directory, which the
// APIs answer with 503.
func unavailable(op string, err error) error {
	return fmt.Errorf("ldapdir: %s: %w: %w", op, store.ErrUnavailable, err)
}

// entry is one user's entry as read.
type entry struct {
	dn    string
	name  string
	attrs *ldap.Entry
}

func (d *Directory) attrs() []string {
	a := []string{d.cfg.NameAttr, d.cfg.MailAttr}
	for _, x := range []string{d.cfg.NodeAttr, d.cfg.IDAttr, d.cfg.EnabledAttr} {
		if x != "" {
			a = append(a, x)
		}
	}
	return a
}

// find searches one entry with filter; store.ErrNotFound when there is
// none. Two entries for one name are refused: binding as either would be
// a guess.
func (d *Directory) find(conn *ldap.Conn, filter, what string) (*ldap.Entry, error) {
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		2, int(d.cfg.Timeout/time.Second), false, filter, d.attrs(), nil)
	res, err := conn.Search(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultNoSuchObject) {
		return nil, fmt.Errorf("ldapdir: %s: base DN missing: %w", what, store.ErrNotFound)
	}
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, unavailable("search "+what, err)
	}
	switch {
	case res == nil || len(res.Entries) == 0:
		return nil, fmt.Errorf("ldapdir: %s: %w", what, store.ErrNotFound)
	case len(res.Entries) > 1:
		return nil, fmt.Errorf("ldapdir: %s matches several entries", what)
	}
	return res.Entries[0], nil
}

func (d *Directory) nameFilter(name string) string {
	return strings.Replace(d.cfg.UserFilter, "%s", ldap.EscapeFilter(strings.ToLower(name)), 1)
}

// UserByName implements store.Users. A directory user without a numeric
// id gets one in the id map on first sight.
func (d *Directory) UserByName(ctx context.Context, username string) (store.User, error) {
	conn, err := d.conn(ctx)
	if err != nil {
		return store.User{}, err
	}
	defer d.release(conn)
	e, err := d.find(conn, d.nameFilter(username), fmt.Sprintf("user %q", username))
	if err != nil {
		return store.User{}, err
	}
	return d.toUser(ctx, strings.ToLower(username), e)
}

func (d *Directory) toUser(ctx context.Context, name string, e *ldap.Entry) (store.User, error) {
	u := store.User{Username: name, Email: e.GetAttributeValue(d.cfg.MailAttr), Status: 1}
	if d.cfg.NodeAttr != "" {
		u.Location = nodeHost(strings.TrimPrefix(e.GetAttributeValue(d.cfg.NodeAttr), d.cfg.NodePrefix))
	}
	if d.cfg.EnabledAttr != "" && !strings.EqualFold(e.GetAttributeValue(d.cfg.EnabledAttr), d.cfg.EnabledValue) {
		u.Status = 0
	}
	var err error
	if d.cfg.IDAttr != "" {
		u.ID, err = strconv.ParseInt(e.GetAttributeValue(d.cfg.IDAttr), 10, 64)
		if err != nil || u.ID <= 0 {
			return u, fmt.Errorf("ldapdir: %s has no usable %s", e.DN, d.cfg.IDAttr)
		}
	} else if u.ID, err = d.cfg.IDs.MappedUserID(ctx, name, true); err != nil {
		return u, err
	}
	return u, nil
}

// nodeHost reduces a node value to the host users.location holds: a URL
// ("https://host/") or a bare host.
func nodeHost(v string) string {
	v = strings.TrimSpace(v)
	if i := strings.Index(v, "://"); i >= 0 {
		v = v[i+3:]
	}
	host, _, _ := strings.Cut(v, "/")
	return host
}

// dnOf finds the entry of a user by storage id.
func (d *Directory) dnOf(ctx context.Context, conn *ldap.Conn, id int64) (string, error) {
	e, err := d.entryOf(ctx, conn, id)
	if err != nil {
		return "", err
	}
	return e.DN, nil
}

func (d *Directory) entryOf(ctx context.Context, conn *ldap.Conn, id int64) (*ldap.Entry, error) {
	filter := ""
	if d.cfg.IDAttr != "" {
		filter = "(" + d.cfg.IDAttr + "=" + strconv.FormatInt(id, 10) + ")"
	} else {
		name, err := d.cfg.IDs.MappedName(ctx, id)
		if err != nil {
			return nil, err
		}
		filter = d.nameFilter(name)
	}
	return d.find(conn, filter, fmt.Sprintf("user %d", id))
}

// UserByID is the account with storage id id (for picking its node's
// storage engine); store.ErrNotFound when there is none.
func (d *Directory) UserByID(ctx context.Context, id int64) (store.User, error) {
	conn, err := d.conn(ctx)
	if err != nil {
		return store.User{}, err
	}
	defer d.release(conn)
	e, err := d.entryOf(ctx, conn, id)
	if err != nil {
		return store.User{}, err
	}
	return d.toUser(ctx, strings.ToLower(e.GetAttributeValue(d.cfg.NameAttr)), e)
}

// VerifyPassword implements auth.PasswordBackend by binding as the user on
// a connection of its own. Empty passwords never reach the directory: an
// empty simple bind is an anonymous bind, which succeeds.
func (d *Directory) VerifyPassword(ctx context.Context, u store.User, password string) (bool, error) {
	if password == "" {
		return false, nil
	}
	conn, err := d.conn(ctx)
	if err != nil {
		return false, err
	}
	e, err := d.find(conn, d.nameFilter(u.Username), fmt.Sprintf("user %q", u.Username))
	d.release(conn)
	if errors.Is(err, store.ErrNotFound) {
		return false, nil
	}
	if err != nil {
		return false, err
	}
	// The user binds on a connection of its own, never pooled: a bound
	// connection has the user's rights, not the service's.
	own, err := d.dial(ctx, false)
	if err != nil {
		return false, err
	}
	defer own.Close()
	err = own.Bind(e.DN, password)
	switch {
	case err == nil:
		return true, nil
	case ldap.IsErrorWithCode(err, ldap.LDAPResultInvalidCredentials):
		return false, nil
	}
	return false, unavailable("user bind", err)
}

// StoredPassword implements auth.PasswordBackend: the {SSHA} form
// (base64 of sha1(password+salt) followed by the salt) every LDAP server
// verifies on bind.
func (d *Directory) StoredPassword(password string) (string, error) {
	salt := make([]byte, 8)
	if _, err := rand.Read(salt); err != nil {
		return "", fmt.Errorf("ldapdir: salt: %w", err)
	}
	return SSHA(password, salt), nil
}

// SSHA is the {SSHA} userPassword value of password with salt.
func SSHA(password string, salt []byte) string {
	h := sha1.New()
	h.Write([]byte(password))
	h.Write(salt)
	return "{SSHA}" + base64.StdEncoding.EncodeToString(append(h.Sum(nil), salt...))
}
