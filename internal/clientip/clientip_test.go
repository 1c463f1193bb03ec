package clientip

import (
	"net/http/httptest"
	"testing"
)

func TestAddr(t *testing.T) {
	res, err := Parse("127.0.0.1, 10.0.0.0/8")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range []struct {
		name, peer string
		xff        []string
		trust      bool
		want       string
	}{
		{"no proxies trusted", "127.0.0.1:1", []string{"203.0.113.9"}, false, "127.0.0.1"},
		{"peer not trusted: header ignored", "198.51.100.1:1", []string{"203.0.113.9"}, true, "198.51.100.1"},
		{"trusted nginx", "127.0.0.1:1", []string{"203.0.113.9"}, true, "203.0.113.9"},
		{"forged entry left of the real one", "127.0.0.1:1", []string{"1.2.3.4, 203.0.113.9"}, true, "203.0.113.9"},
		{"two trusted hops", "127.0.0.1:1", []string{"203.0.113.9", "10.1.2.3"}, true, "203.0.113.9"},
		{"all hops trusted", "127.0.0.1:1", []string{"10.1.2.3"}, true, "10.1.2.3"},
		{"garbage entry", "127.0.0.1:1", []string{"203.0.113.9, nonsense"}, true, "127.0.0.1"},
		{"no header", "127.0.0.1:1", nil, true, "127.0.0.1"},
		{"ipv6 peer", "[::1]:1", []string{"203.0.113.9"}, true, "::1"},
	} {
		r := httptest.NewRequest("GET", "/", nil)
		r.RemoteAddr = c.peer
		for _, v := range c.xff {
			r.Header.Add("X-Forwarded-For", v)
		}
		rr := Resolver{}
		if c.trust {
			rr = res
		}
		if got := rr.Addr(r); got != c.want {
			t.Errorf("%s: %q, want %q", c.name, got, c.want)
		}
	}
	if _, err := Parse("10.0.0.0/8, nope"); err == nil {
		t.Error("Parse accepted garbage")
	}
}
