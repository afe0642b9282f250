package main

import (
	"context"
	"fmt"
	"math/rand/v2"
	"net"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// conn is one benchmark session over some transport. Send and Next may run
// at the same time, but each from one goroutine at a time. A zero deadline
// means none.
type conn interface {
	// Send sends one message.
	Send(msg string, deadline time.Time) error
	// Next returns the next message received; heartbeats are skipped. A
	// close frame is a *sockjsclient.CloseError.
	Next(deadline time.Time) (string, error)
	// Close ends the session and releases its connections.
	Close()
}

// dialer opens sessions on one service. On a loopback server it spreads
// the connections over several source addresses (127.0.0.1, 127.0.0.2,
// ...): there are only about 28,000 ephemeral ports per source and
// destination address pair. Every dial is bounded by its context.
type dialer struct {
	baseURL   string // http://host:port/prefix
	host2     string // host:port of -url2, or ""
	transport string
	ws        []*websocket.Dialer // one per source address
	http      []*http.Client      // one per source address
	next      atomic.Uint64
}

// newDialer prepares dialing baseURL with transport from sources source
// addresses starting at 127.0.0.1. With baseURL2 (the same service on
// another node, same path), every session's HTTP requests alternate
// between the two hosts.
func newDialer(baseURL, baseURL2, transport string, sources int) (*dialer, error) {
	if !strings.HasPrefix(baseURL, "http://") {
		return nil, fmt.Errorf("-url %q: want http://host:port/prefix", baseURL)
	}
	var host2 string
	if baseURL2 != "" {
		u2, err := url.Parse(baseURL2)
		if err != nil || u2.Scheme != "http" || u2.Host == "" {
			return nil, fmt.Errorf("-url2 %q: want http://host:port/prefix", baseURL2)
		}
		host2 = u2.Host
	}
	if !slices.Contains(sockjsclient.Transports, transport) {
		return nil, fmt.Errorf("-transport %q: want one of %s", transport, strings.Join(sockjsclient.Transports, ", "))
	}
	u, err := url.Parse(baseURL)
	if err != nil {
		return nil, fmt.Errorf("-url: %w", err)
	}
	loopback := net.ParseIP(u.Hostname()).IsLoopback()
	if !loopback {
		sources = 1
	}
	sources = min(max(sources, 1), 250)
	if host2 != "" && baseURL2 != strings.Replace(baseURL, u.Host, host2, 1) {
		return nil, fmt.Errorf("-url2 %q: want the path of -url %q on another host", baseURL2, baseURL)
	}
	d := &dialer{baseURL: strings.TrimSuffix(baseURL, "/"), host2: host2, transport: transport}
	for i := range sources {
		nd := &net.Dialer{}
		if loopback {
			nd.LocalAddr = &net.TCPAddr{IP: net.IPv4(127, 0, 0, byte(1+i))}
		}
		d.ws = append(d.ws, &websocket.Dialer{
			NetDialContext:  nd.DialContext,
			ReadBufferSize:  4096,
			WriteBufferSize: 1024,
			WriteBufferPool: wsWriteBuffers,
		})
		d.http = append(d.http, &http.Client{Transport: &http.Transport{
			DialContext:         nd.DialContext,
			MaxIdleConnsPerHost: 1 << 16,
			IdleConnTimeout:     5 * time.Minute,
			DisableCompression:  true,
		}})
	}
	return d, nil
}

// dial opens one session; it returns after the server's open frame.
func (d *dialer) dial(ctx context.Context) (conn, error) {
	i := int(d.next.Add(1) % uint64(len(d.ws)))
	server := strconv.Itoa(rand.IntN(1000))
	sid := strconv.FormatUint(rand.Uint64(), 36)
	switch d.transport {
	case sockjsclient.TransportWebsocket:
		return dialWS(ctx, d.ws[i], wsURL(d.baseURL+"/"+server+"/"+sid+"/websocket"), false)
	case sockjsclient.TransportRawWebsocket:
		return dialWS(ctx, d.ws[i], wsURL(d.baseURL+"/websocket"), true)
	}
	client := d.http[i]
	if d.host2 != "" {
		client = &http.Client{Transport: &alternating{next: client.Transport, host2: d.host2}}
	}
	c, err := sockjsclient.Dial(ctx, d.baseURL, sockjsclient.Options{
		Transport: d.transport, ServerID: server, SessionID: sid, HTTPClient: client,
	})
	if err != nil {
		return nil, err
	}
	return sjConn{c}, nil
}

// closeIdle closes the idle keep-alive connections of the HTTP clients.
func (d *dialer) closeIdle() {
	for _, c := range d.http {
		c.CloseIdleConnections()
	}
}

// alternating is one session's round tripper with -url2: its requests go
// in turn to the -url host (the first, which opens the session there) and
// to host2, as a round-robin balancer without affinity would send them.
type alternating struct {
	next  http.RoundTripper
	host2 string
	n     atomic.Uint64
}

func (a *alternating) RoundTrip(r *http.Request) (*http.Response, error) {
	if a.n.Add(1)%2 == 1 {
		return a.next.RoundTrip(r)
	}
	r2 := r.Clone(r.Context())
	r2.URL.Host = a.host2
	r2.Host = a.host2
	return a.next.RoundTrip(r2)
}

func wsURL(u string) string { return "ws://" + strings.TrimPrefix(u, "http://") }

// sjConn carries the HTTP transports with the shared test client, which
// keeps one receiving request outstanding at all times, as sockjs-client
// does (so the server sees the same poll and send races a browser causes).
type sjConn struct{ c *sockjsclient.Conn }

func (s sjConn) Send(msg string, deadline time.Time) error {
	ctx, cancel := deadlineContext(deadline)
	defer cancel()
	return s.c.SendContext(ctx, msg)
}

func (s sjConn) Next(deadline time.Time) (string, error) {
	ctx, cancel := deadlineContext(deadline)
	defer cancel()
	return s.c.Recv(ctx)
}

func (s sjConn) Close() { _ = s.c.Close() }

func deadlineContext(deadline time.Time) (context.Context, context.CancelFunc) {
	if deadline.IsZero() {
		return context.Background(), func() {}
	}
	return context.WithDeadline(context.Background(), deadline)
}
