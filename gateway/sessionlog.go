package gateway

import (
	"time"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
)

// opened counts a new session and logs its open line: which service,
// session and transport, and the client's address.
func (svc *service) opened(s *engine.SockJS) {
	svc.srv.metrics.opened(s.Transport())
	if svc.srv.cfg.QuietSessions {
		return
	}
	svc.log.Info().Str("session", s.ID()).Str("transport", s.Transport()).
		Str("client", s.Request().RemoteAddr.String()).Msg("session opened")
}

// logClosed writes a session's close line: how long it lived, how it
// ended and what it carried each way. Expected closes are info, like the
// open line; without per-session lines they go to debug.
func (svc *service) logClosed(s *engine.SockJS, info session.CloseInfo) {
	ev := svc.log.Info()
	if svc.srv.cfg.QuietSessions {
		ev = svc.log.Debug()
	}
	if ev == nil {
		return
	}
	st := s.Stats()
	ev.Str("session", s.ID()).Str("transport", s.Transport()).
		Str("client", s.Request().RemoteAddr.String()).
		Str("duration", time.Since(st.Opened).Round(time.Millisecond).String()).
		Int("code", info.Code).Str("reason", info.Reason).
		Uint64("messages_in", st.MessagesIn).Uint64("messages_out", st.MessagesOut).
		Msg("session closed")
}

// logListening writes the start-up line: where the gateway listens, its
// engine, its services and the admin listener.
func (s *Server) logListening() {
	prefixes := make([]string, 0, len(s.cfg.Services))
	for _, sc := range s.cfg.Services {
		prefixes = append(prefixes, s.cfg.BasePath+sc.Prefix)
	}
	ev := s.log.Info().Str("addr", s.ln.Addr().String()).Str("engine", s.cfg.Engine).Strs("services", prefixes)
	if s.adminLn != nil {
		ev = ev.Str("admin", s.adminLn.Addr().String())
	} else {
		ev = ev.Str("admin", "main listener")
	}
	ev.Bool("session_logs", !s.cfg.QuietSessions).Msg("gateway listening")
}
