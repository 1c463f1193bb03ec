package ldapdir

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/go-ldap/ldap/v3"

	"github.com/weaveproxy/weaveproxy/native/store"
)

var _ store.UserAdmin = (*Directory)(nil)

// SetStatus implements store.UserAdmin through EnabledAttr (the mozilla
// preset's account-enabled: Yes or No).
func (d *Directory) SetStatus(ctx context.Context, userID int64, status int) error {
	if d.cfg.EnabledAttr == "" {
		return fmt.Errorf("ldapdir: no enabled attribute configured: %w", store.ErrUnsupported)
	}
	v := "No"
	if status == 1 {
		v = d.cfg.EnabledValue
	}
	return d.replace(ctx, userID, d.cfg.EnabledAttr, v)
}

// SetLocation implements store.UserAdmin through NodeAttr.
func (d *Directory) SetLocation(ctx context.Context, userID int64, location string) error {
	if d.cfg.NodeAttr == "" {
		return fmt.Errorf("ldapdir: no node attribute configured: %w", store.ErrUnsupported)
	}
	if location != "" {
		location = d.cfg.NodePrefix + location
	}
	return d.replace(ctx, userID, d.cfg.NodeAttr, location)
}

// SetAlert implements store.UserAdmin: a directory has no alert (PHP's
// LDAP backend ignored it too).
func (d *Directory) SetAlert(context.Context, int64, string) error {
	return fmt.Errorf("ldapdir: alerts: %w", store.ErrUnsupported)
}

// UsersByEmail implements store.UserAdmin with a search on MailAttr.
func (d *Directory) UsersByEmail(ctx context.Context, email string) ([]store.User, error) {
	conn, err := d.conn(ctx)
	if err != nil {
		return nil, err
	}
	defer d.release(conn)
	filter := "(" + d.cfg.MailAttr + "=" + ldap.EscapeFilter(email) + ")"
	req := ldap.NewSearchRequest(d.cfg.BaseDN, ldap.ScopeWholeSubtree, ldap.NeverDerefAliases,
		100, int(d.cfg.Timeout/time.Second), false, filter, d.attrs(), nil)
	res, err := conn.Search(req)
	if err != nil && !ldap.IsErrorWithCode(err, ldap.LDAPResultSizeLimitExceeded) {
		return nil, unavailable("search by mail", err)
	}
	var out []store.User
	if res == nil {
		return out, nil
	}
	for _, e := range res.Entries {
		name := strings.ToLower(e.GetAttributeValue(d.cfg.NameAttr))
		if name == "" {
			continue
		}
		u, err := d.toUser(ctx, name, e)
		if err != nil {
			return nil, err
		}
		out = append(out, u)
	}
	return out, nil
}
