package main

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"flag"
	"fmt"
	"log/slog"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"

	"github.com/weaveproxy/weaveproxy/native/auth"
	"github.com/weaveproxy/weaveproxy/native/cef"
	"github.com/weaveproxy/weaveproxy/native/userapi"

	"github.com/weaveproxy/weaveproxy/native/auth/ldapdir"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/sqlstore"
)

// accountFlags choose where accounts live: the users table of --db, or an
// LDAP directory (storage stays in --db under the ids it gives).
type accountFlags struct {
	auth             string
	ldapURL          string
	ldapBase         string
	ldapBindDN       string
	ldapBindPassFile string
	ldapFilter       string
	ldapPreset       string
	ldapMailAttr     string
	ldapNodeAttr     string
	ldapStartTLS     bool
	ldapCAFile       string

	nodes             string
	publicEndpoints   string
	internalListen    string
	internalTokenFile string
	internalEndpoints string
}

func addAccountFlags(fs *flag.FlagSet, f *accountFlags) {
	fs.StringVar(&f.auth, "auth", "sql", "where accounts live: sql (the users table of --db) or ldap")
	fs.StringVar(&f.ldapURL, "ldap-url", "", "LDAP server, ldap://HOST[:PORT] or ldaps://HOST[:PORT]")
	fs.StringVar(&f.ldapBase, "ldap-base", "", "base DN where users are searched and created")
	fs.StringVar(&f.ldapBindDN, "ldap-bind-dn", "", "service account DN for searches and writes (default: anonymous searches)")
	fs.StringVar(&f.ldapBindPassFile, "ldap-bind-password-file", "", "file holding the service account's password")
	fs.StringVar(&f.ldapFilter, "ldap-user-filter", "(uid=%s)", "filter finding a user; %s is the escaped name")
	fs.StringVar(&f.ldapPreset, "ldap-preset", "inetorgperson", "directory layout: inetorgperson or mozilla (uidNumber, primaryNode, account-enabled)")
	fs.StringVar(&f.ldapMailAttr, "ldap-mail-attr", "", "attribute holding the e-mail address (default mail)")
	fs.StringVar(&f.ldapNodeAttr, "ldap-node-attr", "", "attribute holding the storage node (mozilla preset: primaryNode)")
	fs.BoolVar(&f.ldapStartTLS, "ldap-starttls", false, "upgrade ldap:// connections with StartTLS")
	fs.StringVar(&f.ldapCAFile, "ldap-ca-file", "", "PEM CA bundle for ldaps:// and StartTLS (default: system roots)")
	fs.StringVar(&f.nodes, "nodes", "", "storage nodes users are assigned to, NODE=CAPACITY,...; NODE is a host or the node's URL (default: none, --node-url answers)")
	fs.StringVar(&f.publicEndpoints, "user-api-endpoints", "all",
		"public User API endpoints served, comma-separated: "+strings.Join(userapi.PublicEndpoints, ","))
	fs.StringVar(&f.internalListen, "internal-listen", "", "address of the internal User API for operators (e.g. 127.0.0.1:9091); empty: off")
	fs.StringVar(&f.internalTokenFile, "internal-token-file", "", "file holding the bearer token the internal User API requires")
	fs.StringVar(&f.internalEndpoints, "internal-endpoints", "all",
		"internal User API endpoints served, comma-separated: "+strings.Join(userapi.InternalEndpoints, ","))
}

// buildNodes parses --nodes, writes the capacities to the database (every
// instance with the same flags writes the same) and returns the assigner;
// nil without --nodes.
func buildNodes(ctx context.Context, v string, base *sqlstore.Engine) (*userapi.Nodes, error) {
	if strings.TrimSpace(v) == "" {
		return nil, nil
	}
	caps, urls, err := parseNodes(v)
	if err != nil {
		return nil, err
	}
	if err := base.SetNodeCapacities(ctx, caps); err != nil {
		return nil, fmt.Errorf("--nodes: %w", err)
	}
	return &userapi.Nodes{Assigner: base, URLs: urls}, nil
}

// parseNodes reads NODE=CAPACITY,... A node given as a URL is stored as
// its host (what users.location holds) and answered as that URL.
func parseNodes(v string) (caps map[string]int, urls map[string]string, err error) {
	caps, urls = map[string]int{}, map[string]string{}
	for _, item := range strings.Split(v, ",") {
		node, c, ok := strings.Cut(strings.TrimSpace(item), "=")
		n, cerr := strconv.Atoi(c)
		if !ok || cerr != nil || n < 0 || node == "" {
			return nil, nil, fmt.Errorf("--nodes: want NODE=CAPACITY, got %q", item)
		}
		host := node
		if strings.Contains(node, "://") {
			u, perr := url.Parse(node)
			if perr != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
				return nil, nil, fmt.Errorf("--nodes: bad node URL %q", node)
			}
			host = u.Host
			urls[strings.ToLower(host)] = strings.TrimRight(node, "/") + "/"
		}
		host = strings.ToLower(host)
		if _, dup := caps[host]; dup {
			return nil, nil, fmt.Errorf("--nodes: %s twice", host)
		}
		caps[host] = n
	}
	return caps, urls, nil
}

// endpointSet parses a comma-separated endpoint list; "all" is nil (every
// endpoint), "none" or "" an empty set.
func endpointSet(flagName, v string, known []string) (map[string]bool, error) {
	if v == "all" {
		return nil, nil
	}
	set := map[string]bool{}
	for _, name := range strings.Split(v, ",") {
		name = strings.TrimSpace(name)
		if name == "" || name == "none" {
			continue
		}
		if !slices.Contains(known, name) {
			return nil, fmt.Errorf("--%s: unknown endpoint %q (known: %s)", flagName, name, strings.Join(known, ","))
		}
		set[name] = true
	}
	return set, nil
}

// buildInternal is the internal User API, or nil when --internal-listen
// is not set.
func buildInternal(f *accountFlags, users store.Users, resets *auth.Resets, events cef.Sink, log *slog.Logger) (http.Handler, error) {
	if f.internalListen == "" {
		return nil, nil
	}
	if f.internalTokenFile == "" {
		return nil, fmt.Errorf("--internal-listen needs --internal-token-file")
	}
	token, err := readToken("--internal-token-file", f.internalTokenFile)
	if err != nil {
		return nil, err
	}
	eps, err := endpointSet("internal-endpoints", f.internalEndpoints, userapi.InternalEndpoints)
	if err != nil {
		return nil, err
	}
	return userapi.NewInternal(userapi.InternalConfig{Users: users, Token: token, Resets: resets,
		Events: events, Logger: log, Endpoints: eps}), nil
}

// buildUsers returns where accounts live. local is the (cache-wrapped)
// engine whose storage a deleted account loses; base holds the id map.
func buildUsers(f *accountFlags, local store.Engine, base *sqlstore.Engine) (store.Users, error) {
	switch f.auth {
	case "", "sql":
		return local, nil
	case "ldap":
	default:
		return nil, fmt.Errorf("--auth: want sql or ldap, got %q", f.auth)
	}
	cfg := ldapdir.Config{URL: f.ldapURL, BaseDN: f.ldapBase, BindDN: f.ldapBindDN, UserFilter: f.ldapFilter,
		MailAttr: f.ldapMailAttr, NodeAttr: f.ldapNodeAttr, StartTLS: f.ldapStartTLS, Local: local, IDs: base}
	if f.ldapBindPassFile != "" {
		pw, err := os.ReadFile(f.ldapBindPassFile)
		if err != nil {
			return nil, fmt.Errorf("--ldap-bind-password-file: %w", err)
		}
		cfg.BindPassword = strings.TrimRight(string(pw), "\r\n")
	}
	if f.ldapCAFile != "" {
		pem, err := os.ReadFile(f.ldapCAFile)
		if err != nil {
			return nil, fmt.Errorf("--ldap-ca-file: %w", err)
		}
		pool := x509.NewCertPool()
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("--ldap-ca-file: no certificate in %s", f.ldapCAFile)
		}
		cfg.TLS = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	}
	cfg, err := ldapdir.Preset(f.ldapPreset).Apply(cfg)
	if err != nil {
		return nil, fmt.Errorf("--ldap-preset: %w", err)
	}
	d, err := ldapdir.New(cfg)
	if err != nil {
		return nil, fmt.Errorf("--auth ldap: %w", err)
	}
	return d, nil
}
