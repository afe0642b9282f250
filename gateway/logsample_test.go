package gateway

import (
	"bytes"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rs/zerolog"
)

// TestLogSampler: the first line of a key per interval goes out, the
// others are counted and reported with the next one; keys are independent.
func TestLogSampler(t *testing.T) {
	t.Parallel()
	ls := newLogSampler(time.Second)
	t0 := time.Unix(1000, 0)
	if ok, n := ls.allow("a", t0); !ok || n != 0 {
		t.Fatalf("first a: %v %d", ok, n)
	}
	for i := range 5 {
		if ok, _ := ls.allow("a", t0.Add(time.Duration(i)*100*time.Millisecond)); ok {
			t.Fatalf("repeat %d of a within the interval was let through", i)
		}
	}
	if ok, _ := ls.allow("b", t0); !ok {
		t.Fatal("first b held back by a")
	}
	if ok, n := ls.allow("a", t0.Add(time.Second)); !ok || n != 5 {
		t.Fatalf("a after the interval: %v, %d suppressed, want true, 5", ok, n)
	}
}

// TestLogSamplerBounded: past logSampleKeys distinct keys, new ones share
// one overflow key, so the sampler's memory is bounded whatever the keys.
func TestLogSamplerBounded(t *testing.T) {
	t.Parallel()
	ls := newLogSampler(time.Minute)
	t0 := time.Unix(1000, 0)
	let := 0
	for i := range logSampleKeys + 100 {
		if ok, _ := ls.allow("k"+strings.Repeat("x", i%7)+string(rune(i)), t0); ok {
			let++
		}
	}
	if len(ls.keys) > logSampleKeys+1 {
		t.Errorf("%d keys kept, want at most %d", len(ls.keys), logSampleKeys+1)
	}
	if let != logSampleKeys+1 {
		t.Errorf("%d lines let through, want %d (one per key, then one for the overflow)", let, logSampleKeys+1)
	}
	// Once the interval has passed, expired keys make room again.
	if ok, _ := ls.allow("fresh", t0.Add(time.Hour)); !ok {
		t.Error("a new key after the interval was held back")
	}
}

// TestOriginRefusalLogSampled: a client repeating a refused origin gets 403
// every time but logs one warn line per interval (issue 13, 10f); another
// origin still gets its own line.
func TestOriginRefusalLogSampled(t *testing.T) {
	t.Parallel()
	var buf bytes.Buffer
	s, err := New(Config{AllowedOrigins: []string{"https://ok.example"}, Logger: zerolog.New(&buf), Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
	if err != nil {
		t.Fatal(err)
	}
	for i := range 50 {
		o := "https://evil.example"
		if i == 49 {
			o = "https://other.example"
		}
		req := httptest.NewRequest(http.MethodGet, "/echo/info", nil)
		req.Header.Set("Origin", o)
		w := httptest.NewRecorder()
		s.Handler().ServeHTTP(w, req)
		if w.Code != http.StatusForbidden {
			t.Fatalf("request %d: %d, want 403", i, w.Code)
		}
	}
	if n := strings.Count(buf.String(), `"origin refused"`); n != 2 {
		t.Errorf("%d origin refused lines for 50 refusals of 2 origins, want 2:\n%s", n, buf.String())
	}
}

// TestLimitKey: IPv6 clients are counted by their /64, IPv4 (mapped or
// not) by their address.
func TestLimitKey(t *testing.T) {
	t.Parallel()
	for in, want := range map[string]string{
		"192.0.2.7":            "192.0.2.7",
		"::ffff:192.0.2.7":     "192.0.2.7",
		"2001:db8:1:2:3:4:5:6": "2001:db8:1:2::",
		"2001:db8:1:2:ffff::1": "2001:db8:1:2::",
		"fe80::1":              "fe80::",
		"2001:db8:1:3::1":      "2001:db8:1:3::",
	} {
		if got := limitKey(netip.MustParseAddr(in)); got.String() != want {
			t.Errorf("limitKey(%s) = %s, want %s", in, got, want)
		}
	}
}

// TestWarnOpenOrigins: own-host origin mode listening beyond loopback is
// warned about (DNS rebinding), loopback or an allowed-origins list is not
// (issue 13, 10c).
func TestWarnOpenOrigins(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		ip      string
		origins []string
		warn    bool
	}{
		{"0.0.0.0", nil, true},
		{"::", nil, true},
		{"192.0.2.10", nil, true},
		{"127.0.0.1", nil, false},
		{"::1", nil, false},
		{"0.0.0.0", []string{"https://app.example.com"}, false},
	} {
		var buf bytes.Buffer
		s, err := New(Config{AllowedOrigins: tc.origins, Logger: zerolog.New(&buf), Services: []Service{{Prefix: "/echo", Handler: nopHandler}}})
		if err != nil {
			t.Fatal(err)
		}
		s.warnOpenOrigins(&net.TCPAddr{IP: net.ParseIP(tc.ip), Port: 8080})
		if got := strings.Contains(buf.String(), "DNS rebinding"); got != tc.warn {
			t.Errorf("%s, origins %v: warned %v, want %v", tc.ip, tc.origins, got, tc.warn)
		}
	}
}
