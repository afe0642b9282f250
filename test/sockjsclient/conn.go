package sockjsclient

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"net/http"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session/transport"
)

// Transport names as Options.Transport takes them: the set of package
// session/transport (defined there, once), as plain strings for the tests.
const (
	TransportWebsocket    = string(transport.Websocket)
	TransportRawWebsocket = string(transport.RawWebsocket)
	TransportXHRStreaming = string(transport.XHRStreaming)
	TransportXHRPolling   = string(transport.XHRPolling)
	TransportEventSource  = string(transport.EventSource)
	TransportHTMLFile     = string(transport.HTMLFile)
	TransportJSONP        = string(transport.JSONP)
)

// Transports lists every transport Dial supports: all of transport.All.
var Transports = func() []string {
	out := make([]string, len(transport.All))
	for i, n := range transport.All {
		out[i] = string(n)
	}
	return out
}()

// ErrClosed is returned by Recv and Send after Close.
var ErrClosed = errors.New("sockjsclient: closed")

// Options configure Dial. The zero value dials a websocket session with a
// random server and session id.
type Options struct {
	// Transport is one of the Transport* names; "" means websocket.
	Transport string
	// ServerID and SessionID form the session URL; random when empty.
	ServerID, SessionID string
	// Callback names the jsonp and htmlfile callback; random when empty.
	Callback string
	// HTTPClient carries the HTTP transports; a shared client when nil.
	HTTPClient *http.Client
	// Header is added to every request and to the websocket handshake
	// (e.g. Origin).
	Header http.Header
	// Dialer dials the websocket transports; websocket.DefaultDialer when
	// nil.
	Dialer *websocket.Dialer
	// OnFrame, when set, sees every frame (including "o", "h" and "c") from
	// the receiving goroutine, before its messages reach Recv. It must not
	// block, and must not call Close (which waits for that goroutine).
	OnFrame func(Frame)
}

// sessionTransports holds the HTTP transports of the Conns that made their
// own (Options.HTTPClient nil) and are not closed yet, so that
// CloseIdleConnections reaches them all.
var sessionTransports struct {
	mu  sync.Mutex
	set map[*http.Transport]struct{}
}

// newSessionTransport makes the HTTP transport of one session: its
// receiving and sending requests, and nothing else, share its connections.
// Sessions do not share connections because net/http's Transport can let
// the cancellation of one request (Close cancels the session's outstanding
// poll) close a connection another request has just taken from the idle
// pool; that request then fails with "context canceled" although its own
// context is alive (about 1 in 40,000 sends with 40 sessions polling, in a
// stress program; once in a CI run of the proxy tests).
func newSessionTransport() *http.Transport {
	t := &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		MaxIdleConnsPerHost: 4,
		// A backstop for a Conn that is never closed.
		IdleConnTimeout: time.Minute,
	}
	sessionTransports.mu.Lock()
	defer sessionTransports.mu.Unlock()
	if sessionTransports.set == nil {
		sessionTransports.set = make(map[*http.Transport]struct{})
	}
	sessionTransports.set[t] = struct{}{}
	return t
}

// releaseSessionTransport closes t's idle connections (and, through the
// transport's own rule, those that become idle later) and forgets t.
func releaseSessionTransport(t *http.Transport) {
	t.CloseIdleConnections()
	sessionTransports.mu.Lock()
	defer sessionTransports.mu.Unlock()
	delete(sessionTransports.set, t)
}

// CloseIdleConnections closes the idle keep-alive connections of every
// session transport not yet released (for goroutine-leak checks in tests:
// a Conn that was never closed keeps its transport). Close releases a
// Conn's own transport itself.
func CloseIdleConnections() {
	sessionTransports.mu.Lock()
	defer sessionTransports.mu.Unlock()
	for t := range sessionTransports.set {
		t.CloseIdleConnections()
	}
}

// Conn is one client session. Send, Recv, Close and the accessors may be
// called concurrently; messages from concurrent Send calls are not ordered
// with respect to each other.
type Conn struct {
	opts       Options
	transport  string
	sessionURL string // base + "/" + server + "/" + session
	query      string // the base URL's query, kept on every request as sockjs-client does
	client     *http.Client
	own        *http.Transport // the session's own transport, when opts.HTTPClient is nil

	ctx    context.Context // ends on Close
	cancel context.CancelFunc

	recvDone chan struct{} // closed when the receiving goroutine ends
	opened   chan struct{} // closed on the first frame or a failure
	isOpen   bool          // "o" seen; written before opened is closed

	heartbeats atomic.Int64
	requests   atomic.Int64 // receiving HTTP requests made
	q          queue

	sendMu sync.Mutex // one send request (or websocket write) at a time
	ws     *websocket.Conn
	http   *httpTransport

	closeOnce sync.Once
}

// Dial opens a session at baseURL (e.g. "http://127.0.0.1:8080/echo") and
// returns after the server's "o" frame (on the raw websocket, after the
// handshake). If the server answers with a close frame instead (a 2010 on a
// second receiver, say), Dial returns that *CloseError. A query in baseURL
// ("?token=abc") is kept on every request of the session, as sockjs-client
// keeps it.
func Dial(ctx context.Context, baseURL string, opts Options) (*Conn, error) {
	c, err := newConn(baseURL, opts)
	if err != nil {
		return nil, err
	}
	switch c.transport {
	case TransportWebsocket, TransportRawWebsocket:
		err = c.dialWebsocket(ctx)
	default:
		err = c.startHTTP()
	}
	if err != nil {
		c.cancel()
		return nil, err
	}
	return c, c.waitOpen(ctx)
}

func newConn(baseURL string, opts Options) (*Conn, error) {
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("sockjsclient: base URL: %w", err)
	}
	if u.Scheme != "http" && u.Scheme != "https" {
		return nil, fmt.Errorf("sockjsclient: base URL %q: scheme must be http or https", baseURL)
	}
	base, _, _ := strings.Cut(baseURL, "?")
	if opts.Transport == "" {
		opts.Transport = TransportWebsocket
	}
	if opts.ServerID == "" {
		opts.ServerID = strconv.Itoa(rand.IntN(1000))
	}
	if opts.SessionID == "" {
		opts.SessionID = randomString(8)
	}
	if opts.Callback == "" {
		opts.Callback = "_jp.a" + randomString(7)
	}
	c := &Conn{
		opts:       opts,
		transport:  opts.Transport,
		sessionURL: strings.TrimSuffix(base, "/") + "/" + opts.ServerID + "/" + opts.SessionID,
		query:      u.RawQuery,
		client:     opts.HTTPClient,
		recvDone:   make(chan struct{}),
		opened:     make(chan struct{}),
	}
	c.q.init()
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// waitOpen waits for the first frame; on anything but "o" it closes c and
// returns the reason.
func (c *Conn) waitOpen(ctx context.Context) error {
	select {
	case <-c.opened:
	case <-ctx.Done():
		c.Close()
		return fmt.Errorf("sockjsclient: dial %s: %w", c.transport, ctx.Err())
	}
	if c.isOpen {
		return nil
	}
	err := c.q.terminal()
	c.Close()
	return err
}

const alnum = "abcdefghijklmnopqrstuvwxyz0123456789"

func randomString(n int) string {
	b := make([]byte, n)
	for i := range b {
		b[i] = alnum[rand.IntN(len(alnum))]
	}
	return string(b)
}

// Transport is the transport the Conn speaks.
func (c *Conn) Transport() string { return c.transport }

// SessionID is the session id in the session URL.
func (c *Conn) SessionID() string { return c.opts.SessionID }

// SessionURL is "<base>/<server>/<session>", the prefix of every session
// request (append "/xhr_send" and so on).
func (c *Conn) SessionURL() string { return c.sessionURL }

// Heartbeats counts the "h" frames received (pings on the raw websocket).
func (c *Conn) Heartbeats() int64 { return c.heartbeats.Load() }

// ReceiveRequests counts the receiving HTTP requests made so far (polls and
// stream reconnects); 0 on the websocket transports.
func (c *Conn) ReceiveRequests() int64 { return c.requests.Load() }

// Done is closed when the receiving goroutine has ended: after a close
// frame, a network error, or Close.
func (c *Conn) Done() <-chan struct{} { return c.recvDone }

// Err is the reason the session ended (a *CloseError, ErrClosed or a network
// error), or nil while it is open.
func (c *Conn) Err() error { return c.q.terminal() }

// Recv returns the next message. Once the session has ended and every
// message received before has been returned, it returns the reason: a
// *CloseError for a close frame, ErrClosed after Close, or the receiving
// error.
func (c *Conn) Recv(ctx context.Context) (string, error) {
	return c.q.pop(ctx)
}

// Send sends messages to the server: one JSON array message on the
// websocket, one text message each on the raw websocket, one xhr_send or
// jsonp_send request on the others.
func (c *Conn) Send(msgs ...string) error {
	return c.SendContext(c.ctx, msgs...)
}

// SendContext is Send bounded by ctx. On the HTTP transports a non-2xx
// answer is an *HTTPError.
func (c *Conn) SendContext(ctx context.Context, msgs ...string) error {
	if c.ctx.Err() != nil {
		return ErrClosed
	}
	c.sendMu.Lock()
	defer c.sendMu.Unlock()
	if c.ws != nil {
		return c.sendWebsocket(ctx, msgs)
	}
	return c.sendHTTP(ctx, msgs)
}

// Close ends the client side: it stops polling or closes the stream or
// websocket, and waits for the receiving goroutine. Later Recv and Send
// calls return ErrClosed once the queued messages are read.
func (c *Conn) Close() error {
	c.closeOnce.Do(func() {
		c.q.fail(ErrClosed)
		c.cancel()
		if c.ws != nil {
			c.closeWebsocket()
		}
	})
	<-c.recvDone
	if c.own != nil {
		releaseSessionTransport(c.own)
	}
	return nil
}

// handleFrame applies one frame; it returns false when receiving must stop.
func (c *Conn) handleFrame(f Frame) bool {
	if c.opts.OnFrame != nil {
		c.opts.OnFrame(f)
	}
	if !c.isOpen && f.Type != FrameOpen && f.Type != FrameClose {
		c.finish(fmt.Errorf("%w: %q frame before the open frame", ErrBadFrame, f.Type))
		return false
	}
	switch f.Type {
	case FrameOpen:
		if c.isOpen {
			// sockjs-client's answer to a second "o": the server lost
			// the session and started a new one.
			c.finish(&CloseError{Code: 1006, Reason: "Server lost session"})
			return false
		}
		c.isOpen = true
		close(c.opened)
	case FrameHeartbeat:
		c.heartbeats.Add(1)
	case FrameMessages:
		c.q.push(f.Messages)
	case FrameClose:
		c.finish(&CloseError{Code: f.Code, Reason: f.Reason})
		return false
	}
	return true
}

// handleRaw parses and applies one raw frame.
func (c *Conn) handleRaw(data []byte) bool {
	f, err := ParseFrame(data)
	if err != nil {
		c.finish(err)
		return false
	}
	return c.handleFrame(f)
}

// finish records why receiving ended (the first reason wins; Close's
// ErrClosed wins over the errors caused by cancelling) and releases Dial.
func (c *Conn) finish(err error) {
	if c.ctx.Err() != nil {
		err = ErrClosed
	}
	c.q.fail(err)
	if !c.isOpen {
		select {
		case <-c.opened:
		default:
			close(c.opened)
		}
	}
}

// withQuery appends the base URL's query and then extra (both may be
// empty) to u.
func (c *Conn) withQuery(u, extra string) string {
	q := c.query
	if extra != "" {
		if q != "" {
			q += "&"
		}
		q += extra
	}
	if q == "" {
		return u
	}
	return u + "?" + q
}
