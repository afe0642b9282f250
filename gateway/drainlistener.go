package gateway

import (
	"context"
	"errors"
	"net"
	"sync"
	"time"
)

// backlogWait is how long a drain keeps accepting once it stops listening:
// the connections the kernel completed before (its accept queue) are taken
// and served; only the ones that complete after it are refused.
const backlogWait = 50 * time.Millisecond

// drainingListener is the gateway's listener: a drain closes its port with
// closeAccepting before net/http's Shutdown, so that a client whose
// connection was already made gets its answer. Closing the port outright
// resets the connections in the kernel's accept queue, and net/http's
// Shutdown drops a request it reads after it began (the connection closes,
// the client reads EOF): a balancer retries neither for a POST, such as an
// xhr poll, and the client would take the session for lost.
type drainingListener struct {
	*net.TCPListener
	stop      chan struct{} // closeAccepting was called
	stopOnce  sync.Once
	drained   chan struct{} // the accept queue is empty and the port closed
	drainOnce sync.Once
	closed    chan struct{} // Close was called (net/http's Shutdown)
	closeOnce sync.Once
}

func newDrainingListener(ln *net.TCPListener) *drainingListener {
	return &drainingListener{
		TCPListener: ln,
		stop:        make(chan struct{}),
		drained:     make(chan struct{}),
		closed:      make(chan struct{}),
	}
}

// Accept returns the next connection. Once closeAccepting was called, it
// returns those the kernel has queued, then closes the port and waits for
// Close.
func (l *drainingListener) Accept() (net.Conn, error) {
	c, err := l.TCPListener.Accept()
	if err == nil {
		return c, nil
	}
	select {
	case <-l.stop:
	default:
		return nil, err // not draining: net/http decides
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() || errors.Is(err, net.ErrClosed) {
		l.closePort()
		<-l.closed
		return nil, net.ErrClosed
	}
	return nil, err
}

// closeAccepting stops listening: Accept takes the queued connections for
// backlogWait more, then the port closes (new connections are refused, so
// a balancer sends them to another node). It returns once the port is
// closed: by Accept, or here when ctx ends or Accept is not called.
func (l *drainingListener) closeAccepting(ctx context.Context) {
	l.stopOnce.Do(func() {
		close(l.stop)
		// The Accept in progress returns at the deadline at the latest.
		_ = l.SetDeadline(time.Now().Add(backlogWait))
	})
	bound := time.NewTimer(backlogWait + time.Second) // Serve may have stopped accepting
	defer bound.Stop()
	select {
	case <-l.drained:
	case <-bound.C:
		l.closePort()
	case <-ctx.Done():
		l.closePort()
	}
}

func (l *drainingListener) closePort() {
	l.drainOnce.Do(func() {
		_ = l.TCPListener.Close()
		close(l.drained)
	})
}

// Close closes the port (if a drain has not) and ends Accept.
func (l *drainingListener) Close() error {
	l.closeOnce.Do(func() { close(l.closed) })
	l.closePort()
	return nil
}
