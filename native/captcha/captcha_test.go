package captcha

import (
	"context"
	"strings"
	"testing"

	"github.com/weaveproxy/weaveproxy/native/captcha/captchatest"
)

func TestVerify(t *testing.T) {
	srv := captchatest.Start(t, "s3cret")
	srv.Accept("chal-1", "resp-1")
	tests := []struct {
		name      string
		proto     Protocol
		url, key  string
		challenge string
		response  string
		want      bool
	}{
		{"siteverify right", SiteVerify, srv.URL, "s3cret", "", "resp-1", true},
		{"siteverify wrong", SiteVerify, srv.URL, "s3cret", "", "resp-2", false},
		{"siteverify wrong secret", SiteVerify, srv.URL, "other", "", "resp-1", false},
		{"v1 right", LegacyV1, srv.V1URL, "s3cret", "chal-1", "resp-1", true},
		{"v1 wrong challenge", LegacyV1, srv.V1URL, "s3cret", "chal-2", "resp-1", false},
		{"v1 wrong response", LegacyV1, srv.V1URL, "s3cret", "chal-1", "nope", false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			v, err := New(Config{Protocol: tt.proto, VerifyURL: tt.url, PublicKey: "pub", PrivateKey: tt.key})
			if err != nil {
				t.Fatal(err)
			}
			got, err := v.Verify(context.Background(), tt.challenge, tt.response, "192.0.2.7")
			if err != nil || got != tt.want {
				t.Fatalf("Verify = %v, %v; want %v", got, err, tt.want)
			}
		})
	}
	reqs := srv.Requests()
	if len(reqs) != len(tests) || reqs[0].RemoteIP != "192.0.2.7" {
		t.Errorf("server saw %+v", reqs)
	}
}

func TestVerifyEmptyAnswerNeverAsks(t *testing.T) {
	srv := captchatest.Start(t, "k")
	v, _ := New(Config{Protocol: LegacyV1, VerifyURL: srv.V1URL, PrivateKey: "k"})
	for _, c := range [][2]string{{"", "r"}, {"c", ""}} {
		if ok, err := v.Verify(context.Background(), c[0], c[1], ""); ok || err != nil {
			t.Errorf("Verify(%q,%q) = %v, %v", c[0], c[1], ok, err)
		}
	}
	if n := len(srv.Requests()); n != 0 {
		t.Errorf("service asked %d times", n)
	}
}

func TestVerifyServiceFailureIsAnError(t *testing.T) {
	srv := captchatest.Start(t, "k")
	srv.Accept("", "r")
	srv.Break(true)
	v, _ := New(Config{VerifyURL: srv.URL, PrivateKey: "k"})
	if ok, err := v.Verify(context.Background(), "", "r", ""); ok || err == nil {
		t.Fatalf("broken service: %v, %v", ok, err)
	}
	v2, _ := New(Config{VerifyURL: "http://127.0.0.1:1/siteverify", PrivateKey: "k"})
	if ok, err := v2.Verify(context.Background(), "", "r", ""); ok || err == nil {
		t.Fatalf("unreachable service: %v, %v", ok, err)
	}
}

func TestHTMLEscapesKey(t *testing.T) {
	v, err := New(Config{VerifyURL: "http://127.0.0.1/x", PrivateKey: "k", PublicKey: `pub"><script>`})
	if err != nil {
		t.Fatal(err)
	}
	h := v.HTML()
	if strings.Contains(h, `"><script>`) || !strings.Contains(h, "g-recaptcha") {
		t.Errorf("widget = %s", h)
	}
	v1, _ := New(Config{Protocol: LegacyV1, VerifyURL: "http://127.0.0.1/x", PrivateKey: "k", PublicKey: "pub"})
	if !strings.Contains(v1.HTML(), "recaptcha/api/challenge?k=pub") {
		t.Errorf("v1 widget = %s", v1.HTML())
	}
}

func TestNewNeedsURLAndSecret(t *testing.T) {
	if _, err := New(Config{PrivateKey: "k"}); err == nil {
		t.Error("no URL accepted")
	}
	if _, err := New(Config{VerifyURL: "http://x"}); err == nil {
		t.Error("no secret accepted")
	}
}
