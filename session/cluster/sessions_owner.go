package cluster

import (
	"context"
	"errors"
	"strconv"
	"strings"
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
	// hPoll "1" on an open: the front node serves a poll, one frame per
	// receiver (see lease.poll). An owner that does not know the header
	// keeps the receiver until done, as before it.
	hPoll = "Sg-Poll"
	// hDetached "1" on a pull reply: the owner detached the receiver with
	// this frame (a poll), so the front node's done is only its
	// acknowledgement and may be sent without waiting for an answer.
	hDetached = "Sg-Detached"
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

// respond answers m with a status and an optional body and headers; a
// message sent without a reply subject (a done of a poll) gets none.
func respond(m *nats.Msg, status string, body []byte, kv ...string) {
	if m.Reply == "" {
		return
	}
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
	c.takeAcks(m)
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
//
// A poll's lease (poll) detaches the receiver as soon as it hands out a
// frame, as a local poll does before its write: the client's next
// request, on any node, attaches at once instead of waiting for the front
// node's done. The frame stays held, so that a pull whose reply was lost
// gets it again, until the front node's done (sent without waiting for an
// answer), an abort (the client left: the frame goes back to the session,
// which closes with 1002, as on one node) or the lease's expiry, which then
// takes it as written: the front node, or its client, had it.
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
	poll     bool // one frame, then the receiver detaches
	detached bool // a poll's receiver after its frame
	// polled is detached for other goroutines: the lease may be ended by
	// an acknowledgement (takeAcks).
	polled atomic.Bool

	// pulling cancels the pull in progress: a newer command from the
	// front node (it gave up on that pull, or is done) must not wait for
	// it.
	pulling atomic.Pointer[context.CancelFunc]
}

// onPull opens a lease or passes a pull to its lease.
func (c *Sessions) onPull(m *nats.Msg) {
	c.takeAcks(m)
	if m.Header.Get(hOp) == opAcks {
		return
	}
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
	// Each wait is bounded by engine.AttachGrace, ReleaseStale's by its
	// own timeouts.
	rcv, err := s.AttachWait(context.Background())
	if errors.Is(err, engine.ErrReceiverAttached) && c.ReleaseStale(prefix, id) {
		rcv, err = s.AttachWait(context.Background())
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
		poll: m.Header.Get(hPoll) == "1", cmds: make(chan *nats.Msg, 4), expired: make(chan struct{}), done: make(chan struct{})}
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

// giveBack returns the unacknowledged frame to the session, unless the
// lease is a poll's that handed it out already (see lease): then it is
// only dropped.
func (l *lease) giveBack() {
	if l.held != nil && !l.detached {
		l.rcv.GiveBack(l.held)
	}
	l.held = nil
}

// detach lets the session's receiver go, unless a poll's lease did so
// already (another receiver may be attached by now).
func (l *lease) detach() {
	if !l.detached {
		l.rcv.Detach()
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
			l.detach()
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
				if l.detached {
					l.c.log.Debug().Str("front", l.front).Msg("poll never acknowledged: its frame taken as written")
				} else {
					l.c.log.Debug().Str("front", l.front).Msg("front node silent: receiver released, frames given back")
				}
				l.giveBack()
				l.detach()
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
	if strings.HasSuffix(m.Subject, "."+kindAbort) {
		// The client left mid-request: as on one node, the session
		// closes with 1002; what it did not get comes before that frame
		// (a poll's frame too: its client did not get it).
		if l.held != nil {
			l.rcv.GiveBack(l.held)
			l.held = nil
		}
		l.rcv.Abort() // closes the session; detaches only this receiver
		respond(m, stOK, nil)
		return false
	}
	if ack, err := strconv.ParseUint(m.Header.Get(hAck), 10, 64); err == nil && ack == l.seq {
		l.held = nil
	}
	if op == opDone {
		l.giveBack()
		l.detach()
		respond(m, stOK, nil)
		return false
	}
	if l.held != nil { // the reply to the last pull was lost: send it again
		l.reply(m)
		return true
	}
	if l.detached { // a poll's lease hands out one frame
		respond(m, stNoLease, nil)
		return false
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
		if l.poll {
			l.rcv.Detach()
			l.detached = true
			l.polled.Store(true)
			l.c.mu.Lock()
			if l.c.byKey[l.key] == l {
				delete(l.c.byKey, l.key) // no longer the session's receiver
			}
			l.c.mu.Unlock()
		}
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
	seq := strconv.FormatUint(l.seq, 10)
	switch { // an absent Sg-Last means "0" (to every version)
	case l.detached && l.heldLast:
		respond(m, stOK, l.held, hSeq, seq, hLast, "1", hDetached, "1")
	case l.detached:
		respond(m, stOK, l.held, hSeq, seq, hDetached, "1")
	case l.heldLast:
		respond(m, stOK, l.held, hSeq, seq, hLast, "1")
	default:
		respond(m, stOK, l.held, hSeq, seq)
	}
}

// onAbort interrupts a lease's pull and ends it with 1002.
func (c *Sessions) onAbort(m *nats.Msg) {
	c.takeAcks(m)
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
	c.takeAcks(m)
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
