package engine

// GiveBack returns to the session a frame that Next or TryNext handed out
// but that never reached the client: a receiver on another node whose
// client went away, or whose node did not confirm the write. The next
// receiver gets it again, before anything queued since: a batch of
// messages goes back in front of the queue, the open frame is sent again,
// and the close frame is replayed. Heartbeats are dropped. Call it before
// Detach or Abort, from the goroutine that owns the receiver.
func (r *Receiver) GiveBack(frame []byte) {
	if len(frame) == 0 {
		return
	}
	s := r.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forgotten {
		return
	}
	switch frame[0] {
	case 'o':
		s.openSent = false
	case 'a':
		if len(frame) <= emptyBatch+1 {
			return
		}
		out := append(make([]byte, 0, len(frame)+len(s.out)), frame[:len(frame)-1]...)
		if len(s.out) > emptyBatch {
			out = append(append(out, ','), s.out[emptyBatch:]...)
		}
		s.out = out
	case 'c':
		if s.state == stateClosed {
			s.state = stateClosing
		}
	}
}
