package gateway

import (
	"sync"
	"time"

	"github.com/rs/zerolog"
)

// Bounds of the warn-line sampler.
const (
	// logSampleInterval is the window in which each key of a repeated warn
	// line (a 500 on one route, a refusal of one origin) is logged once.
	logSampleInterval = 10 * time.Second
	// logSampleKeys bounds the keys the sampler remembers; past it, lines
	// of new keys share one overflow key.
	logSampleKeys = 4096
	// logSampleOverflow is that shared key.
	logSampleOverflow = "\x00overflow"
)

// logSampler lets through the first warn line of each key per
// logSampleInterval and counts the others, so that a client repeating a bad
// request cannot flood the log: the next line of that key says how many
// were left out. Safe for concurrent use.
type logSampler struct {
	interval time.Duration
	mu       sync.Mutex
	keys     map[string]*sampledKey
}

// sampledKey is one key's window: when its last line went out and how many
// have been left out since.
type sampledKey struct {
	logged     time.Time
	suppressed int
}

func newLogSampler(interval time.Duration) *logSampler {
	return &logSampler{interval: interval, keys: make(map[string]*sampledKey)}
}

// allow reports whether a line of key may be logged at now and, when it
// may, how many lines of that key were left out before it.
func (ls *logSampler) allow(key string, now time.Time) (ok bool, suppressed int) {
	ls.mu.Lock()
	defer ls.mu.Unlock()
	k := ls.keys[key]
	if k == nil {
		if len(ls.keys) >= logSampleKeys {
			ls.sweep(now)
		}
		if len(ls.keys) >= logSampleKeys {
			key = logSampleOverflow
			k = ls.keys[key]
		}
	}
	if k == nil {
		ls.keys[key] = &sampledKey{logged: now}
		return true, 0
	}
	if now.Sub(k.logged) < ls.interval {
		k.suppressed++
		return false, 0
	}
	suppressed = k.suppressed
	k.logged, k.suppressed = now, 0
	return true, suppressed
}

// sweep forgets the keys whose window has passed (their count of lines
// left out with them).
func (ls *logSampler) sweep(now time.Time) {
	for key, k := range ls.keys {
		if now.Sub(k.logged) >= ls.interval {
			delete(ls.keys, key)
		}
	}
}

// warnSampled logs a warn line of key through ls, with the count of lines
// of that key left out since the last one; fill adds the line's fields.
func (s *Server) warnSampled(key, msg string, fill func(e *zerolog.Event) *zerolog.Event) {
	if !s.log.Warn().Enabled() {
		return
	}
	ok, suppressed := s.sampler.allow(key, time.Now())
	if !ok {
		return
	}
	e := fill(s.log.Warn())
	if suppressed > 0 {
		e = e.Int("suppressed", suppressed)
	}
	e.Msg(msg)
}
