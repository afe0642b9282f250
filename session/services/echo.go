package services

import (
	"context"

	"github.com/sockgate/sockgate/session"
)

// Echo sends every message back to its sender.
func Echo(ctx context.Context, s session.Session) {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return
		}
		if s.Send(m) != nil {
			return
		}
	}
}

// EchoEvents is Echo in callback form (session.Events): the same service
// with no goroutine per session.
var EchoEvents session.Events = echoEvents{}

type echoEvents struct{}

func (echoEvents) OnOpen(session.Session)                     {}
func (echoEvents) OnMessage(s session.Session, msg string)    { _ = s.Send(msg) }
func (echoEvents) OnClose(session.Session, session.CloseInfo) {}
