package session

import "time"

// The publisher throttle of Room.Broadcast: a broadcast that leaves a
// member's queue over its soft mark (half of Options.MaxQueueBytes) waits
// for it to drain, up to Options.SlowClientTimeout, then cuts the member.

// sendShared queues a broadcast message: q is msg encoded with
// AppendQuoted, shared by every member; a raw-mode session frames msg.
// over reports that the queue is now over its soft mark (half of
// MaxQueueBytes): the broadcaster should wait for it (awaitSoftMark).
func (s *SockJS) sendShared(msg string, q []byte) (over bool, err error) {
	s.mu.Lock()
	if s.state != stateOpen {
		s.mu.Unlock()
		return false, ErrClosed
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

// awaitSoftMark waits until the session's queue is back under its soft
// mark (or the session closed) and reports true, or closes the session
// with CodeSlowClient when that has not happened by deadline.
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
