package gateway

import (
	"net/http"
	"net/netip"
	"slices"
	"testing"
)

func TestForwardedFor(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		h    http.Header
		want []string
	}{
		{"none", http.Header{}, nil},
		{"X-Forwarded-For", http.Header{"X-Forwarded-For": {"203.0.113.1, 198.51.100.2"}}, []string{"203.0.113.1", "198.51.100.2"}},
		{"X-Forwarded-For fields in order", http.Header{"X-Forwarded-For": {"203.0.113.1", " 198.51.100.2 ,,"}}, []string{"203.0.113.1", "198.51.100.2"}},
		{"Forwarded", http.Header{"Forwarded": {"for=192.0.2.43, for=198.51.100.17"}}, []string{"192.0.2.43", "198.51.100.17"}},
		{"Forwarded with port and other pairs", http.Header{"Forwarded": {"for=192.0.2.60:4711;proto=http;by=203.0.113.43"}}, []string{"192.0.2.60"}},
		{"Forwarded IPv6 quoted with port", http.Header{"Forwarded": {`For="[2001:db8:cafe::17]:4711"`}}, []string{"2001:db8:cafe::17"}},
		{"Forwarded IPv6 quoted", http.Header{"Forwarded": {`for="[2001:db8::1]"`}}, []string{"2001:db8::1"}},
		{"Forwarded obfuscated", http.Header{"Forwarded": {"for=_hidden, for=unknown"}}, []string{"_hidden", "unknown"}},
		// The header proxies manage wins: a client's forged Forwarded is
		// passed on by a proxy that appends to X-Forwarded-For.
		{"X-Forwarded-For wins over a forged Forwarded", http.Header{"Forwarded": {"for=192.0.2.1"}, "X-Forwarded-For": {"203.0.113.1"}}, []string{"203.0.113.1"}},
		{"Forwarded without for falls back", http.Header{"Forwarded": {"proto=https"}, "X-Forwarded-For": {"203.0.113.1"}}, []string{"203.0.113.1"}},
	}
	for _, tc := range tests {
		if got := forwardedFor(tc.h); !slices.Equal(got, tc.want) {
			t.Errorf("%s: forwardedFor = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestClientIP(t *testing.T) {
	t.Parallel()
	trusted, err := newProxyPolicy([]string{"127.0.0.1", "10.0.0.0/8", " ", "::1"})
	if err != nil {
		t.Fatal(err)
	}
	none, _ := newProxyPolicy(nil)
	tests := []struct {
		name   string
		p      *proxyPolicy
		remote string
		h      http.Header
		want   string
	}{
		{"no proxies: the peer", none, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.1"}}, "127.0.0.1"},
		{"untrusted peer: headers ignored", trusted, "192.0.2.9:5000", http.Header{"X-Forwarded-For": {"203.0.113.1"}}, "192.0.2.9"},
		{"trusted peer: the forwarded client", trusted, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.1"}}, "203.0.113.1"},
		{"right-most untrusted wins over a spoofed left", trusted, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"198.51.100.66, 203.0.113.1"}}, "203.0.113.1"},
		{"chain of trusted proxies skipped", trusted, "10.1.2.3:5000", http.Header{"X-Forwarded-For": {"203.0.113.1, 10.9.9.9, 127.0.0.1"}}, "203.0.113.1"},
		{"all trusted: the peer", trusted, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"10.0.0.1"}}, "127.0.0.1"},
		{"no header: the peer", trusted, "127.0.0.1:5000", http.Header{}, "127.0.0.1"},
		{"garbled: the peer", trusted, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"203.0.113.1, junk"}}, "127.0.0.1"},
		{"obfuscated Forwarded: the peer", trusted, "127.0.0.1:5000", http.Header{"Forwarded": {"for=unknown"}}, "127.0.0.1"},
		{"Forwarded IPv6", trusted, "[::1]:5000", http.Header{"Forwarded": {`for="[2001:db8::1]:80"`}}, "2001:db8::1"},
		{"IPv4-mapped peer is trusted", trusted, "[::ffff:127.0.0.1]:5000", http.Header{"X-Forwarded-For": {"203.0.113.1"}}, "203.0.113.1"},
		{"IPv4-mapped client unmapped", trusted, "127.0.0.1:5000", http.Header{"X-Forwarded-For": {"::ffff:203.0.113.1"}}, "203.0.113.1"},
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.remote, Header: tc.h}
		if got := tc.p.clientIP(r); got != netip.MustParseAddr(tc.want) {
			t.Errorf("%s: clientIP = %v, want %s", tc.name, got, tc.want)
		}
	}
}

func TestProxyHost(t *testing.T) {
	t.Parallel()
	trusted, _ := newProxyPolicy([]string{"127.0.0.1/32"})
	none, _ := newProxyPolicy(nil)
	h := http.Header{"X-Forwarded-Host": {"public.example.net, inner.example.net"}}
	tests := []struct {
		name   string
		p      *proxyPolicy
		remote string
		want   string
	}{
		{"trusted proxy: first X-Forwarded-Host", trusted, "127.0.0.1:1", "public.example.net"},
		{"untrusted peer: Host", trusted, "192.0.2.1:1", "gw.internal:8080"},
		{"no proxies: Host", none, "127.0.0.1:1", "gw.internal:8080"},
	}
	for _, tc := range tests {
		r := &http.Request{RemoteAddr: tc.remote, Host: "gw.internal:8080", Header: h}
		if got := tc.p.host(r); got != tc.want {
			t.Errorf("%s: host = %q, want %q", tc.name, got, tc.want)
		}
	}
}

func TestNewProxyPolicyErrors(t *testing.T) {
	t.Parallel()
	for _, c := range []string{"not-an-ip", "10.0.0.0/33", "300.1.1.1"} {
		if _, err := newProxyPolicy([]string{c}); err == nil {
			t.Errorf("newProxyPolicy(%q) accepted it", c)
		}
	}
	p, err := newProxyPolicy([]string{"10.1.2.3/8"})
	if err != nil {
		t.Fatal(err)
	}
	if !p.isTrusted(netip.MustParseAddr("10.200.0.1")) {
		t.Error("10.1.2.3/8 is not masked to 10.0.0.0/8")
	}
}
