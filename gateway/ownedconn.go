package gateway

import (
	"context"
	"net"
	"sync/atomic"
	"time"

	"github.com/sockgate/sockgate/session/engine"
)

// ownedConn is a connection the gateway owns for one session receiver: a
// websocket (SockJS, raw or hixie-76) or a stream taken over from
// net/http. It holds what every such transport needs: the connWriter that
// writes the receiver's frames, the heartbeat timer, the keep-alive and
// the teardown. A transport brings only its framing (connFraming) and its
// reader. It costs no goroutine: frames are written by whoever queues them,
// the heartbeat runs on a timer.
//
// wake may be called from any goroutine at any time; start once, by the
// transport, when the receiver is set; teardown once, by the transport's
// reader when the connection ends.
type ownedConn struct {
	svc       *service
	conn      net.Conn
	framing   connFraming
	rcv       *engine.Receiver // set before start
	w         *connWriter
	heartbeat *time.Timer
	ready     atomic.Bool // started: wakes may collect frames
}

// connFraming is how one transport writes a receiver's frames on its
// connection. Its methods run only inside connWriter's fill, which never
// runs concurrently with itself.
type connFraming interface {
	// appendFrame appends one SockJS frame (heartbeat: it is the
	// heartbeat frame; last: the close frame, which ends the session)
	// and reports whether the connection ends after it.
	appendFrame(dst, frame []byte, heartbeat, last bool) (out []byte, end bool)
	// appendGone appends what ends the connection when the session is
	// gone without a close frame to give.
	appendGone(dst []byte) []byte
	// keepAlive runs once per heartbeat delay, before the heartbeat.
	keepAlive()
}

// newOwnedConn returns conn, owned, writing with framing; onEnd (may be
// nil) runs once the frames that ended the connection are written.
func (svc *service) newOwnedConn(conn net.Conn, framing connFraming, onEnd func()) *ownedConn {
	o := &ownedConn{svc: svc, conn: conn, framing: framing}
	o.w = newConnWriter(conn, o.fill)
	o.w.onEnd = onEnd
	return o
}

// wake is the receiver's notify: write what is ready. Before start it
// does nothing (start collects everything queued by then).
func (o *ownedConn) wake() {
	if o.ready.Load() {
		o.w.wake()
	}
}

// start arms the heartbeat and writes whatever is ready (the open frame).
func (o *ownedConn) start() {
	o.w.mu.Lock() // beat reads the timer after taking the lock
	o.heartbeat = time.AfterFunc(o.svc.opts.HeartbeatDelay, o.beat)
	o.w.mu.Unlock()
	o.ready.Store(true)
	o.w.wake()
}

// beat runs on the heartbeat timer: the keep-alive and a heartbeat every
// heartbeat delay, for as long as the connection is written.
func (o *ownedConn) beat() {
	if o.w.isStopped() {
		return
	}
	o.heartbeat.Reset(o.svc.opts.HeartbeatDelay)
	o.framing.keepAlive()
	o.rcv.Heartbeat()
}

// fill hands the connWriter every ready frame, framed.
func (o *ownedConn) fill(dst []byte) ([]byte, bool) {
	for {
		frame, last, ok, err := o.rcv.TryNext(context.Background())
		switch {
		case err != nil:
			return o.framing.appendGone(dst), true
		case !ok:
			return dst, false
		}
		hb := isHeartbeat(frame)
		if hb {
			o.svc.srv.metrics.heartbeats.Inc()
		}
		var end bool
		if dst, end = o.framing.appendFrame(dst, frame, hb, last); end {
			return dst, true
		}
	}
}

// teardown ends the connection: no more heartbeats, a write in progress
// finishes (bounded by writeTimeout), nothing more is written, and the
// connection is closed.
func (o *ownedConn) teardown() {
	if o.heartbeat != nil {
		o.heartbeat.Stop()
	}
	o.w.stop()
	_ = o.conn.Close()
}

// isHeartbeat reports whether a receiver's frame is the heartbeat frame.
func isHeartbeat(frame []byte) bool { return len(frame) == 1 && frame[0] == 'h' }
