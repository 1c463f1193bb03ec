package ldapdir

import (
	"context"
	"crypto/rand"
	"crypto/rsa"
	"crypto/tls"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"math/big"
	"net"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/weaveproxy/weaveproxy/internal/testenv"
	"github.com/weaveproxy/weaveproxy/native/store"
	"github.com/weaveproxy/weaveproxy/native/store/storetest"
)

// selfSigned writes a certificate for 127.0.0.1 and its key, and returns
// their paths and a pool trusting it.
func selfSigned(t *testing.T) (certFile, keyFile string, pool *x509.CertPool) {
	t.Helper()
	key, err := rsa.GenerateKey(rand.Reader, 2048)
	if err != nil {
		t.Fatal(err)
	}
	tmpl := &x509.Certificate{SerialNumber: big.NewInt(1), Subject: pkix.Name{CommonName: "127.0.0.1"},
		NotBefore: time.Now().Add(-time.Hour), NotAfter: time.Now().Add(24 * time.Hour),
		IPAddresses: []net.IP{net.ParseIP("127.0.0.1")}, IsCA: true, BasicConstraintsValid: true,
		KeyUsage:    x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment | x509.KeyUsageCertSign,
		ExtKeyUsage: []x509.ExtKeyUsage{x509.ExtKeyUsageServerAuth}}
	der, err := x509.CreateCertificate(rand.Reader, tmpl, tmpl, &key.PublicKey, key)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir()
	certFile, keyFile = filepath.Join(dir, "cert.pem"), filepath.Join(dir, "key.pem")
	certPEM := pem.EncodeToMemory(&pem.Block{Type: "CERTIFICATE", Bytes: der})
	keyPEM := pem.EncodeToMemory(&pem.Block{Type: "RSA PRIVATE KEY", Bytes: x509.MarshalPKCS1PrivateKey(key)})
	if err := os.WriteFile(certFile, certPEM, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(keyFile, keyPEM, 0o600); err != nil {
		t.Fatal(err)
	}
	pool = x509.NewCertPool()
	pool.AppendCertsFromPEM(certPEM)
	return certFile, keyFile, pool
}

func TestTLS(t *testing.T) {
	cert, key, pool := selfSigned(t)
	s := testenv.StartSlapd(t, testenv.SlapdOptions{TLSCert: cert, TLSKey: key})
	s.Add(t, "dn: uid=tls,"+s.Suffix+"\nobjectClass: inetOrgPerson\nuid: tls\ncn: tls\nsn: tls\nuserPassword: tls-password\n")
	local := storetest.SQLite().Open(t)
	trusted := &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
	for _, c := range []struct {
		name     string
		url      string
		startTLS bool
		tls      *tls.Config
		ok       bool
	}{
		{"starttls", s.URL, true, trusted, true},
		{"ldaps", s.LDAPSURL, false, trusted, true},
		{"starttls untrusted", s.URL, true, nil, false},
		{"ldaps untrusted", s.LDAPSURL, false, &tls.Config{MinVersion: tls.VersionTLS12}, false},
	} {
		t.Run(c.name, func(t *testing.T) {
			d, err := New(Config{URL: c.url, StartTLS: c.startTLS, TLS: c.tls, BaseDN: s.Suffix,
				BindDN: s.RootDN, BindPassword: s.RootPW, Local: local, IDs: local, Timeout: 20 * time.Second})
			if err != nil {
				t.Fatal(err)
			}
			u, err := d.UserByName(context.Background(), "tls")
			if !c.ok {
				if !errors.Is(err, store.ErrUnavailable) {
					t.Fatalf("untrusted certificate: %v, want ErrUnavailable", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if ok, err := d.VerifyPassword(context.Background(), u, "tls-password"); !ok || err != nil {
				t.Fatalf("bind over TLS: %v, %v", ok, err)
			}
		})
	}
}
