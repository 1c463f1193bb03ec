package ldapdir

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/url"
	"strconv"
	"strings"

	"github.com/go-ldap/ldap/v3"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// tlsConfig is the configured TLS settings (or the system roots) for the
// URL's host: the certificate must name the host dialed.
func (d *Directory) tlsConfig() *tls.Config {
	tc := &tls.Config{MinVersion: tls.VersionTLS12}
	if d.cfg.TLS != nil {
		tc = d.cfg.TLS.Clone()
	}
	if tc.ServerName == "" {
		if u, err := url.Parse(d.cfg.URL); err == nil {
			tc.ServerName = u.Hostname()
		}
	}
	return tc
}

// CreateUser implements store.Users: it adds the entry NameAttr=name
// under BaseDN with u.MD5 (an {SSHA} value from StoredPassword) as
// userPassword. With an IDAttr the new id is allocated in the id map and
// written to the entry, so that two servers never hand out one uidNumber.
func (d *Directory) CreateUser(ctx context.Context, u store.User) (int64, error) {
	name := strings.ToLower(u.Username)
	conn, err := d.conn(ctx)
	if err != nil {
		return 0, err
	}
	defer d.release(conn)
	if _, err := d.find(conn, d.nameFilter(name), fmt.Sprintf("user %q", name)); err == nil {
		return 0, fmt.Errorf("ldapdir: user %q: %w", name, store.ErrUserExists)
	} else if !errors.Is(err, store.ErrNotFound) {
		return 0, err
	}
	id, err := d.allocate(ctx, conn, name)
	if err != nil {
		return 0, err
	}
	if d.readOnly {
		return id, nil
	}
	req := ldap.NewAddRequest(d.cfg.NameAttr+"="+ldap.EscapeDN(name)+","+d.cfg.BaseDN, nil)
	req.Attribute("objectClass", d.cfg.ObjectClasses)
	req.Attribute(d.cfg.NameAttr, []string{name})
	for _, a := range []string{"cn", "sn"} {
		if a != d.cfg.NameAttr {
			req.Attribute(a, []string{name})
		}
	}
	req.Attribute("userPassword", []string{u.MD5})
	if u.Email != "" {
		req.Attribute(d.cfg.MailAttr, []string{u.Email})
	}
	if d.cfg.IDAttr != "" {
		req.Attribute(d.cfg.IDAttr, []string{strconv.FormatInt(id, 10)})
	}
	if d.cfg.NodeAttr != "" && u.Location != "" {
		req.Attribute(d.cfg.NodeAttr, []string{d.cfg.NodePrefix + u.Location})
	}
	if d.cfg.EnabledAttr != "" {
		req.Attribute(d.cfg.EnabledAttr, []string{d.cfg.EnabledValue})
	}
	for a, v := range d.cfg.Fixed {
		req.Attribute(a, v)
	}
	err = conn.Add(req)
	if ldap.IsErrorWithCode(err, ldap.LDAPResultEntryAlreadyExists) {
		return 0, fmt.Errorf("ldapdir: user %q: %w", name, store.ErrUserExists)
	}
	if err != nil {
		return 0, fmt.Errorf("ldapdir: add %q: %w", name, err)
	}
	return id, nil
}

// allocate maps name to a new id. With an IDAttr, an id some entry made
// outside weaveproxy already holds is dropped and the next one tried, a
// few times.
func (d *Directory) allocate(ctx context.Context, conn *ldap.Conn, name string) (int64, error) {
	for attempt := 0; ; attempt++ {
		id, err := d.cfg.IDs.MappedUserID(ctx, name, true)
		if err != nil || d.cfg.IDAttr == "" {
			return id, err
		}
		err = d.idFree(conn, id)
		if err == nil || attempt == 4 || errors.Is(err, store.ErrUnavailable) {
			return id, err
		}
		if ferr := d.cfg.IDs.ForgetUserID(ctx, id); ferr != nil {
			return 0, ferr
		}
	}
}

// idFree refuses an id the directory already gave to another entry (one
// created outside weaveproxy): the id map's counter must start above the
// directory's highest IDAttr, and a silent clash would merge two users'
// storage.
func (d *Directory) idFree(conn *ldap.Conn, id int64) error {
	filter := "(" + d.cfg.IDAttr + "=" + strconv.FormatInt(id, 10) + ")"
	e, err := d.find(conn, filter, "id "+strconv.FormatInt(id, 10))
	if errors.Is(err, store.ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	return fmt.Errorf("ldapdir: %s %d from the id map is already %s's: raise the id map's counter above the directory's highest %s",
		d.cfg.IDAttr, id, e.DN, d.cfg.IDAttr)
}

// DeleteUser implements store.Users: the user's storage and reset code
// first (so a failure leaves an account that still works), then the
// entry, then the id mapping, so a new account of the same name starts
// empty.
func (d *Directory) DeleteUser(ctx context.Context, userID int64) error {
	conn, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer d.release(conn)
	dn, err := d.dnOf(ctx, conn, userID)
	if err != nil {
		return err
	}
	if err := d.cfg.Local.DeleteStorage(ctx, userID); err != nil {
		return err
	}
	if err := d.cfg.Local.ClearResetCode(ctx, userID); err != nil && !errors.Is(err, store.ErrNoResetCode) {
		return err
	}
	if !d.readOnly {
		if err := conn.Del(ldap.NewDelRequest(dn, nil)); err != nil {
			return fmt.Errorf("ldapdir: delete %s: %w", dn, err)
		}
	}
	// The node place of the account (node assignment) is freed too.
	if r, ok := d.cfg.IDs.(interface {
		ReleaseNode(context.Context, int64) error
	}); ok {
		if err := r.ReleaseNode(ctx, userID); err != nil {
			return err
		}
	}
	return d.cfg.IDs.ForgetUserID(ctx, userID)
}

// SetPasswordMD5 implements store.Users: stored is an {SSHA} value from
// StoredPassword (the name is the interface's, from the md5 column).
func (d *Directory) SetPasswordMD5(ctx context.Context, userID int64, stored string) error {
	return d.replace(ctx, userID, "userPassword", stored)
}

// SetEmail implements store.Users.
func (d *Directory) SetEmail(ctx context.Context, userID int64, email string) error {
	return d.replace(ctx, userID, d.cfg.MailAttr, email)
}

// replace sets attr of the user's entry to value; "" removes it.
func (d *Directory) replace(ctx context.Context, userID int64, attr, value string) error {
	conn, err := d.conn(ctx)
	if err != nil {
		return err
	}
	defer d.release(conn)
	dn, err := d.dnOf(ctx, conn, userID)
	if err != nil || d.readOnly {
		return err
	}
	req := ldap.NewModifyRequest(dn, nil)
	if value == "" {
		req.Replace(attr, nil)
	} else {
		req.Replace(attr, []string{value})
	}
	if err := conn.Modify(req); err != nil {
		return fmt.Errorf("ldapdir: modify %s of %s: %w", attr, dn, err)
	}
	return nil
}

// Reset codes live in the SQL engine, keyed by the user's id.

func (d *Directory) SetResetCode(ctx context.Context, userID int64, rc store.ResetCode) error {
	return d.cfg.Local.SetResetCode(ctx, userID, rc)
}

func (d *Directory) GetResetCode(ctx context.Context, userID int64) (store.ResetCode, error) {
	return d.cfg.Local.GetResetCode(ctx, userID)
}

func (d *Directory) ClearResetCode(ctx context.Context, userID int64) error {
	return d.cfg.Local.ClearResetCode(ctx, userID)
}
