package testenv

import (
	"bytes"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
)

// Slapd is a throwaway OpenLDAP server: its own slapd.conf and mdb
// database under a temp dir, listening on ldap://127.0.0.1:PORT only.
type Slapd struct {
	URL string // "ldap://127.0.0.1:PORT"
	// LDAPSURL is "ldaps://127.0.0.1:PORT2" when TLS was configured.
	LDAPSURL string
	Suffix   string // the database's base DN
	RootDN   string // the directory manager, allowed everything
	RootPW   string
	ConfPath string
	*Process
}

// SlapdOptions configures StartSlapd. Zero values give a dc=example,dc=org
// directory with the core, cosine, inetorgperson and nis schemas.
type SlapdOptions struct {
	Suffix string
	// Schemas are extra schema files (slapd.conf syntax) included after
	// the standard ones, e.g. a deployment's own attribute types.
	Schemas []string
	// TLSCert and TLSKey (PEM files) turn on StartTLS on the ldap://
	// port and add an ldaps:// listener.
	TLSCert, TLSKey string
}

// slapdSchemas are Debian's copies of the standard schemas (package slapd).
var slapdSchemas = []string{"core", "cosine", "inetorgperson", "nis"}

// StartSlapd starts a fresh slapd, stopped at t.Cleanup. The directory
// holds only its suffix entry; seed it with Add. Access: users may bind
// and change their own password; everyone may read everything else (the
// tests' service bind is the root DN).
func StartSlapd(t T, opts SlapdOptions) *Slapd {
	t.Helper()
	bin := requireBinary(t, "slapd")
	if opts.Suffix == "" {
		opts.Suffix = "dc=example,dc=org"
	}
	dir := t.TempDir()
	s := &Slapd{Suffix: opts.Suffix, RootDN: "cn=admin," + opts.Suffix, RootPW: "admin-secret",
		ConfPath: filepath.Join(dir, "slapd.conf")}
	if err := os.Mkdir(filepath.Join(dir, "db"), 0o700); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(s.ConfPath, []byte(s.conf(dir, opts)), 0o600); err != nil {
		t.Fatal(err)
	}
	port := FreePort(t)
	addr := "127.0.0.1:" + strconv.Itoa(port)
	s.URL = "ldap://" + addr
	urls := s.URL + "/"
	if opts.TLSCert != "" {
		s.LDAPSURL = "ldaps://127.0.0.1:" + strconv.Itoa(FreePort(t))
		urls += " " + s.LDAPSURL + "/"
	}
	args := []string{"-h", urls, "-f", s.ConfPath, "-d", "0"}
	p := newProcess("slapd", bin, args, nil, addr, dir)
	t.Cleanup(p.Stop)
	if err := p.start(); err != nil {
		t.Fatal(err)
	}
	s.Process = p
	dc, _, _ := strings.Cut(strings.TrimPrefix(opts.Suffix, "dc="), ",")
	s.Add(t, fmt.Sprintf("dn: %s\nobjectClass: dcObject\nobjectClass: organization\no: test\ndc: %s\n", opts.Suffix, dc))
	return s
}

func (s *Slapd) conf(dir string, opts SlapdOptions) string {
	var b strings.Builder
	for _, name := range slapdSchemas {
		fmt.Fprintf(&b, "include /etc/ldap/schema/%s.schema\n", name)
	}
	for _, f := range opts.Schemas {
		abs, _ := filepath.Abs(f)
		fmt.Fprintf(&b, "include %s\n", abs)
	}
	fmt.Fprintf(&b, "pidfile %s\nargsfile %s\n", filepath.Join(dir, "slapd.pid"), filepath.Join(dir, "slapd.args"))
	// Debian builds the backends as modules.
	b.WriteString("modulepath /usr/lib/ldap\nmoduleload back_mdb\n")
	if opts.TLSCert != "" {
		fmt.Fprintf(&b, "TLSCertificateFile %s\nTLSCertificateKeyFile %s\n", opts.TLSCert, opts.TLSKey)
	}
	fmt.Fprintf(&b, "database mdb\nmaxsize 67108864\nsuffix %q\nrootdn %q\nrootpw %s\ndirectory %s\n",
		opts.Suffix, s.RootDN, s.RootPW, filepath.Join(dir, "db"))
	b.WriteString("index uid,mail eq\nindex uidNumber eq\n")
	b.WriteString("access to attrs=userPassword by self write by anonymous auth by * none\n")
	b.WriteString("access to * by * read\n")
	return b.String()
}

// Add runs ldapadd (package ldap-utils) as the root DN with ldif.
func (s *Slapd) Add(t T, ldif string) {
	t.Helper()
	s.ldapTool(t, "ldapadd", ldif)
}

// Modify runs ldapmodify as the root DN with ldif (changetype records).
func (s *Slapd) Modify(t T, ldif string) {
	t.Helper()
	s.ldapTool(t, "ldapmodify", ldif)
}

func (s *Slapd) ldapTool(t T, tool, ldif string) {
	t.Helper()
	bin := requireBinary(t, tool)
	cmd := exec.Command(bin, "-x", "-H", s.URL, "-D", s.RootDN, "-w", s.RootPW)
	cmd.Stdin = strings.NewReader(ldif)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		t.Fatalf("testenv: %s: %v\n%s", tool, err, out.String())
	}
}

// Search runs ldapsearch as the root DN under the suffix and returns the
// entries found as unwrapped LDIF.
func (s *Slapd) Search(t T, filter string, attrs ...string) string {
	t.Helper()
	bin := requireBinary(t, "ldapsearch")
	args := append([]string{"-x", "-LLL", "-o", "ldif-wrap=no", "-H", s.URL, "-D", s.RootDN, "-w", s.RootPW,
		"-b", s.Suffix, filter}, attrs...)
	out, err := exec.Command(bin, args...).CombinedOutput()
	if err != nil {
		t.Fatalf("testenv: ldapsearch %s: %v\n%s", filter, err, out)
	}
	return string(out)
}
