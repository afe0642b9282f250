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

// QueueShared queues a broadcast message without waking the session's
// receiver: q is msg encoded with EncodeShared, shared by every member; a
// raw-mode session frames msg. flush reports that the caller must call
// FlushShared later: the first message queued since the last FlushShared
// asks for it, the next ones ride on the same flush, so a member that is
// behind gets all of them in one frame and one write. over reports that
// the queue is now over its soft mark (half of MaxQueueBytes): the
// broadcaster should wait for it (AwaitSoftMark). session.Room calls it.
func (s *SockJS) QueueShared(msg string, q []byte) (flush, over bool, err error) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false, false, session.ErrClosed
	}
	if s.frameRaw != nil {
		s.out = s.frameRaw(s.out, msg)
		s.countOut(len(msg))
	} else {
		s.out = append(s.appendSep(), q...)
		s.countOut(len(q) - 2)
	}
	over = s.queuedBytes() > s.opts.MaxQueueBytes/2
	if s.cutIfOverLocked() {
		return false, false, session.ErrQueueFull
	}
	if s.recv != nil && !s.flushAsked {
		s.flushAsked, flush = true, true
	}
	s.mu.Unlock()
	return flush, over, nil
}

// FlushShared wakes the session's receiver for the messages QueueShared
// queued; session.Room calls it once for each flush QueueShared asked for.
func (s *SockJS) FlushShared() {
	s.mu.Lock()
	s.flushAsked = false
	r := s.recv
	s.mu.Unlock()
	if r != nil {
		r.wake()
	}
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
