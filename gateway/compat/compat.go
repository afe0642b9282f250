package compat

import (
	"context"
	"errors"
	"fmt"
	"math"
	"net/http"
	"net/netip"
	"net/url"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/igm/sockjs-go/v3/sockjs"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/transport"
)

// Options configure one compat service. Zero values mean sockjs-go's
// defaults (heartbeat 25s, disconnect 5s, response limit 128 KiB, its CDN
// sockjs_url), except Websocket and RawWebsocket, which are taken as given.
type Options struct {
	// Prefix is the mount prefix, e.g. "/echo". The handler strips it
	// itself: mount it on the full path, not behind http.StripPrefix.
	Prefix string
	// HeartbeatDelay is how often an idle receiver gets an "h" frame.
	HeartbeatDelay time.Duration
	// DisconnectDelay is how long a session lives with no receiver.
	DisconnectDelay time.Duration
	// ResponseLimit is how many bytes a streaming response carries.
	ResponseLimit int
	// Websocket turns the SockJS websocket transport on.
	Websocket bool
	// RawWebsocket turns the raw /websocket endpoint on.
	RawWebsocket bool
	// CookieNeeded turns on JSESSIONID mode.
	CookieNeeded bool
	// DisabledTransports lists the transports to refuse with 404.
	DisabledTransports []transport.Name
	// SockJSURL is the script the iframe page loads.
	SockJSURL string
	// Logger receives the service's log lines; the zero value discards them.
	Logger zerolog.Logger
}

// New returns an http.Handler serving the service under opts.Prefix with
// sockjs-go, calling h once per session, in the goroutine sockjs-go starts
// for it, with a session.Session adapter. h's ctx ends when the session
// starts closing; when h returns the session is closed with
// session.CodeNormal unless it was closed already. A panic in h is logged
// and closes the session with session.CodeInternalError.
//
// Sessions report how they ended through a CloseInfo method (as the native
// engine's do, so session.EventsHandler passes it to OnClose): the code
// given to Close, or, when sockjs-go ended the session itself,
// session.CodeInterrupted for a websocket that ended or a receiving request
// its client aborted, session.CodeTimeout for a session nobody polled.
func New(opts Options, h session.Handler) http.Handler {
	log := opts.Logger
	rs := newReceivers()
	return rs.track(opts.Prefix, sockjs.NewHandler(opts.Prefix, sockjsOptions(opts), func(s sockjs.Session) {
		serve(log, rs, s, h)
	}))
}

// sockjsOptions resolves opts over sockjs.DefaultOptions.
func sockjsOptions(opts Options) sockjs.Options {
	o := sockjs.DefaultOptions
	if opts.HeartbeatDelay > 0 {
		o.HeartbeatDelay = opts.HeartbeatDelay
	}
	if opts.DisconnectDelay > 0 {
		o.DisconnectDelay = opts.DisconnectDelay
	}
	if opts.ResponseLimit > 0 {
		o.ResponseLimit = uint32(min(uint64(opts.ResponseLimit), math.MaxUint32))
	}
	if opts.SockJSURL != "" {
		o.SockJSURL = opts.SockJSURL
	}
	if opts.CookieNeeded {
		o.JSessionID = sockjs.DefaultJSessionID
	}
	o.Websocket, o.RawWebsocket = opts.Websocket, opts.RawWebsocket
	// Allow every origin, as the native engine does: CORS echoes the
	// request's Origin ("null" included), and the upgrader accepts any.
	o.CheckOrigin = allowAll
	o.WebsocketUpgrader = &websocket.Upgrader{CheckOrigin: allowAll, Error: upgradeError(opts.Logger)}
	for _, t := range opts.DisabledTransports {
		disable(&o, t, opts.Logger)
	}
	return o
}

func allowAll(*http.Request) bool { return true }

// upgradeError answers a failed websocket handshake as gorilla/websocket
// does by default, and logs it.
func upgradeError(log zerolog.Logger) func(http.ResponseWriter, *http.Request, int, error) {
	return func(w http.ResponseWriter, r *http.Request, status int, err error) {
		log.Debug().Err(err).Str("path", r.URL.Path).Int("status", status).Msg("websocket handshake refused")
		w.Header().Set("Sec-Websocket-Version", "13")
		http.Error(w, http.StatusText(status), status)
	}
}

// disable turns off the transport named t in o.
func disable(o *sockjs.Options, t transport.Name, log zerolog.Logger) {
	switch t {
	case transport.Websocket:
		o.Websocket = false
	case transport.RawWebsocket:
		o.RawWebsocket = false
	case transport.XHRPolling:
		o.DisableXHR = true
	case transport.XHRStreaming:
		o.DisableXHRStreaming = true
	case transport.EventSource:
		o.DisableEventSource = true
	case transport.HTMLFile:
		o.DisableHtmlFile = true
	case transport.JSONP:
		o.DisableJSONP = true
	default:
		log.Warn().Str("transport", string(t)).Msg("unknown transport in DisabledTransports ignored")
	}
}

// serve runs h for one sockjs-go session with session.Run, which recovers
// a panic (1011) and closes the session after h (1000).
func serve(log zerolog.Logger, rs *receivers, s sockjs.Session, h session.Handler) {
	a := &adapter{s: s, transport: transportName(s.ReceiverType()), rs: rs}
	if !a.websocket() {
		rs.opened(a.ID())
	}
	log = log.With().Str("session", a.ID()).Str("transport", string(a.transport)).Logger()
	log.Debug().Msg("session opened")
	session.Run(h, a, log)
	// Run has closed the session: fix how it ended (and forget its
	// receivers) even when h never asked.
	info := a.CloseInfo()
	log.Debug().Int("code", info.Code).Str("reason", info.Reason).Msg("handler returned")
}

// transportName maps a sockjs-go receiver type to sockjs-client's name.
func transportName(t sockjs.ReceiverType) transport.Name {
	switch t {
	case sockjs.ReceiverTypeWebsocket:
		return transport.Websocket
	case sockjs.ReceiverTypeRawWebsocket:
		return transport.RawWebsocket
	case sockjs.ReceiverTypeXHR:
		return transport.XHRPolling
	case sockjs.ReceiverTypeXHRStreaming:
		return transport.XHRStreaming
	case sockjs.ReceiverTypeEventSource:
		return transport.EventSource
	case sockjs.ReceiverTypeHtmlFile:
		return transport.HTMLFile
	case sockjs.ReceiverTypeJSONP:
		return transport.JSONP
	}
	return "unknown"
}

// adapter is a session.Session over a sockjs-go session. All methods are
// safe for concurrent use (sockjs-go locks its session). Unlike the native
// engine, Send may block on the network and never returns
// session.ErrQueueFull: see the package doc.
type adapter struct {
	s         sockjs.Session
	transport transport.Name // the receiver that opened the session
	rs        *receivers

	closeMu sync.Mutex // held across Close, so CloseInfo sees its code
	info    session.CloseInfo

	reqOnce sync.Once
	req     *session.Request
}

var _ session.Session = (*adapter)(nil)

// ID is the client's session id; "" on the raw websocket.
func (a *adapter) ID() string { return a.s.ID() }

// Transport names the transport that opened the session.
func (a *adapter) Transport() string { return string(a.transport) }

// Recv returns the next client message, session.ErrClosed once the session
// is closing, or ctx.Err().
func (a *adapter) Recv(ctx context.Context) (string, error) {
	msg, err := a.s.RecvCtx(ctx)
	if errors.Is(err, sockjs.ErrSessionNotOpen) {
		// sockjs-go marks a session closed a moment before it cancels the
		// session's context; wait for that, so that CloseInfo (read next
		// by EventsHandler and Run) tells how it ended rather than nothing.
		select {
		case <-a.Done():
		case <-time.After(closeSettle):
		}
		return "", session.ErrClosed
	}
	return msg, err
}

// closeSettle bounds Recv's wait for sockjs-go to finish closing a session.
const closeSettle = time.Second

// Send hands msg to sockjs-go: appended to an unbounded buffer while no
// receiver is attached, written to the network under the session lock
// while one is.
func (a *adapter) Send(msg string) error {
	err := a.s.Send(msg)
	if errors.Is(err, sockjs.ErrSessionNotOpen) {
		return session.ErrClosed
	}
	if err != nil {
		return fmt.Errorf("compat: send: %w", err)
	}
	return nil
}

// Close sends c[code,"reason"] and ends the session; later calls do nothing.
func (a *adapter) Close(code int, reason string) error {
	if code < 0 || uint64(code) > math.MaxUint32 {
		return fmt.Errorf("compat: close code %d out of range", code)
	}
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if err := a.s.Close(uint32(code), reason); err == nil && a.info.Code == 0 {
		a.info = session.CloseInfo{Code: code, Reason: reason}
	} // the only error: sockjs-go is closing it already
	return nil
}

// CloseInfo says how the session ended; zero while it is open. A session
// sockjs-go ended itself reports session.CodeInterrupted (its websocket
// ended, or a client aborted its receiving request) or session.CodeTimeout
// (nobody polled for the disconnect delay).
func (a *adapter) CloseInfo() session.CloseInfo {
	select {
	case <-a.Done():
	default:
		return session.CloseInfo{}
	}
	a.closeMu.Lock()
	defer a.closeMu.Unlock()
	if a.info.Code != 0 {
		return a.info
	}
	if a.websocket() {
		a.info = session.CloseInfo{Code: session.CodeInterrupted, Reason: session.ReasonInterrupted}
	} else {
		a.info = a.rs.closeInfo(a.ID())
	}
	return a.info
}

// websocket reports whether the session is on a websocket, which sockjs-go
// ends when the connection does.
func (a *adapter) websocket() bool {
	return a.transport == transport.Websocket || a.transport == transport.RawWebsocket
}

// Request describes the request that opened the session, as sockjs-go kept
// it. The compat engine knows no trusted proxies: RemoteAddr is the peer.
func (a *adapter) Request() *session.Request {
	a.reqOnce.Do(func() {
		r := a.s.Request()
		a.req = &session.Request{Header: http.Header{}, Query: url.Values{}}
		if r == nil {
			return
		}
		a.req.Header = r.Header.Clone()
		a.req.Query = r.URL.Query()
		a.req.Host = r.Host
		a.req.Secure = r.TLS != nil
		if ap, err := netip.ParseAddrPort(r.RemoteAddr); err == nil {
			a.req.RemoteAddr = ap.Addr().Unmap()
		}
	})
	return a.req
}

// Done is closed when the session starts closing, whoever closed it.
func (a *adapter) Done() <-chan struct{} { return a.s.Context().Done() }
