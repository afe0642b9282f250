package gateway

import (
	"net/netip"
	"sync"
	"sync/atomic"
)

// sessionLimiter bounds sessions in total and per client address (an IPv6
// client by its /64, see limitKey), across every service of a gateway. Zero
// bounds mean unlimited.
type sessionLimiter struct {
	maxTotal, maxPerIP int
	total              atomic.Int64
	mu                 sync.Mutex
	perIP              map[netip.Addr]int
}

func newSessionLimiter(maxTotal, maxPerIP int) *sessionLimiter {
	return &sessionLimiter{maxTotal: maxTotal, maxPerIP: maxPerIP, perIP: make(map[netip.Addr]int)}
}

// acquire takes a place for a new session from ip, or says which bound
// refused it.
func (l *sessionLimiter) acquire(ip netip.Addr) (cause string, ok bool) {
	if n := l.total.Add(1); l.maxTotal > 0 && n > int64(l.maxTotal) {
		l.total.Add(-1)
		return refusedTotal, false
	}
	if l.maxPerIP <= 0 {
		return "", true
	}
	ip = limitKey(ip)
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.perIP[ip] >= l.maxPerIP {
		l.total.Add(-1)
		return refusedPerIP, false
	}
	l.perIP[ip]++
	return "", true
}

// release gives back the place of a session from ip.
func (l *sessionLimiter) release(ip netip.Addr) {
	l.total.Add(-1)
	if l.maxPerIP <= 0 {
		return
	}
	ip = limitKey(ip)
	l.mu.Lock()
	if n := l.perIP[ip] - 1; n > 0 {
		l.perIP[ip] = n
	} else {
		delete(l.perIP, ip)
	}
	l.mu.Unlock()
}

// validSessionID bounds the length of a session or server id and refuses
// control characters. The protocol lets ids hold any other value (spaces
// and non-ASCII included); '.' and '/' never reach here.
func validSessionID(id string, maxLen int) bool {
	if id == "" || len(id) > maxLen {
		return false
	}
	for i := 0; i < len(id); i++ {
		if c := id[i]; c < 0x20 || c == 0x7f {
			return false
		}
	}
	return true
}
