package gateway

import (
	"errors"
	"fmt"
	"net/http"
	"net/netip"
	"time"

	"github.com/sockgate/sockgate/gateway/auth"
	"github.com/sockgate/sockgate/session"
)

// Session bindings a Config can select.
const (
	// SessionBindingAddress binds a session to the client address that
	// opened it (and to the token's subject when tokens are on).
	SessionBindingAddress = "address"
	// SessionBindingNone binds a session to its token's subject only (when
	// tokens are on): clients that change network keep their session.
	SessionBindingNone = "none"
)

// Refusal causes of identity, labels of sockgate_refusals_total.
const (
	refusedBinding      = "session_binding" // a session asked for from another address or subject
	refusedUnauthorized = "unauthorized"    // no token, or a bad one (3501)
	refusedExpired      = "token_expired"   // at open or mid-session (3502)
)

// caller is who a request comes from: the client address (after trusted
// proxies) and what its token proves. Sessions are bound to it.
type caller struct {
	addr netip.Addr
	tok  auth.Token // zero without a token or a verifier
	err  error      // the token's verdict; nil when it holds or none is needed
}

// identify reads the caller of r. The token is verified on every request
// of a session, not only the first: the binding needs its subject, and a
// subject in a token that does not verify would be anyone's to claim.
func (srv *Server) identify(r *http.Request) caller {
	c := caller{addr: srv.proxies.clientIP(r)}
	v := srv.cfg.Auth
	if v == nil {
		return c
	}
	c.tok, c.err = v.Verify(r.URL.Query().Get(auth.QueryParam))
	if errors.Is(c.err, auth.ErrMissing) && srv.cfg.AuthOptional {
		c.err = nil
	}
	return c
}

// subject is the subject the caller's token names ("" without one). An
// expired token still names its subject: its client must find its own
// session to read the 3502 there.
func (c caller) subject() string {
	if c.tok.User == nil {
		return ""
	}
	return c.tok.User.Subject
}

// bindKey is where the registry keeps session id for this caller. A request
// from another address (with address binding) or another subject (with
// tokens) looks the session up under another key and does not find it: it
// is answered exactly as for an id nobody uses.
func (srv *Server) bindKey(id string, c caller) string {
	addr := srv.cfg.SessionBinding != SessionBindingNone
	if !addr && srv.cfg.Auth == nil {
		return id
	}
	// "/" separates the parts: neither an id nor an address holds one, so
	// the subject is what is left. The key travels in forwarded requests
	// (see forward.go), so it is plain text.
	var buf [96]byte // one allocation per request: the string
	key := append(append(buf[:0], id...), '/')
	if addr {
		key = c.addr.AppendTo(key)
	}
	if srv.cfg.Auth != nil {
		key = append(append(key, '/'), c.subject()...)
	}
	return string(key)
}

// refusal is the close code and reason a session opened by c gets at
// open, and the refusal cause; ok is false when c may open a session.
func (c caller) refusal() (code int, reason, cause string, ok bool) {
	switch {
	case c.err == nil:
		return 0, "", "", false
	case errors.Is(c.err, auth.ErrExpired):
		return session.CodeTokenExpired, session.ReasonTokenExpired, refusedExpired, true
	default:
		return session.CodeUnauthorized, session.ReasonUnauthorized, refusedUnauthorized, true
	}
}

// begin runs the service for a new session opened by c, or closes it at
// once (c[3501] or c[3502]) when c's token does not hold. A session with a
// token closes with 3502 when the token expires (exp plus the grace).
func (svc *service) begin(s engineSession, c caller) {
	if code, reason, cause, refused := c.refusal(); refused {
		svc.srv.metrics.refused(cause)
		ev := svc.log.Info().Str("session", s.ID()).Str("client", c.addr.String()).Str("cause", cause)
		if sub := c.subject(); sub != "" {
			ev = ev.Str("subject", sub)
		}
		ev.Err(c.err).Msg("session refused at open") // the error never holds the token
		_ = s.Close(code, reason)
		return
	}
	if c.tok.User != nil {
		svc.armExpiry(s, svc.srv.cfg.Auth.Deadline(c.tok))
	}
	svc.start(s)
}

// armExpiry closes s with 3502 at deadline; disarm stops it.
func (svc *service) armExpiry(s session.Session, deadline time.Time) {
	t := time.AfterFunc(time.Until(deadline), func() {
		svc.srv.metrics.refused(refusedExpired)
		svc.log.Info().Str("session", s.ID()).Str("subject", s.Request().User.Subject).Msg("token expired")
		_ = s.Close(session.CodeTokenExpired, session.ReasonTokenExpired)
	})
	svc.expiries.Store(s, t)
	select {
	case <-s.Done(): // closed meanwhile (a drain, the API): its disarm may have run already
		svc.disarm(s)
	default:
	}
}

// disarm stops the expiry timer of s, if any, so a closed session is not
// held until its token's expiry.
func (svc *service) disarm(s session.Session) {
	if t, ok := svc.expiries.LoadAndDelete(s); ok {
		t.(*time.Timer).Stop()
	}
}

// noteForeign counts a request for session id that another caller owns.
func (svc *service) noteForeign(id, key string, c caller) {
	if key == id {
		return // no binding
	}
	if owner, ok := svc.owners.Load(id); ok && owner.(string) != key {
		svc.srv.metrics.refused(refusedBinding)
		svc.log.Info().Str("session", id).Str("client", c.addr.String()).Msg("session asked for by another client")
	}
}

// checkIdentity resolves and checks the identity settings of cfg.
func checkIdentity(cfg *Config) error {
	switch cfg.SessionBinding {
	case "":
		cfg.SessionBinding = SessionBindingAddress
	case SessionBindingAddress, SessionBindingNone:
	default:
		return fmt.Errorf("gateway: unknown session binding %q (want %q or %q)", cfg.SessionBinding, SessionBindingAddress, SessionBindingNone)
	}
	if cfg.Auth != nil && cfg.Engine == EngineSockJSGo {
		return errors.New("gateway: tokens need the native engine: the compat engine cannot verify them")
	}
	if cfg.AuthOptional && cfg.Auth == nil {
		return errors.New("gateway: optional tokens need a key to verify them")
	}
	return nil
}
