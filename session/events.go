package session

import "context"

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
