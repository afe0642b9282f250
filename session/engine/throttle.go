package engine

import (
	"time"

	"github.com/sockgate/sockgate/session"
)

// The publisher throttle of session.Room.Broadcast: a broadcast that leaves a
// member's queue over its soft mark (half of Options.MaxQueueBytes) waits
// for it to drain, up to Options.SlowClientTimeout, then cuts the member.

// EncodeShared encodes msg once for every member of a session.Room:
// quoted with AppendQuoted.
func (s *SockJS) EncodeShared(msg string) []byte {
	return AppendQuoted(make([]byte, 0, len(msg)+8), msg)
}

// SendShared queues a broadcast message: q is msg encoded with
// EncodeShared, shared by every member; a raw-mode session frames msg.
// over reports that the queue is now over its soft mark (half of
// MaxQueueBytes): the broadcaster should wait for it (AwaitSoftMark).
// session.Room calls it.
func (s *SockJS) SendShared(msg string, q []byte) (over bool, err error) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false, session.ErrClosed
	}
	if s.frameRaw != nil {
		s.out = s.frameRaw(s.out, msg)
		s.countOut(len(msg))
	} else {
		s.out = append(s.appendSep(), q...)
		s.countOut(len(q) - 2)
	}
	over = s.queuedBytes() > s.opts.MaxQueueBytes/2
	return over, s.queuedLocked()
}

func (s *SockJS) appendSep() []byte {
	if len(s.out) > emptyBatch {
		return append(s.out, ',')
	}
	return s.out
}

// AwaitSoftMark waits until the session's queue is back under its soft
// mark (or the session closed), or closes the session with
// CodeSlowClient when that has not happened within
// Options.SlowClientTimeout from start. session.Room calls it.
func (s *SockJS) AwaitSoftMark(start time.Time) {
	s.awaitSoftMark(start.Add(s.opts.SlowClientTimeout))
}

// awaitSoftMark is AwaitSoftMark with its deadline; it reports whether the
// queue drained in time.
func (s *SockJS) awaitSoftMark(deadline time.Time) bool {
	var timer *time.Timer
	for {
		s.mu.Lock()
		if s.state != stateOpen || s.queuedBytes() <= s.opts.MaxQueueBytes/2 {
			s.mu.Unlock()
			return true
		}
		wait := time.Until(deadline)
		if wait <= 0 {
			s.cutSlowLocked()
			return false
		}
		if s.drained == nil {
			s.drained = make(chan struct{})
		}
		ch := s.drained
		s.mu.Unlock()
		if timer == nil {
			timer = time.NewTimer(wait)
			defer timer.Stop()
		}
		select {
		case <-ch:
		case <-s.done:
		case <-timer.C:
		}
	}
}
