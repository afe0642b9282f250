package engine

import (
	"runtime/debug"
	"sync"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

// Dispatcher calls one session's Events with the ordering Events promises:
// transports call Open, Message and Close from whatever goroutine they
// have, and the Dispatcher serializes them. Safe for concurrent use.
type Dispatcher struct {
	ev  session.Events
	s   session.Session
	log zerolog.Logger

	run  sync.Mutex // held while OnOpen or OnMessage runs
	busy *Counter   // counts the session while OnOpen or OnMessage runs

	mu      sync.Mutex
	opened  bool
	closed  bool
	running bool               // a callback runs (OnClose then waits for it)
	pending *session.CloseInfo // OnClose due once the running callback returns
}

// NewDispatcher returns the dispatcher of s; panics in ev are logged to log.
func NewDispatcher(ev session.Events, s session.Session, log zerolog.Logger) *Dispatcher {
	return &Dispatcher{ev: ev, s: s, log: log}
}

// Open calls OnOpen unless it was called (or the session closed) already.
func (d *Dispatcher) Open() {
	d.run.Lock()
	defer d.run.Unlock()
	d.openLocked()
}

func (d *Dispatcher) openLocked() {
	d.mu.Lock()
	if d.opened || d.closed {
		d.mu.Unlock()
		return
	}
	d.opened, d.running = true, true
	d.mu.Unlock()
	d.busy.add(1)
	defer d.busy.add(-1)
	d.call(func() { d.ev.OnOpen(d.s) })
	d.finished()
}

// Message calls OnMessage for each message, in order, after OnOpen. It
// returns ErrClosed, delivering no more, once the session closed.
// before is called before each message (the transports' traffic meter).
func (d *Dispatcher) Message(msgs []string, before func(msg string)) error {
	d.run.Lock()
	defer d.run.Unlock()
	d.openLocked()
	d.busy.add(1)
	defer d.busy.add(-1)
	for _, m := range msgs {
		d.mu.Lock()
		if d.closed {
			d.mu.Unlock()
			return session.ErrClosed
		}
		d.running = true
		d.mu.Unlock()
		if before != nil {
			before(m)
		}
		d.call(func() { d.ev.OnMessage(d.s, m) })
		d.finished()
	}
	return nil
}

// Close calls OnClose once, after any callback running now; it does
// nothing if OnOpen was never called.
func (d *Dispatcher) Close(info session.CloseInfo) {
	d.mu.Lock()
	if d.closed {
		d.mu.Unlock()
		return
	}
	d.closed = true
	if !d.opened {
		d.mu.Unlock()
		return
	}
	if d.running {
		d.pending = &info
		d.mu.Unlock()
		return
	}
	d.mu.Unlock()
	d.call(func() { d.ev.OnClose(d.s, info) })
}

// finished ends a running callback and calls a close that waited for it.
func (d *Dispatcher) finished() {
	d.mu.Lock()
	d.running = false
	p := d.pending
	d.pending = nil
	d.mu.Unlock()
	if p != nil {
		d.call(func() { d.ev.OnClose(d.s, *p) })
	}
}

// call runs one callback; a panic is logged and closes the session.
func (d *Dispatcher) call(f func()) {
	defer func() {
		if v := recover(); v != nil {
			d.log.Error().Str("session", d.s.ID()).Str("transport", d.s.Transport()).
				Interface("panic", v).Bytes("stack", debug.Stack()).Msg("handler panicked")
			_ = d.s.Close(session.CodeInternalError, session.ReasonInternalError)
		}
	}()
	f()
}
