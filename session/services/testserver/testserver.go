package testserver

import (
	"context"
	"math"
	"strconv"
	"strings"
	"time"

	"github.com/sockgate/sockgate/session"
)

// CloseAtOnce closes every new session with c[3000,"Go away!"].
func CloseAtOnce(_ context.Context, s session.Session) {
	_ = s.Close(session.CodeGoAway, session.ReasonGoAway)
}

// Amplify answers a message n with 2^n 'x' characters (n in 1..18, else 1),
// as the reference test server does.
func Amplify(ctx context.Context, s session.Session) {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return
		}
		n, err := strconv.ParseFloat(strings.TrimSpace(m), 64)
		k := int(math.Floor(n))
		if err != nil || k <= 0 || k >= 19 {
			k = 1
		}
		if s.Send(strings.Repeat("x", 1<<k)) != nil {
			return
		}
	}
}

// TickInterval is how often Ticker sends "tick!".
const TickInterval = time.Second

// Ticker sends "tick!" every TickInterval until the session ends.
func Ticker(ctx context.Context, s session.Session) {
	t := time.NewTicker(TickInterval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
			if s.Send("tick!") != nil {
				return
			}
		}
	}
}

// Broadcast is a service in which every message from any session goes to
// all sessions of the service.
type Broadcast struct {
	room *session.Room
}

// NewBroadcast returns an empty broadcast service.
func NewBroadcast() *Broadcast { return &Broadcast{room: session.NewRoom("broadcast")} }

// Events is the service in callback form (session.Events): no goroutine per
// session.
func (b *Broadcast) Events() session.Events {
	return session.EventFuncs{
		Open:    func(s session.Session) { b.room.Join(s) },
		Message: func(_ session.Session, msg string) { b.room.Broadcast(msg) },
		Close:   func(s session.Session, _ session.CloseInfo) { b.room.Leave(s) },
	}
}

// Handler is the session.Handler of the service.
func (b *Broadcast) Handler(ctx context.Context, s session.Session) {
	b.room.Join(s)
	defer b.room.Leave(s)
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return
		}
		b.room.Broadcast(m)
	}
}
