package gateway

import "testing"

func TestOriginPolicyAllowed(t *testing.T) {
	t.Parallel()
	policy := func(entries ...string) *originPolicy {
		p, err := newOriginPolicy(entries)
		if err != nil {
			t.Fatalf("newOriginPolicy(%q): %v", entries, err)
		}
		return p
	}
	exact := policy("https://app.example.com", "*.example.org", "example.net", " HTTP://Upper.Example.Com:8080 ")
	own := policy()
	any := policy("*")
	null := policy("null")
	const host = "gw.example.io:8443"
	tests := []struct {
		name   string
		p      *originPolicy
		origin string
		want   bool
	}{
		{"no Origin", exact, "", true},
		{"exact", exact, "https://app.example.com", true},
		{"exact, other case", exact, "HTTPS://App.Example.COM", true},
		{"exact, other scheme", exact, "http://app.example.com", false},
		{"exact, explicit port", exact, "https://app.example.com:8443", false},
		{"exact entry trimmed and lowered", exact, "http://upper.example.com:8080", true},
		{"exact entry port is part of it", exact, "http://upper.example.com", false},
		{"wildcard subdomain", exact, "https://chat.example.org", true},
		{"wildcard deep subdomain, any scheme and port", exact, "http://a.b.example.org:81", true},
		{"wildcard does not cover the apex", exact, "https://example.org", false},
		{"wildcard is a label boundary", exact, "https://evilexample.org", false},
		{"wildcard suffix attack", exact, "https://chat.example.org.evil.net", false},
		{"bare host, any scheme and port", exact, "http://example.net:1234", true},
		{"bare host subdomain", exact, "https://www.example.net", false},
		{"userinfo trick", exact, "https://app.example.com@evil.net", false},
		{"path trick", exact, "https://evil.net/app.example.com", false},
		{"null not listed", exact, "null", false},
		{"null listed", null, "null", true},
		{"garbage", exact, "not an origin", false},
		{"no host", exact, "https://", false},
		{"same host", own, "https://gw.example.io:8443", true},
		{"same host, other case", own, "https://GW.example.io:8443", true},
		{"same name, other port", own, "https://gw.example.io", false},
		{"own host only", own, "https://app.example.com", false},
		{"any", any, "https://whatever.test", true},
		{"any, null", any, "null", true},
	}
	for _, tc := range tests {
		if got := tc.p.allowed(tc.origin, host); got != tc.want {
			t.Errorf("%s: allowed(%q, %q) = %v, want %v", tc.name, tc.origin, host, got, tc.want)
		}
	}
}

func TestOriginPolicyCSP(t *testing.T) {
	t.Parallel()
	tests := []struct {
		entries []string
		want    string
	}{
		{nil, "frame-ancestors 'self'"},
		{[]string{"*"}, "frame-ancestors *"},
		{[]string{"https://a.example.com", "*.example.org", "example.net", "null"}, "frame-ancestors 'self' https://a.example.com *.example.org example.net"},
		{[]string{"https://a.example.com/"}, "frame-ancestors 'self' https://a.example.com"},
	}
	for _, tc := range tests {
		p, err := newOriginPolicy(tc.entries)
		if err != nil {
			t.Fatalf("newOriginPolicy(%q): %v", tc.entries, err)
		}
		if p.csp != tc.want {
			t.Errorf("newOriginPolicy(%q).csp = %q, want %q", tc.entries, p.csp, tc.want)
		}
	}
}

func TestOriginPolicyRejectsBadEntries(t *testing.T) {
	t.Parallel()
	for _, e := range []string{"https://a.example.com/path", "https://", "a.example.com/x", "a.example.com?q", "a#b"} {
		if _, err := newOriginPolicy([]string{e}); err == nil {
			t.Errorf("newOriginPolicy(%q) accepted it", e)
		}
	}
}
