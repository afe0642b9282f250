package upstream

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
)

// Defaults of Config.
const (
	// DefaultConnectTimeout bounds one dial: TCP, TLS and the upgrade.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds one message write to the backend; a
	// backend that reads nothing for this long stalls its session.
	DefaultWriteTimeout = 10 * time.Second
	// DefaultMaxMessageBytes bounds one message from the backend.
	DefaultMaxMessageBytes = 1 << 20
	// closeGrace is how long the backend may take to answer our close
	// frame before its connection is closed anyway.
	closeGrace = time.Second
	// controlTimeout bounds writing a ping or a close frame.
	controlTimeout = time.Second
)

// Config is one bridge. Zero values mean the documented defaults.
type Config struct {
	// URL is the backend, ws:// or wss:// (e.g. ws://127.0.0.1:9000/ws/chat).
	URL string
	// Name labels the bridge's metrics and logs; the mount prefix is a
	// good one. Defaults to URL's host and path.
	Name string
	// ConnectTimeout bounds one dial (DefaultConnectTimeout); the client's
	// open frame waits for it. Keep it within the service's disconnect
	// delay: on the HTTP transports that delay runs during the dial, and a
	// session that expires first ends with 3010.
	ConnectTimeout time.Duration
	// WriteTimeout bounds one message write to the backend
	// (DefaultWriteTimeout); over it the session closes with
	// session.CodeBackendStalled.
	WriteTimeout time.Duration
	// HeartbeatDelay is how often the backend is pinged; one silent for
	// two periods is dead. Use the service's heartbeat delay
	// (gateway.DefaultHeartbeatDelay when zero).
	HeartbeatDelay time.Duration
	// MaxMessageBytes bounds one message from the backend
	// (DefaultMaxMessageBytes); over it the backend connection is closed
	// with 1009 and the session with session.CodeBackendClosed.
	MaxMessageBytes int64
	// Headers names request headers passed to the backend besides the
	// fixed set (see the package doc). Hop-by-hop, WebSocket, Host and
	// the X-Forwarded-* and X-Sockgate-* headers cannot be named.
	Headers []string
	// Claims names token claims passed to the backend, each in a header
	// X-Sockgate-Claim-<Name> (a string as it is, anything else as JSON),
	// for sessions with an identity; X-Sockgate-User always carries the
	// subject.
	Claims []string
	// TLS configures wss:// dials (RootCAs: see SystemRootsWith); nil
	// uses the system roots.
	TLS *tls.Config
	// Metrics receives the bridge's counters; nil: counted nowhere.
	Metrics *Metrics
	// Logger gets a debug line per dial and the failures.
	Logger zerolog.Logger
}

// Bridge carries SockJS sessions to one WebSocket backend. It implements
// session.Events; all methods are safe for concurrent use.
type Bridge struct {
	cfg     Config
	target  *url.URL
	headers []string // canonical names passed on, fixed set first
	dialer  *websocket.Dialer
	m       *meters
	log     zerolog.Logger

	links sync.Map // session.Session -> *link
	wg    sync.WaitGroup
}

// New checks cfg and returns its bridge. It dials nothing: each session
// dials on open.
func New(cfg Config) (*Bridge, error) {
	u, err := url.Parse(cfg.URL)
	if err != nil {
		return nil, fmt.Errorf("upstream: URL %q: %w", cfg.URL, err)
	}
	if u.Scheme != "ws" && u.Scheme != "wss" || u.Host == "" {
		return nil, fmt.Errorf("upstream: URL %q: want ws://host/path or wss://host/path", cfg.URL)
	}
	if u.Fragment != "" || u.User != nil {
		return nil, fmt.Errorf("upstream: URL %q: no fragment or user info allowed", cfg.URL)
	}
	headers, err := headerList(cfg.Headers)
	if err != nil {
		return nil, err
	}
	if cfg.Name == "" {
		cfg.Name = u.Host + u.Path
	}
	if cfg.ConnectTimeout <= 0 {
		cfg.ConnectTimeout = DefaultConnectTimeout
	}
	if cfg.WriteTimeout <= 0 {
		cfg.WriteTimeout = DefaultWriteTimeout
	}
	if cfg.HeartbeatDelay <= 0 {
		cfg.HeartbeatDelay = gateway.DefaultHeartbeatDelay
	}
	if cfg.MaxMessageBytes <= 0 {
		cfg.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if cfg.Metrics == nil {
		cfg.Metrics = NewMetrics()
	}
	b := &Bridge{
		cfg:     cfg,
		target:  u,
		headers: headers,
		dialer: &websocket.Dialer{
			Proxy:            nil, // the backend is dialled directly, never through HTTP_PROXY
			TLSClientConfig:  cfg.TLS,
			HandshakeTimeout: cfg.ConnectTimeout,
			ReadBufferSize:   1024,
			WriteBufferSize:  4096,
			WriteBufferPool:  writeBuffers,
		},
		m:   cfg.Metrics.forUpstream(cfg.Name),
		log: cfg.Logger.With().Str("upstream", cfg.Name).Logger(),
	}
	return b, nil
}

// writeBuffers is shared by every bridge: a connection holds a write
// buffer only while it writes.
var writeBuffers = &sync.Pool{}

// Service returns base (the shared settings of a gateway's services)
// mounted at prefix with the bridge as its Events. Give the bridge the
// service's heartbeat delay in Config.HeartbeatDelay.
func (b *Bridge) Service(base gateway.Service, prefix string) gateway.Service {
	base.Prefix = prefix
	base.Handler = nil
	base.Events = b
	return base
}

// URL returns the backend URL the bridge dials, without a client's query.
func (b *Bridge) URL() string { return b.target.String() }

// OnOpen implements session.Events: it dials the backend, bounded by the
// connect timeout, and returns once it accepted or failed; the client's
// open frame waits for it.
func (b *Bridge) OnOpen(s session.Session) {
	conn, err := b.dial(s)
	if err != nil {
		_ = s.Close(session.CodeBackendUnavailable, session.ReasonBackendUnavailable)
		return
	}
	l := &link{b: b, s: s, conn: conn, readDn: make(chan struct{})}
	b.links.Store(s, l)
	b.m.open.Inc()
	l.start()
}

// OnMessage implements session.Events: msg is written to the backend as
// one text frame before OnMessage returns, so a backend that does not read
// holds up the client's next messages.
func (b *Bridge) OnMessage(s session.Session, msg string) {
	if v, ok := b.links.Load(s); ok {
		v.(*link).write(msg)
	}
}

// OnClose implements session.Events: the backend gets its close frame
// (see closeFor) and its connection is released. When OnMessage is blocked
// on a backend that does not read, OnClose follows it, within the write
// timeout.
func (b *Bridge) OnClose(s session.Session, info session.CloseInfo) {
	if v, ok := b.links.Load(s); ok {
		v.(*link).finish(closeFor(info))
	}
}

// Wait waits until every backend connection of the bridge is closed, or ctx
// ends. Call it after the gateway has drained its sessions.
func (b *Bridge) Wait(ctx context.Context) error {
	done := make(chan struct{})
	go func() {
		b.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
		return nil
	case <-ctx.Done():
		return fmt.Errorf("upstream %s: waiting for backend connections to close: %w", b.cfg.Name, ctx.Err())
	}
}

// errBadHeader is wrapped by every refused Config.Headers entry.
var errBadHeader = errors.New("upstream: header cannot be passed")

// fixedHeaders are always passed from the client's request when present.
var fixedHeaders = []string{"Origin", "Cookie", "User-Agent", "Accept-Language"}

// headerList returns the headers passed on: the fixed set, then extra.
func headerList(extra []string) ([]string, error) {
	out := append([]string(nil), fixedHeaders...)
	seen := map[string]bool{}
	for _, h := range out {
		seen[h] = true
	}
	for _, h := range extra {
		h = strings.TrimSpace(h)
		if h == "" {
			continue
		}
		c := http.CanonicalHeaderKey(h)
		if !validToken(c) || reservedHeader(c) {
			return nil, fmt.Errorf("%w: %q", errBadHeader, h)
		}
		if !seen[c] {
			seen[c] = true
			out = append(out, c)
		}
	}
	return out, nil
}

// reservedHeader reports whether a canonical header name is the dialer's
// or the bridge's own to set.
func reservedHeader(c string) bool {
	switch c {
	case "Host", "Connection", "Upgrade", "Content-Length", "Transfer-Encoding", "Te", "Trailer",
		"Keep-Alive", "Proxy-Connection", "Proxy-Authorization", "Forwarded":
		return true
	}
	for _, p := range []string{"Sec-Websocket-", "X-Forwarded-", "X-Sockgate-"} {
		if strings.HasPrefix(c, p) {
			return true
		}
	}
	return false
}

// validToken reports whether s is an HTTP header name.
func validToken(s string) bool {
	if s == "" {
		return false
	}
	for _, r := range s {
		if r > 0x7e || r <= ' ' || strings.ContainsRune(`"(),/:;<=>?@[\]{}`, r) {
			return false
		}
	}
	return true
}
