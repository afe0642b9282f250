package session

import (
	"context"
	"runtime/debug"
	"sync"

	"github.com/rs/zerolog"
)

// Events is an application's code for one service in callback form, the
// alternative to Handler. The transport calls it from the goroutine that
// already serves the session (a websocket's reader, a send request), so a
// session costs no goroutine of its own and an idle one costs none at all,
// as in sockjs-node's event API.
//
// For one session the calls never overlap and come in order: OnOpen once,
// before the client learns the session is open; OnMessage for each message
// from the client; OnClose once when the session ends, whoever ends it
// (it follows an OnOpen, and nothing follows it; when Send closed the
// session because the client is too slow, it runs in a goroutine of its
// own, since the sender may hold locks OnClose needs). A callback should not
// block for long: it holds up the client's next messages, as a slow Recv
// loop would. Send never blocks, so answering from OnMessage is cheap. A
// panic closes the session with CodeInternalError, as in Run.
//
// On the native engine the client's open frame waits for OnOpen to return,
// with no bound of its own: an OnOpen that must finish something first
// (gateway/upstream dials its backend there) may block for it, within the
// service's disconnect delay.
type Events interface {
	// OnOpen is called once when the session opens.
	OnOpen(s Session)
	// OnMessage is called for each message from the client.
	OnMessage(s Session, msg string)
	// OnClose is called once when the session ends, with how it ended.
	OnClose(s Session, info CloseInfo)
}

// EventsHandler runs ev as a Handler: for engines that give every session
// a goroutine anyway (the compat engine).
func EventsHandler(ev Events) Handler {
	return func(ctx context.Context, s Session) {
		ev.OnOpen(s)
		defer func() {
			info := s.CloseInfo()
			if info.Code == 0 { // the handler ended first: Run closes with 1000
				info = CloseInfo{Code: CodeNormal, Reason: ReasonNormal}
			}
			ev.OnClose(s, info)
		}()
		for {
			m, err := s.Recv(ctx)
			if err != nil {
				return
			}
			ev.OnMessage(s, m)
		}
	}
}

// Dispatcher calls one session's Events with the ordering Events promises:
// transports call Open, Message and Close from whatever goroutine they
// have, and the Dispatcher serializes them. Safe for concurrent use.
type Dispatcher struct {
	ev  Events
	s   Session
	log zerolog.Logger

	run  sync.Mutex // held while OnOpen or OnMessage runs
	busy *Counter   // counts the session while OnOpen or OnMessage runs

	mu      sync.Mutex
	opened  bool
	closed  bool
	running bool       // a callback runs (OnClose then waits for it)
	pending *CloseInfo // OnClose due once the running callback returns
}

// NewDispatcher returns the dispatcher of s; panics in ev are logged to log.
func NewDispatcher(ev Events, s Session, log zerolog.Logger) *Dispatcher {
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
			return ErrClosed
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
func (d *Dispatcher) Close(info CloseInfo) {
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
			_ = d.s.Close(CodeInternalError, ReasonInternalError)
		}
	}()
	f()
}

// EventFuncs implements Events with plain functions; a nil one does nothing.
type EventFuncs struct {
	Open    func(s Session)
	Message func(s Session, msg string)
	Close   func(s Session, info CloseInfo)
}

// OnOpen implements Events.
func (f EventFuncs) OnOpen(s Session) {
	if f.Open != nil {
		f.Open(s)
	}
}

// OnMessage implements Events.
func (f EventFuncs) OnMessage(s Session, msg string) {
	if f.Message != nil {
		f.Message(s, msg)
	}
}

// OnClose implements Events.
func (f EventFuncs) OnClose(s Session, info CloseInfo) {
	if f.Close != nil {
		f.Close(s, info)
	}
}
