package engine

import (
	"context"
	"errors"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/session"
)

// ErrReceiverAttached is returned by AttachWait when another receiver is
// still attached (the SockJS 2010 case).
var ErrReceiverAttached = errors.New("engine: another receiver attached")

// Receiver is one transport request (a poll, a stream, a websocket) attached
// to a session to carry its frames to the client. Only one is attached at a
// time. Next and the write that follows belong to one goroutine; Detach and
// Abort end the attachment and may be called once from that goroutine.
type Receiver struct {
	s         *SockJS
	wakeCh    chan struct{}
	gone      chan struct{} // closed by Detach
	heartbeat *time.Timer
	lastFrame time.Time // when Next last returned a frame (pull mode)

	notify       func()      // push mode: called instead of waking wakeCh
	heartbeatDue atomic.Bool // push mode: a heartbeat is due
}

// AttachGrace is how long AttachWait lets the current receiver go before
// answering 2010. A client that aborts a request and polls again at once
// races the server noticing the abort; the grace lets the abort win, as it
// does on the reference server.
const AttachGrace = 150 * time.Millisecond

// AttachWait attaches a new receiver, as attach, except that when another receiver is attached it
// waits up to AttachGrace (or until ctx ends) for it to detach first.
func (s *SockJS) AttachWait(ctx context.Context) (*Receiver, error) {
	return s.attachWait(ctx, nil)
}

// AttachWaitPush is AttachWait for a push receiver, which calls notify
// whenever a frame may be ready instead of blocking in Next (see attach).
func (s *SockJS) AttachWaitPush(ctx context.Context, notify func()) (*Receiver, error) {
	return s.attachWait(ctx, notify)
}

func (s *SockJS) attachWait(ctx context.Context, notify func()) (*Receiver, error) {
	var timer *time.Timer
	for {
		r, err := s.attach(notify)
		if !errors.Is(err, ErrReceiverAttached) {
			return r, err
		}
		s.mu.Lock()
		cur := s.recv
		s.mu.Unlock()
		if cur == nil {
			continue
		}
		if timer == nil {
			timer = time.NewTimer(AttachGrace)
			defer timer.Stop()
		}
		select {
		case <-cur.gone:
		case <-timer.C:
			return nil, ErrReceiverAttached
		case <-ctx.Done():
			return nil, ErrReceiverAttached
		}
	}
}

// attach attaches a new receiver: a push receiver when notify is set (the
// session calls notify whenever a frame may be ready, and the transport
// drains them with TryNext; for a transport whose goroutine is busy
// reading, as a websocket's), else a pull one (Next). It fails with
// ErrReceiverAttached when another one is attached (answer c[2010,...]),
// and with ErrClosed when the session is already forgotten (the caller
// should create a new session). notify must not block and is called with
// no session lock held.
func (s *SockJS) attach(notify func()) (*Receiver, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.forgotten {
		return nil, session.ErrClosed
	}
	if s.recv != nil {
		return nil, ErrReceiverAttached
	}
	r := &Receiver{s: s, gone: make(chan struct{}), notify: notify, lastFrame: time.Now()}
	if notify == nil {
		r.wakeCh = make(chan struct{}, 1)
	}
	s.recv = r
	if s.timer != nil {
		s.timer.Stop()
	}
	return r, nil
}

func (r *Receiver) wake() {
	if r.notify != nil {
		r.notify()
		return
	}
	select {
	case r.wakeCh <- struct{}{}:
	default:
	}
}

// Heartbeat makes the next TryNext return a heartbeat frame if it has
// nothing else, and notifies; push transports call it on their own timer.
func (r *Receiver) Heartbeat() {
	r.heartbeatDue.Store(true)
	r.wake()
}

// Next blocks until there is a frame for the client and returns it, without
// the transport's own framing: "o" once per session, then "a[...]" batches of
// every message queued, "h" after the heartbeat delay with nothing to send,
// and finally the close frame, with last set: the transport writes it and
// ends the response. An error (ctx ended, or the session was forgotten)
// means there is nothing more to write. The frame is the caller's to keep.
func (r *Receiver) Next(ctx context.Context) (frame []byte, last bool, err error) {
	for {
		frame, last, ok, err := r.TryNext(ctx)
		if ok || err != nil {
			r.lastFrame = time.Now()
			return frame, last, err
		}
		if hb, ok := r.wait(ctx); !ok {
			return nil, true, ctx.Err()
		} else if hb {
			r.lastFrame = time.Now()
			return HeartbeatFrame, false, nil
		}
	}
}

// TryNext is Next without the wait: ok is false when there is nothing to
// write now. Only the open frame may wait (up to OpenGrace) for the handler.
func (r *Receiver) TryNext(ctx context.Context) (frame []byte, last, ok bool, err error) {
	s := r.s
	s.mu.Lock()
	switch {
	case s.recv != r || s.forgotten:
		s.mu.Unlock()
		return nil, true, false, session.ErrClosed
	case !s.openSent:
		s.openSent = true
		s.mu.Unlock()
		// Let the handler set itself up (join its rooms) before the
		// client learns the session is open.
		s.progress.waitReady(ctx)
		return OpenFrame, false, true, nil
	case s.queuedBytes() > 0:
		frame = s.out
		if s.frameRaw == nil {
			frame = append(frame, ']')
		}
		s.takeOutLocked()
		s.mu.Unlock()
		return frame, false, true, nil
	case s.state != stateOpen:
		frame = s.closeMsg
		s.state = stateClosed
		s.mu.Unlock()
		if frame == nil {
			return nil, true, false, session.ErrClosed
		}
		return frame, true, true, nil
	}
	s.mu.Unlock()
	if r.heartbeatDue.CompareAndSwap(true, false) {
		return HeartbeatFrame, false, true, nil
	}
	return nil, false, false, nil
}

// wait blocks until woken (false, true), the heartbeat is due (true, true)
// or ctx ends (_, false).
// The heartbeat timer is armed once and re-armed only when it fires, so a
// busy stream does not pay a timer change per frame.
func (r *Receiver) wait(ctx context.Context) (heartbeat, ok bool) {
	d := r.s.opts.HeartbeatDelay
	if r.heartbeat == nil {
		r.heartbeat = time.NewTimer(d)
	}
	for {
		select {
		case <-r.wakeCh:
			return false, true
		case <-r.heartbeat.C:
			if idle := time.Since(r.lastFrame); idle < d {
				r.heartbeat.Reset(d - idle)
				continue
			}
			r.heartbeat.Reset(d)
			return true, true
		case <-ctx.Done():
			return false, false
		}
	}
}

// Detach ends the attachment normally (poll answered, stream at its limit,
// close frame written); the session waits for the next receiver for up to
// the disconnect delay.
func (r *Receiver) Detach() {
	s := r.s
	s.mu.Lock()
	if r.heartbeat != nil {
		r.heartbeat.Stop()
	}
	if s.recv == r {
		s.recv = nil
		close(r.gone)
		if !s.forgotten {
			s.armTimerLocked()
		}
		if s.state == stateClosed && !s.connOwned {
			s.finishLocked() // its receiver has written the close frame
		}
	}
	s.mu.Unlock()
}

// Abort ends the attachment because the client went away mid-request: an
// open session is closed with c[1002,"Connection interrupted"], which the
// next receiver gets.
func (r *Receiver) Abort() {
	r.s.Close(session.CodeInterrupted, session.ReasonInterrupted)
	r.Detach()
}
