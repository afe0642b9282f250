package gateway

import (
	"encoding/binary"
	"net"
	"sync"
	"syscall"
	"time"
	"unicode/utf8"
)

// connWriter writes the frames of one connection we own (a websocket, a
// streaming response taken over from net/http) without a goroutine of its
// own. Whoever has something for the client (a Send, a
// broadcast, the heartbeat timer, the reader answering a ping) calls wake.
// If no write is in progress, that goroutine collects every ready frame
// into one buffer and writes it with one non-blocking system call. Only
// when the socket cannot take it all at once (the client reads slowly)
// does a goroutine start, to finish with blocking writes and then end. So a
// connection that keeps up has no writer goroutine, a burst of messages
// costs one write, and no lock is held across a network write.
type connWriter struct {
	conn net.Conn
	raw  syscall.RawConn // nil when conn has no descriptor (TLS): writes then always go through a goroutine
	// fill appends every frame ready now, already framed, to dst; end
	// means nothing may follow them (a close frame, or the session is
	// gone).
	fill func(dst []byte) (out []byte, end bool)
	// onEnd, when set, runs once the frames that ended the connection are
	// written (or failed).
	onEnd func()

	mu      sync.Mutex
	cond    sync.Cond
	running bool // a goroutine collects or writes
	again   bool // woken while running: collect once more
	stopped bool // nothing more is written
	// Control frames to write before the next collected ones. They are
	// bounded whatever the client sends: a pong waiting to be written is
	// replaced by the next one (RFC 6455 5.5.3 lets a server answer only
	// the latest ping), and after a close frame nothing is taken.
	pong      []byte // the pending pong, if any
	closeCtrl []byte // the pending close frame, if any
	closing   bool   // a close frame was taken: nothing may follow it
}

func newConnWriter(conn net.Conn, fill func([]byte) ([]byte, bool)) *connWriter {
	w := &connWriter{conn: conn, fill: fill}
	w.cond.L = &w.mu
	if sc, ok := conn.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil && nonBlockingWrites {
			w.raw = raw
		}
	}
	return w
}

// writeBuffers recycles the buffers frames are collected in; one is held
// only while a write is in progress.
var writeBuffers = sync.Pool{New: func() any { b := make([]byte, 0, 4096); return &b }}

// maxPooledBuffer is the largest buffer put back into writeBuffers.
const maxPooledBuffer = 64 << 10

// wake writes whatever is ready, now, in the calling goroutine (or marks
// the running writer to look again). It never blocks on the network.
func (w *connWriter) wake() {
	w.mu.Lock()
	switch {
	case w.stopped:
		w.mu.Unlock()
		return
	case w.running:
		w.again = true
		w.mu.Unlock()
		return
	}
	w.running = true
	w.mu.Unlock()
	bp := writeBuffers.Get().(*[]byte)
	if w.raw == nil {
		go w.drain(bp, (*bp)[:0], false, true, false)
		return
	}
	w.drain(bp, (*bp)[:0], false, true, true)
}

// control queues a control frame (a pong, or a close when closing) ahead
// of the next collected frames and writes it; after a close frame nothing
// more is. A pong not yet written is replaced by the new one, so a ping
// flood holds at most one pong (at most 127 bytes) however slowly the
// client reads.
func (w *connWriter) control(frame []byte, closing bool) {
	w.mu.Lock()
	if w.stopped || w.closing {
		w.mu.Unlock()
		return
	}
	if closing {
		w.closeCtrl, w.closing = append([]byte(nil), frame...), true
	} else {
		w.pong = append(w.pong[:0], frame...)
	}
	w.mu.Unlock()
	w.wake()
}

// stop ends writing: it waits for a write in progress (bounded by
// writeTimeout) and lets no new one start.
func (w *connWriter) stop() {
	w.mu.Lock()
	w.stopped = true
	for w.running {
		w.cond.Wait()
	}
	w.mu.Unlock()
}

// isStopped reports whether nothing more will be written.
func (w *connWriter) isStopped() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.stopped
}

// drain writes buf (frames collected but not yet written; end if they
// finish the connection), then collects and writes until nothing is
// ready. inline means the caller's goroutine: its writes must not block,
// so what the socket does not take at once goes on in a new goroutine.
func (w *connWriter) drain(bp *[]byte, buf []byte, end, collect, inline bool) {
	for {
		if len(buf) > 0 {
			var n int
			var err error
			if inline {
				n, err = tryWrite(w.raw, buf)
			} else {
				n, err = w.write(buf)
			}
			if err == nil && n < len(buf) {
				go w.drain(bp, buf[n:], end, false, false)
				return
			}
			if err != nil {
				_ = w.conn.Close() // unblocks the reader
				end = true
			}
			buf = buf[:0]
		}
		if end && w.onEnd != nil {
			w.onEnd()
		}
		w.mu.Lock()
		if end {
			w.stopped = true
		}
		if w.stopped || !collect && !w.again {
			w.running, w.again = false, false
			w.cond.Broadcast()
			w.mu.Unlock()
			if cap(buf) <= maxPooledBuffer {
				*bp = buf[:0]
				writeBuffers.Put(bp)
			}
			return
		}
		w.again, collect = false, false
		buf = append(buf, w.pong...)
		buf = append(buf, w.closeCtrl...)
		w.pong, w.closeCtrl = w.pong[:0], nil
		end = w.closing
		w.mu.Unlock()
		if !end {
			buf, end = w.fill(buf)
		}
	}
}

// write writes p with blocking writes, bounded by writeTimeout.
func (w *connWriter) write(p []byte) (int, error) {
	_ = w.conn.SetWriteDeadline(time.Now().Add(writeTimeout))
	n, err := w.conn.Write(p)
	_ = w.conn.SetWriteDeadline(time.Time{})
	return n, err
}

// RFC 6455 opcodes a server writes.
const (
	opText  = 0x1
	opClose = 0x8
	opPing  = 0x9
	opPong  = 0xA
)

// appendWSFrame appends p as one unmasked RFC 6455 frame (a server's).
func appendWSFrame(dst []byte, op byte, p []byte) []byte {
	return append(appendWSHeader(dst, op, len(p)), p...)
}

// appendWSHeader appends the header of an unmasked, final frame of n bytes.
func appendWSHeader(dst []byte, op byte, n int) []byte {
	dst = append(dst, 0x80|op)
	switch {
	case n < 126:
		return append(dst, byte(n))
	case n <= 0xFFFF:
		return append(dst, 126, byte(n>>8), byte(n))
	}
	dst = append(dst, 127)
	return binary.BigEndian.AppendUint64(dst, uint64(n))
}

// appendWSClose appends a close frame with code and reason (cut to fit the
// 125-byte control frame at a character boundary).
func appendWSClose(dst []byte, code int, reason string) []byte {
	var p [125]byte
	binary.BigEndian.PutUint16(p[:], uint16(code))
	n := 2
	for _, r := range reason {
		if n+utf8.RuneLen(r) > len(p) {
			break
		}
		n += utf8.EncodeRune(p[n:], r)
	}
	return appendWSFrame(dst, opClose, p[:n])
}
