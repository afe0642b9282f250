package cluster

import (
	"context"
	"errors"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
)

// Kinds of forwarded requests: the last token of their subject.
const (
	kindSend  = "send"
	kindPull  = "pull"
	kindAbort = "abort"
	kindAlive = "alive"
)

// Headers of forwarded requests and their replies.
const (
	hSvc    = "Sg-Svc"    // service prefix
	hSid    = "Sg-Sid"    // session id
	hLease  = "Sg-Lease"  // id of a receiver held for a front node
	hFront  = "Sg-Front"  // instance of the front node
	hOp     = "Sg-Op"     // pull operation: open, next, done
	hAck    = "Sg-Ack"    // sequence of the last frame the front node wrote
	hSeq    = "Sg-Seq"    // sequence of the frame in the body
	hLast   = "Sg-Last"   // "1": the frame is the close frame
	hStatus = "Sg-Status" // reply status
)

// Pull operations.
const (
	opOpen = "open" // attach a receiver and pull the first frame
	opNext = "next" // acknowledge the last frame and pull the next
	opDone = "done" // acknowledge the last frame and detach
)

// Reply statuses.
const (
	stOK        = "ok"
	stNoSession = "nosession"
	stAttached  = "attached"
	stNoLease   = "nolease"
	stBad       = "bad"
	stError     = "error"
)

// respond answers m with a status and an optional body and headers.
func respond(m *nats.Msg, status string, body []byte, kv ...string) {
	r := nats.NewMsg(m.Reply)
	r.Header.Set(hStatus, status)
	for i := 0; i+1 < len(kv); i += 2 {
		r.Header.Set(kv[i], kv[i+1])
	}
	r.Data = body
	_ = m.RespondMsg(r)
}

// onSend delivers forwarded messages to a local session, then answers.
func (c *Sessions) onSend(m *nats.Msg) {
	c.wg.Go(func() {
		s := c.local.LocalSession(m.Header.Get(hSvc), m.Header.Get(hSid))
		if s == nil {
			respond(m, stNoSession, nil)
			return
		}
		msgs, err := engine.DecodeMessages(m.Data)
		if err != nil {
			respond(m, stBad, []byte(err.Error()))
			return
		}
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.ForwardTimeout)
		defer cancel()
		switch err := s.DeliverAndWait(ctx, msgs); {
		case err == nil, errors.Is(err, engine.ErrRateLimited), errors.Is(err, session.ErrClosed):
			// A rate-limited or closed session's close frame reaches the
			// client on its receiving request, as on one node.
			respond(m, stOK, nil)
		default:
			respond(m, stError, []byte(err.Error()))
		}
	})
}

// lease is a local session's receiver held for a request another node
// serves. One goroutine (run) owns the receiver; the front node's pulls
// reach it through cmds. The frame last handed out is kept (held) until
// the front node acknowledges it wrote it; an abort, an expiry or a Close
// gives it back to the session.
type lease struct {
	c     *Sessions
	id    string
	front string
	key   string
	rcv   *engine.Receiver
	cmds  chan *nats.Msg

	ctx        context.Context // ends on abort or expiry: interrupts a pull
	cancel     context.CancelFunc
	expired    chan struct{}
	expireOnce sync.Once
	done       chan struct{} // closed when run returns

	seq      uint64
	held     []byte
	heldLast bool

	// pulling cancels the pull in progress: a newer command from the
	// front node (it gave up on that pull, or is done) must not wait for
	// it.
	pulling atomic.Pointer[context.CancelFunc]
}

// onPull opens a lease or passes a pull to its lease.
func (c *Sessions) onPull(m *nats.Msg) {
	c.mu.Lock()
	l := c.leases[m.Header.Get(hLease)]
	c.mu.Unlock()
	if l == nil && m.Header.Get(hOp) == opOpen {
		c.wg.Go(func() { c.openLease(m) })
		return
	}
	if l == nil {
		respond(m, stNoLease, nil)
		return
	}
	if cancel := l.pulling.Load(); cancel != nil {
		(*cancel)()
	}
	select {
	case l.cmds <- m:
	default:
		respond(m, stError, []byte("too many pulls at once"))
	}
}

// openLease attaches a receiver to the local session for a front node.
func (c *Sessions) openLease(m *nats.Msg) {
	prefix, id := m.Header.Get(hSvc), m.Header.Get(hSid)
	s := c.local.LocalSession(prefix, id)
	if s == nil {
		respond(m, stNoSession, nil)
		return
	}
	key := sessionKey(prefix, id)
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	rcv, err := s.AttachWait(ctx)
	if errors.Is(err, engine.ErrReceiverAttached) && c.ReleaseStale(prefix, id) {
		rcv, err = s.AttachWait(ctx)
	}
	switch {
	case errors.Is(err, engine.ErrReceiverAttached):
		respond(m, stAttached, nil)
		return
	case err != nil:
		respond(m, stNoSession, nil)
		return
	}
	l := &lease{c: c, id: m.Header.Get(hLease), front: m.Header.Get(hFront), key: key, rcv: rcv,
		cmds: make(chan *nats.Msg, 4), expired: make(chan struct{}), done: make(chan struct{})}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	c.mu.Lock()
	if c.closed || l.id == "" || c.leases[l.id] != nil { // an open tried again: the first one serves
		c.mu.Unlock()
		rcv.Detach()
		respond(m, stError, []byte("lease refused"))
		return
	}
	c.leases[l.id] = l
	c.byKey[key] = l
	c.mu.Unlock()
	l.run(m)
}

// expire ends the lease from outside: its frames go back to the session.
func (l *lease) expire() {
	l.expireOnce.Do(func() {
		close(l.expired)
		l.cancel()
	})
}

// giveBack returns the unacknowledged frame to the session.
func (l *lease) giveBack() {
	if l.held != nil {
		l.rcv.GiveBack(l.held)
		l.held = nil
	}
}

// run serves the front node's pulls, starting with first, until it is
// done, aborts, or goes silent for the lease TTL.
func (l *lease) run(first *nats.Msg) {
	defer func() {
		l.cancel()
		l.c.mu.Lock()
		delete(l.c.leases, l.id)
		if l.c.byKey[l.key] == l {
			delete(l.c.byKey, l.key)
		}
		l.c.mu.Unlock()
		close(l.done)
	}()
	ttl := time.NewTimer(l.c.opts.LeaseTTL)
	defer ttl.Stop()
	m := first
	for {
		select {
		case <-l.expired:
			l.giveBack()
			l.rcv.Detach()
			return
		default:
		}
		if m == nil {
			ttl.Reset(l.c.opts.LeaseTTL)
			select {
			case m = <-l.cmds:
			case <-l.expired:
				continue
			case <-ttl.C:
				l.c.log.Debug().Str("front", l.front).Msg("front node silent: receiver released, frames given back")
				l.giveBack()
				l.rcv.Detach()
				return
			}
		}
		if !l.serve(m) {
			return
		}
		m = nil
	}
}

// serve handles one command; false ends the lease.
func (l *lease) serve(m *nats.Msg) bool {
	op := m.Header.Get(hOp)
	if m.Subject == l.c.subject(l.c.b.instance, kindAbort) {
		// The client left mid-request: as on one node, the session
		// closes with 1002; what it did not get comes before that frame.
		l.giveBack()
		l.rcv.Abort()
		respond(m, stOK, nil)
		return false
	}
	if ack, err := strconv.ParseUint(m.Header.Get(hAck), 10, 64); err == nil && ack == l.seq {
		l.held = nil
	}
	if op == opDone {
		l.giveBack()
		l.rcv.Detach()
		respond(m, stOK, nil)
		return false
	}
	if l.held != nil { // the reply to the last pull was lost: send it again
		l.reply(m)
		return true
	}
	wait := l.c.opts.PullWait
	if op == opOpen {
		wait = openWait
	}
	ctx, cancel := context.WithTimeout(l.ctx, wait)
	l.pulling.Store(&cancel)
	if len(l.cmds) > 0 { // a newer command came in before this pull began
		cancel()
	}
	frame, last, err := l.rcv.Next(ctx)
	l.pulling.Store(nil)
	cancel()
	switch {
	case err == nil:
		l.seq++
		l.held, l.heldLast = frame, last
		l.reply(m)
	case errors.Is(err, session.ErrClosed):
		respond(m, stNoSession, nil)
		l.rcv.Detach()
		return false
	default: // nothing to send within the pull wait, or interrupted
		respond(m, stOK, nil)
	}
	return true
}

// reply answers a pull with the held frame.
func (l *lease) reply(m *nats.Msg) {
	last := "0"
	if l.heldLast {
		last = "1"
	}
	respond(m, stOK, l.held, hSeq, strconv.FormatUint(l.seq, 10), hLast, last)
}

// onAbort interrupts a lease's pull and ends it with 1002.
func (c *Sessions) onAbort(m *nats.Msg) {
	c.mu.Lock()
	l := c.leases[m.Header.Get(hLease)]
	c.mu.Unlock()
	if l == nil {
		respond(m, stNoLease, nil)
		return
	}
	l.cancel()
	select {
	case l.cmds <- m:
	case <-l.done:
		respond(m, stNoLease, nil)
	}
}

// onAlive tells an owner whether this node still serves a receiver.
func (c *Sessions) onAlive(m *nats.Msg) {
	c.mu.Lock()
	ok := c.pulling[m.Header.Get(hLease)]
	c.mu.Unlock()
	if ok {
		respond(m, stOK, []byte("1"))
		return
	}
	respond(m, stOK, []byte("0"))
}

// ReleaseStale is called when a receiver cannot attach to a local session
// because another is attached: if that one is held for a front node that
// no longer serves it (the node is gone, or its request ended without
// telling), it is released, its frames given back, and ReleaseStale
// returns true: attach again. Otherwise the answer 2010 stands.
func (c *Sessions) ReleaseStale(prefix, id string) bool {
	c.mu.Lock()
	l := c.byKey[sessionKey(prefix, id)]
	c.mu.Unlock()
	if l == nil {
		return false
	}
	msg := nats.NewMsg(c.subject(l.front, kindAlive))
	msg.Header.Set(hLease, l.id)
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	reply, err := c.b.nc.RequestMsgWithContext(ctx, msg)
	cancel()
	c.observe(kindAlive, time.Since(start), true, err)
	switch {
	case err == nil && string(reply.Data) == "1":
		return false
	case err != nil && !errors.Is(err, nats.ErrNoResponders):
		return false // cannot tell: keep the receiver
	}
	c.log.Info().Str("front", l.front).Str("session", id).Msg("receiver held for a node that no longer serves it: released")
	l.expire()
	select {
	case <-l.done:
	case <-time.After(time.Second):
	}
	return true
}
