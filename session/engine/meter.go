package engine

import (
	"errors"
	"sync"
	"time"
)

// ErrRateLimited is returned by Deliver when a client sends messages faster
// than Options.MaxMessagesPerSecond; the session is closed with
// CodeRateLimited.
var ErrRateLimited = errors.New("engine: message rate limit exceeded")

// Meter counts one transport's messages; the gateway backs it with
// Prometheus counters. Methods must be safe for concurrent use and cheap.
type Meter interface {
	// In counts one message of n bytes from a client.
	In(n int)
	// Out counts one message of about n bytes queued for a client.
	Out(n int)
}

type nopMeter struct{}

func (nopMeter) In(int)  {}
func (nopMeter) Out(int) {}

// rateLimiter is a token bucket of perSecond tokens a second with a burst
// of perSecond; zero perSecond allows everything.
type rateLimiter struct {
	perSecond int
	mu        sync.Mutex
	tokens    float64
	last      time.Time
}

func (l *rateLimiter) allow(n int) bool {
	if l.perSecond <= 0 {
		return true
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	now := time.Now()
	if l.last.IsZero() {
		l.tokens = float64(l.perSecond)
	} else {
		l.tokens += now.Sub(l.last).Seconds() * float64(l.perSecond)
		if max := float64(l.perSecond); l.tokens > max {
			l.tokens = max
		}
	}
	l.last = now
	if l.tokens < float64(n) {
		return false
	}
	l.tokens -= float64(n)
	return true
}
