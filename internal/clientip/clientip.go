// Package clientip finds the address a request really came from, trusting
// X-Forwarded-For only as far as a configured list of front proxies
// (nginx, a load balancer) goes: anyone can write the header, so an entry
// counts only when the hop that appended it is trusted.
package clientip

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// Resolver maps a request to its client address. The zero value trusts
// nobody: the address is the TCP peer's.
type Resolver struct {
	trusted []netip.Prefix
}

// Parse reads a comma-separated list of addresses and CIDR prefixes
// ("127.0.0.1, 10.0.0.0/8"); empty trusts nobody.
func Parse(list string) (Resolver, error) {
	var res Resolver
	for _, f := range strings.Split(list, ",") {
		f = strings.TrimSpace(f)
		if f == "" {
			continue
		}
		if p, err := netip.ParsePrefix(f); err == nil {
			res.trusted = append(res.trusted, p.Masked())
			continue
		}
		a, err := netip.ParseAddr(f)
		if err != nil {
			return Resolver{}, fmt.Errorf("trusted proxy %q: want an address or CIDR prefix", f)
		}
		res.trusted = append(res.trusted, netip.PrefixFrom(a.Unmap(), a.Unmap().BitLen()))
	}
	return res, nil
}

func (res Resolver) trusts(a netip.Addr) bool {
	a = a.Unmap()
	for _, p := range res.trusted {
		if p.Contains(a) {
			return true
		}
	}
	return false
}

// Addr is r's client address: the TCP peer, or, while the peer is a
// trusted proxy, the X-Forwarded-For entry it appended, walking from the
// right; the first untrusted hop is the client. An entry that is no
// address ends the walk at the hop that forwarded it.
func (res Resolver) Addr(r *http.Request) string {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	peer, err := netip.ParseAddr(host)
	if err != nil || len(res.trusted) == 0 || !res.trusts(peer) {
		return host
	}
	var hops []string
	for _, v := range r.Header.Values("X-Forwarded-For") {
		hops = append(hops, strings.Split(v, ",")...)
	}
	client := host
	for i := len(hops) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(strings.TrimSpace(hops[i]))
		if err != nil {
			break
		}
		client = a.Unmap().String()
		if !res.trusts(a) {
			break
		}
	}
	return client
}
