package session

import (
	"context"
	"runtime/debug"
	"time"

	"github.com/rs/zerolog"
)

// Run calls h for s in the calling goroutine, with a context that ends when s
// does. A panic in h closes s with CodeInternalError and is logged with its
// stack; the process lives on. When h returns, s is closed with CodeNormal
// unless it was closed already.
func Run(h Handler, s Session, log zerolog.Logger) {
	defer func() {
		if v := recover(); v != nil {
			log.Error().Str("session", s.ID()).Str("transport", s.Transport()).
				Interface("panic", v).Bytes("stack", debug.Stack()).Msg("handler panicked")
			_ = s.Close(CodeInternalError, ReasonInternalError)
			return
		}
		_ = s.Close(CodeNormal, ReasonNormal)
	}()
	h(sessionContext{done: s.Done()}, s)
}

// sessionContext is a context that ends when its session does, without a
// goroutine to watch it.
type sessionContext struct {
	done <-chan struct{}
}

func (sessionContext) Deadline() (time.Time, bool) { return time.Time{}, false }
func (c sessionContext) Done() <-chan struct{}     { return c.done }
func (sessionContext) Value(any) any               { return nil }
func (c sessionContext) Err() error {
	select {
	case <-c.done:
		return context.Canceled
	default:
		return nil
	}
}
