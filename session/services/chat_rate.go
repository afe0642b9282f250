package services

import "time"

// bucket is a token bucket: up to burst commands at once, refilled at rate
// a second. A rate below zero never runs out. Only its member's handler
// goroutine uses it.
type bucket struct {
	rate   float64
	burst  float64
	tokens float64
	last   time.Time
}

func newBucket(rate float64, burst int, now time.Time) bucket {
	return bucket{rate: rate, burst: float64(burst), tokens: float64(burst), last: now}
}

// take spends one token, or reports false when there is none.
func (b *bucket) take(now time.Time) bool {
	if b.rate < 0 {
		return true
	}
	if elapsed := now.Sub(b.last).Seconds(); elapsed > 0 {
		b.tokens = min(b.burst, b.tokens+elapsed*b.rate)
	}
	b.last = now
	if b.tokens < 1 {
		return false
	}
	b.tokens--
	return true
}
