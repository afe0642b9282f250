package gateway

import (
	"errors"
	"io"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"
)

// Refusal causes of the edge, beside those in metrics.go.
const (
	refusedConnsPerIP  = "connections_per_ip"
	refusedBodyTimeout = "body_timeout"
)

// A connection over the per-address bound gets a 503 and is closed; these
// bound what that costs.
const (
	// connRefusalTimeout bounds the write of the 503 and the read of what
	// the client sent meanwhile.
	connRefusalTimeout = time.Second
	// connRefusalDrain bounds the bytes read from the client before closing.
	connRefusalDrain = 64 << 10
)

// connRefusal is what a connection over the per-address bound reads before
// the gateway closes it: a whole HTTP answer, so a browser or a load
// balancer sees why.
const connRefusal = "HTTP/1.1 503 Service Unavailable\r\n" +
	"Content-Type: text/plain; charset=UTF-8\r\n" +
	"Retry-After: 5\r\n" +
	"Connection: close\r\n" +
	"Content-Length: 22\r\n\r\n" +
	"Too many connections.\n"

// limitKey is the unit a per-address bound counts: the IPv4 address, or
// the /64 of an IPv6 address (one host, or one subscriber's network, holds a
// whole /64, so counting single IPv6 addresses bounds nothing).
func limitKey(a netip.Addr) netip.Addr {
	a = a.Unmap()
	if a.Is6() {
		p, err := a.Prefix(64)
		if err == nil {
			return p.Addr()
		}
	}
	return a
}

// connLimiter counts the open TCP connections of each client address (by
// limitKey) and refuses those over max. Connections from trusted proxies
// are not counted: every client behind one shares its address.
type connLimiter struct {
	max      int
	proxies  *proxyPolicy
	onRefuse func(peer netip.Addr)
	mu       sync.Mutex
	open     map[netip.Addr]int
}

func newConnLimiter(max int, proxies *proxyPolicy, onRefuse func(netip.Addr)) *connLimiter {
	return &connLimiter{max: max, proxies: proxies, onRefuse: onRefuse, open: make(map[netip.Addr]int)}
}

// acquire counts a new connection from peer; false when it is over the
// bound.
func (l *connLimiter) acquire(peer netip.Addr) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.open[peer] >= l.max {
		return false
	}
	l.open[peer]++
	return true
}

func (l *connLimiter) release(peer netip.Addr) {
	l.mu.Lock()
	if n := l.open[peer] - 1; n > 0 {
		l.open[peer] = n
	} else {
		delete(l.open, peer)
	}
	l.mu.Unlock()
}

// limitListener applies a connLimiter to the connections a listener
// accepts.
type limitListener struct {
	net.Listener
	l *connLimiter
}

// Accept returns the next connection within the bound. One over it gets
// connRefusal and is closed in a goroutine of its own, so a flood of them
// never holds up Accept.
func (ll limitListener) Accept() (net.Conn, error) {
	for {
		c, err := ll.Listener.Accept()
		if err != nil {
			return nil, err
		}
		peer := netip.Addr{}
		if ap, perr := netip.ParseAddrPort(c.RemoteAddr().String()); perr == nil {
			peer = ap.Addr().Unmap()
		}
		if !peer.IsValid() || ll.l.proxies.isTrusted(peer) {
			return c, nil
		}
		key := limitKey(peer)
		if ll.l.acquire(key) {
			return &countedConn{Conn: c, release: sync.OnceFunc(func() { ll.l.release(key) })}, nil
		}
		if ll.l.onRefuse != nil {
			ll.l.onRefuse(peer)
		}
		go refuseConn(c)
	}
}

// refuseConn answers a connection over the bound with a 503 and closes it.
// It reads what the client sent (up to connRefusalDrain, within
// connRefusalTimeout) before closing: closing with unread bytes would
// reset the connection, and the client could lose the answer.
func refuseConn(c net.Conn) {
	deadline := time.Now().Add(connRefusalTimeout)
	_ = c.SetDeadline(deadline)
	_, _ = c.Write([]byte(connRefusal))
	if tc, ok := c.(interface{ CloseWrite() error }); ok {
		_ = tc.CloseWrite()
	}
	_, _ = io.Copy(io.Discard, io.LimitReader(c, connRefusalDrain))
	_ = c.Close()
}

// countedConn gives its place back when it is closed, whoever closes it
// (net/http, or a transport that took the connection over).
type countedConn struct {
	net.Conn
	release func()
}

func (c *countedConn) Close() error {
	c.release()
	return c.Conn.Close()
}

// errNoSyscallConn is returned by SyscallConn when the connection under a
// countedConn has no descriptor.
var errNoSyscallConn = errors.New("gateway: connection has no descriptor")

// SyscallConn reaches the descriptor under the connection, for the
// non-blocking writes of connwriter.go.
func (c *countedConn) SyscallConn() (syscall.RawConn, error) {
	if sc, ok := c.Conn.(syscall.Conn); ok {
		return sc.SyscallConn()
	}
	return nil, errNoSyscallConn
}

// CloseWrite half-closes the connection when the one under it can, as a
// stream ending does.
func (c *countedConn) CloseWrite() error {
	if cw, ok := c.Conn.(interface{ CloseWrite() error }); ok {
		return cw.CloseWrite()
	}
	return nil
}
