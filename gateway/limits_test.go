package gateway

import (
	"net/netip"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

func TestSessionLimiterTotal(t *testing.T) {
	t.Parallel()
	l := newSessionLimiter(2, 0)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 2 {
		if cause, ok := l.acquire(a); !ok {
			t.Fatalf("acquire %d refused: %s", i, cause)
		}
	}
	if cause, ok := l.acquire(a); ok || cause != refusedTotal {
		t.Fatalf("third acquire: %q %v, want %q refused", cause, ok, refusedTotal)
	}
	l.release(a)
	if _, ok := l.acquire(a); !ok {
		t.Fatal("acquire after a release refused")
	}
}

func TestSessionLimiterPerIP(t *testing.T) {
	t.Parallel()
	l := newSessionLimiter(2, 1)
	a, b, c := netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("192.0.2.2"), netip.MustParseAddr("192.0.2.3")
	if _, ok := l.acquire(a); !ok {
		t.Fatal("first from a refused")
	}
	if cause, ok := l.acquire(a); ok || cause != refusedPerIP {
		t.Fatalf("second from a: %q %v, want %q refused", cause, ok, refusedPerIP)
	}
	// The per-address refusal gave its place in the total back.
	if _, ok := l.acquire(b); !ok {
		t.Fatal("first from b refused")
	}
	if cause, ok := l.acquire(c); ok || cause != refusedTotal {
		t.Fatalf("first from c: %q %v, want %q refused", cause, ok, refusedTotal)
	}
	l.release(a)
	if _, ok := l.acquire(c); !ok {
		t.Fatal("c refused after a released")
	}
	l.release(b)
	l.release(c)
	if n := l.total.Load(); n != 0 {
		t.Errorf("total %d after releasing everything", n)
	}
	if len(l.perIP) != 0 {
		t.Errorf("per-address map keeps %v after releasing everything", l.perIP)
	}
}

func TestSessionLimiterUnlimited(t *testing.T) {
	t.Parallel()
	l := newSessionLimiter(0, 0)
	a := netip.MustParseAddr("192.0.2.1")
	for i := range 1000 {
		if _, ok := l.acquire(a); !ok {
			t.Fatalf("acquire %d refused without bounds", i)
		}
	}
}

func TestSessionLimiterConcurrent(t *testing.T) {
	t.Parallel()
	const max, tries = 10, 200
	l := newSessionLimiter(max, 3)
	var got atomic.Int64
	var wg sync.WaitGroup
	for i := range tries {
		wg.Add(1)
		go func() {
			defer wg.Done()
			a := netip.AddrFrom4([4]byte{192, 0, 2, byte(i % 7)})
			if _, ok := l.acquire(a); ok {
				got.Add(1)
			}
		}()
	}
	wg.Wait()
	if got.Load() != max {
		t.Errorf("%d of %d concurrent acquires succeeded, want exactly %d", got.Load(), tries, max)
	}
	for a, n := range l.perIP {
		if n > 3 {
			t.Errorf("%v holds %d places, want at most 3", a, n)
		}
	}
}

func TestValidSessionID(t *testing.T) {
	t.Parallel()
	tests := []struct {
		id   string
		want bool
	}{
		{"a", true},
		{"000", true},
		{"with space", true},
		{"ünïcödé", true},
		{strings.Repeat("x", 128), true},
		{strings.Repeat("x", 129), false},
		{strings.Repeat("x", 10000), false},
		{"", false},
		{"a\x00b", false},
		{"a\nb", false},
		{"a\x7fb", false},
		{"\x1f", false},
	}
	for _, tc := range tests {
		if got := validSessionID(tc.id, DefaultMaxSessionIDLength); got != tc.want {
			t.Errorf("validSessionID(%q) = %v, want %v", clipID(tc.id), got, tc.want)
		}
	}
}

func clipID(s string) string {
	if len(s) > 20 {
		return s[:20] + "..."
	}
	return s
}
