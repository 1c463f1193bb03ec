// Package ldapdir keeps Weave accounts in an LDAP directory (non-Mozilla
// and Mozilla-style deployments): a store.Users that authenticates by
// binding as the user, creates entries on registration, and modifies
// userPassword ({SSHA}) and mail. Everything a directory does not hold —
// the user's storage, reset codes, the numeric id of a directory without
// uidNumber — lives in the SQL engine beside it, under the user's id.
//
// It speaks LDAP through github.com/go-ldap/ldap/v3, never hand-written BER.
package ldapdir

import (
	"context"
	"crypto/tls"
	"fmt"
	"strings"
	"time"

	"github.com/weaveproxy/weaveproxy/native/store"
)

// Local is what of the SQL engine the directory uses: the user's storage
// (deleted with the account) and reset codes, both keyed by the user's id.
type Local interface {
	DeleteStorage(ctx context.Context, userID int64) error
	SetResetCode(ctx context.Context, userID int64, rc store.ResetCode) error
	GetResetCode(ctx context.Context, userID int64) (store.ResetCode, error)
	ClearResetCode(ctx context.Context, userID int64) error
}

// IDMap gives numeric storage ids to directory names (sqlstore.Engine is
// one). It allocates uidNumber for new entries when the directory has one,
// and is the id itself when it has none.
type IDMap interface {
	MappedUserID(ctx context.Context, name string, create bool) (int64, error)
	MappedName(ctx context.Context, id int64) (string, error)
	ForgetUserID(ctx context.Context, id int64) error
}

// Config configures a Directory. URL, BaseDN, Local and IDs are required;
// a Preset fills the attribute names.
type Config struct {
	// URL is ldap://HOST[:PORT] or ldaps://HOST[:PORT].
	URL string
	// StartTLS upgrades an ldap:// connection before anything is sent.
	StartTLS bool
	// TLS is used for ldaps:// and StartTLS; nil: system roots, the URL's
	// host name.
	TLS *tls.Config
	// BaseDN is where users are searched and created.
	BaseDN string
	// UserFilter finds a user by name: %s is replaced by the name,
	// escaped with ldap.EscapeFilter. Default "(uid=%s)".
	UserFilter string
	// BindDN and BindPassword are the service account that searches and
	// writes; empty BindDN searches anonymously (writes will then fail
	// unless the directory lets anonymous clients write).
	BindDN, BindPassword string

	// NameAttr is the naming attribute of new entries (their RDN), "uid".
	NameAttr string
	// MailAttr holds the e-mail address, "mail".
	MailAttr string
	// NodeAttr holds the user's storage node; empty: none. NodePrefix is
	// stripped from its value ("weave:" in Mozilla's schema).
	NodeAttr, NodePrefix string
	// IDAttr holds the numeric storage id (uidNumber); empty: ids come
	// from the IDMap table.
	IDAttr string
	// EnabledAttr, when set, must hold EnabledValue (case-insensitively)
	// for the account to be usable; any other value disables it.
	EnabledAttr, EnabledValue string
	// ObjectClasses and Fixed are given to entries created on
	// registration (Fixed: constant attributes a schema requires).
	ObjectClasses []string
	Fixed         map[string][]string

	// Timeout bounds dialing and every request. Default 10 s.
	Timeout time.Duration

	Local Local
	IDs   IDMap
}

// Preset names a known directory layout.
type Preset string

const (
	// InetOrgPerson is a plain directory: uid, cn, sn, mail, userPassword
	// on inetOrgPerson entries; ids from our id map.
	InetOrgPerson Preset = "inetorgperson"
	// Mozilla is the layout of Mozilla's Sync directory: inetOrgPerson
	// plus uidNumber (the storage id), primaryNode ("weave:HOST") and
	// account-enabled ("Yes"), on entries of the auxiliary class
	// dataStore (testdata/mozilla-sync.schema declares what is needed).
	Mozilla Preset = "mozilla"
)

// Apply fills the attribute names of p into c where c leaves them empty.
func (p Preset) Apply(c Config) (Config, error) {
	def := func(v *string, d string) {
		if *v == "" {
			*v = d
		}
	}
	def(&c.UserFilter, "(uid=%s)")
	def(&c.NameAttr, "uid")
	def(&c.MailAttr, "mail")
	switch p {
	case "", InetOrgPerson:
		if c.ObjectClasses == nil {
			c.ObjectClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson"}
		}
	case Mozilla:
		def(&c.NodeAttr, "primaryNode")
		def(&c.NodePrefix, "weave:")
		def(&c.IDAttr, "uidNumber")
		def(&c.EnabledAttr, "account-enabled")
		def(&c.EnabledValue, "Yes")
		if c.ObjectClasses == nil {
			c.ObjectClasses = []string{"top", "person", "organizationalPerson", "inetOrgPerson", "dataStore"}
		}
	default:
		return c, fmt.Errorf("ldapdir: unknown preset %q (want %s or %s)", p, InetOrgPerson, Mozilla)
	}
	return c, nil
}

func (c Config) validate() error {
	switch {
	case !strings.HasPrefix(c.URL, "ldap://") && !strings.HasPrefix(c.URL, "ldaps://"):
		return fmt.Errorf("ldapdir: URL %q: want ldap:// or ldaps://", c.URL)
	case c.StartTLS && strings.HasPrefix(c.URL, "ldaps://"):
		return fmt.Errorf("ldapdir: StartTLS on an ldaps:// URL")
	case c.BaseDN == "":
		return fmt.Errorf("ldapdir: no base DN")
	case strings.Count(c.UserFilter, "%s") != 1 || strings.Count(c.UserFilter, "%") != 1:
		return fmt.Errorf("ldapdir: user filter %q must hold exactly one %%s", c.UserFilter)
	case c.Local == nil || c.IDs == nil:
		return fmt.Errorf("ldapdir: Local and IDs are required")
	}
	return nil
}
