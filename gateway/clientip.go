package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"strings"
)

// proxyPolicy finds the real client of a request that came through trusted
// reverse proxies (X-Forwarded-For, Forwarded, X-Forwarded-Host).
type proxyPolicy struct {
	trusted []netip.Prefix
}

func newProxyPolicy(cidrs []string) (*proxyPolicy, error) {
	p := &proxyPolicy{}
	for _, c := range cidrs {
		c = strings.TrimSpace(c)
		if c == "" {
			continue
		}
		if !strings.Contains(c, "/") {
			a, err := netip.ParseAddr(c)
			if err != nil {
				return nil, fmt.Errorf("trusted proxy %q: %w", c, err)
			}
			c = netip.PrefixFrom(a, a.BitLen()).String()
		}
		pre, err := netip.ParsePrefix(c)
		if err != nil {
			return nil, fmt.Errorf("trusted proxy %q: %w", c, err)
		}
		p.trusted = append(p.trusted, pre.Masked())
	}
	return p, nil
}

func (p *proxyPolicy) isTrusted(a netip.Addr) bool {
	a = a.Unmap()
	for _, pre := range p.trusted {
		if pre.Contains(a) {
			return true
		}
	}
	return false
}

func remoteAddr(r *http.Request) netip.Addr {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		host = r.RemoteAddr
	}
	a, _ := netip.ParseAddr(host)
	return a.Unmap()
}

// clientIP is the request's client: the peer, or, when the peer is a
// trusted proxy, the right-most address in its forwarding headers that is
// not itself a trusted proxy.
func (p *proxyPolicy) clientIP(r *http.Request) netip.Addr {
	peer := remoteAddr(r)
	if len(p.trusted) == 0 || !p.isTrusted(peer) {
		return peer
	}
	chain := forwardedFor(r.Header)
	for i := len(chain) - 1; i >= 0; i-- {
		a, err := netip.ParseAddr(chain[i])
		if err != nil {
			return peer // a garbled chain is not trusted further
		}
		a = a.Unmap()
		if !p.isTrusted(a) {
			return a
		}
	}
	return peer
}

// host is the host the client asked for: X-Forwarded-Host from a trusted
// proxy, else the Host header.
func (p *proxyPolicy) host(r *http.Request) string {
	if len(p.trusted) > 0 && p.isTrusted(remoteAddr(r)) {
		if h := r.Header.Get("X-Forwarded-Host"); h != "" {
			h, _, _ = strings.Cut(h, ",")
			return strings.TrimSpace(h)
		}
	}
	return r.Host
}

// https reports whether the client used TLS: the request came over TLS, or
// a trusted proxy says so in X-Forwarded-Proto.
func (p *proxyPolicy) https(r *http.Request) bool {
	if r.TLS != nil {
		return true
	}
	if len(p.trusted) > 0 && p.isTrusted(remoteAddr(r)) {
		proto, _, _ := strings.Cut(r.Header.Get("X-Forwarded-Proto"), ",")
		return strings.EqualFold(strings.TrimSpace(proto), "https")
	}
	return false
}

// forwardedFor lists the client chain, left (client) to right, from
// X-Forwarded-For (what nginx and HAProxy set, and the configs in deploy/
// use) or, when there is none, from the for= parameters of Forwarded
// (RFC 7239). Reading the header the proxy manages first matters: a proxy
// that appends to X-Forwarded-For passes a client's forged Forwarded on.
func forwardedFor(h http.Header) []string {
	var out []string
	for _, v := range h.Values("X-Forwarded-For") {
		for _, a := range strings.Split(v, ",") {
			if a = strings.TrimSpace(a); a != "" {
				out = append(out, a)
			}
		}
	}
	if len(out) > 0 {
		return out
	}
	for _, v := range h.Values("Forwarded") {
		for _, elem := range strings.Split(v, ",") {
			for _, pair := range strings.Split(elem, ";") {
				k, val, ok := strings.Cut(strings.TrimSpace(pair), "=")
				if !ok || !strings.EqualFold(k, "for") {
					continue
				}
				out = append(out, forwardedAddr(strings.Trim(val, `"`)))
			}
		}
	}
	return out
}

// forwardedAddr strips brackets and the port from a Forwarded for= value.
func forwardedAddr(val string) string {
	if strings.HasPrefix(val, "[") { // [v6]:port
		if end := strings.IndexByte(val, ']'); end > 0 {
			return val[1:end]
		}
	}
	if host, _, err := net.SplitHostPort(val); err == nil {
		return host
	}
	return val
}
