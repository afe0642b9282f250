package engine

import (
	"sync/atomic"
	"time"
)

// Stats is what one session carried, for its close log line.
type Stats struct {
	// Opened is when the session was created.
	Opened time.Time
	// MessagesIn counts messages from the client.
	MessagesIn uint64
	// MessagesOut counts messages queued for the client.
	MessagesOut uint64
}

// stats are a session's counters; in and out are counted outside and
// inside the session lock respectively, so both are atomic.
type stats struct {
	opened  time.Time
	in, out atomic.Uint64
}

// countIn meters one message from the client.
func (s *SockJS) countIn(m string) {
	s.stats.in.Add(1)
	s.meter.In(len(m))
}

// countOut meters one message of about n bytes queued for the client.
func (s *SockJS) countOut(n int) {
	s.stats.out.Add(1)
	s.meter.Out(n)
}

// Stats returns what the session has carried so far.
func (s *SockJS) Stats() Stats {
	return Stats{Opened: s.stats.opened, MessagesIn: s.stats.in.Load(), MessagesOut: s.stats.out.Load()}
}
