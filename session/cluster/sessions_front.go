package cluster

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"time"

	"github.com/nats-io/nats.go"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
)

// retryPause is the pause between two attempts at a request whose owner
// has no subscription yet (NATS reconnecting).
const retryPause = 100 * time.Millisecond

// forward sends one request to owner and waits for its reply, for at most
// timeout per attempt. While the owner's subscription is missing but its
// heartbeats still arrive (a NATS reconnection), it tries again for up to
// OwnerGrace; an owner that is not alive gives ErrNodeGone. With retry,
// timeouts are tried again too (pulls are idempotent; sends are not).
func (c *Sessions) forward(ctx context.Context, owner, kind string, msg *nats.Msg, timeout time.Duration, retry, timed bool) (*nats.Msg, error) {
	msg.Subject = c.subject(owner, kind)
	c.attachAcks(owner, msg)
	c.b.watch(owner)
	start := time.Now()
	giveUp := start.Add(c.opts.OwnerGrace)
	for {
		rctx, cancel := context.WithTimeout(ctx, timeout)
		untrack := c.track(owner, cancel)
		reply, err := c.b.nc.RequestMsgWithContext(rctx, msg)
		untrack()
		cancel()
		if err == nil {
			c.observe(kind, time.Since(start), timed, nil)
			if st := reply.Header.Get(hStatus); st == stError || st == stBad {
				return reply, fmt.Errorf("cluster: %s on node %s: %s", kind, owner, reply.Data)
			}
			return reply, nil
		}
		if ctx.Err() != nil {
			c.observe(kind, time.Since(start), timed, ctx.Err())
			return nil, ctx.Err()
		}
		noResponders := errors.Is(err, nats.ErrNoResponders)
		c.log.Debug().Err(err).Str("owner", owner).Str("kind", kind).Msg("forwarded request failed")
		switch {
		case !c.b.Alive(owner):
			err = ErrNodeGone
		case time.Now().After(giveUp) && noResponders:
			err = ErrNodeGone // no subscription for all that time
		case time.Now().After(giveUp):
		case noResponders, retry:
			select {
			case <-time.After(retryPause):
				continue
			case <-ctx.Done():
				err = ctx.Err()
			}
		}
		c.observe(kind, time.Since(start), timed, err)
		return nil, fmt.Errorf("cluster: %s to node %s: %w", kind, owner, err)
	}
}

// Send delivers body (a SockJS send payload, already validated: a JSON
// array of strings) to the session on owner, returning once the owner's
// service has handled the messages. ErrNoSession: the owner has no such
// session; ErrNodeGone: the owner is gone.
func (c *Sessions) Send(ctx context.Context, owner, prefix, id string, body []byte) error {
	msg := nats.NewMsg("")
	msg.Header.Set(hSvc, prefix)
	msg.Header.Set(hSid, id)
	msg.Data = body
	reply, err := c.forward(ctx, owner, kindSend, msg, c.opts.ForwardTimeout, false, true)
	if err != nil {
		if errors.Is(err, ErrNodeGone) {
			c.forgetOwner(context.Background(), prefix, id, owner)
		}
		return err
	}
	if reply.Header.Get(hStatus) == stNoSession {
		c.forgetOwner(ctx, prefix, id, owner)
		return ErrNoSession
	}
	return nil
}

// RemoteReceiver is a receiver that the owner of a session holds for a
// request this node serves. Next and the write that follows belong to one
// goroutine; Done or Abort ends it. Each frame is acknowledged when the
// next is asked for (or on Done), so the caller must call Next again, or
// Done, only once it wrote the frame to its client.
type RemoteReceiver struct {
	c                   *Sessions
	owner, prefix, id   string
	lease               string
	seq                 uint64 // of the last frame received
	first               []byte
	firstLast, hasFirst bool
	ended               bool
	poll                bool // one frame (see Poll)
	detached            bool // the owner detached its receiver with the last frame
}

// Pull attaches a receiver to the session on owner for a request this
// node serves, and fetches its first frame. It fails with
// engine.ErrReceiverAttached when another receiver is attached (answer
// 2010), ErrNoSession when the owner has no such session (its record is
// then dropped: the caller may claim the id) and ErrNodeGone when the owner
// is gone.
func (c *Sessions) Pull(ctx context.Context, owner, prefix, id string) (*RemoteReceiver, error) {
	return c.pull(ctx, owner, prefix, id, false)
}

// Poll is Pull for a response that carries one frame (xhr-polling, jsonp):
// the owner detaches its receiver as soon as it hands the frame out, so
// the client's next request attaches at once on any node, and Done (or
// DoneAsync) only acknowledges the frame, without waiting for an answer.
// Against an owner of a version before this (it does not detach), Done is
// Pull's.
func (c *Sessions) Poll(ctx context.Context, owner, prefix, id string) (*RemoteReceiver, error) {
	return c.pull(ctx, owner, prefix, id, true)
}

func (c *Sessions) pull(ctx context.Context, owner, prefix, id string, poll bool) (*RemoteReceiver, error) {
	rr := &RemoteReceiver{c: c, owner: owner, prefix: prefix, id: id, lease: c.newLease(), poll: poll}
	c.mu.Lock()
	c.pulling[rr.lease] = true
	c.mu.Unlock()
	reply, err := rr.request(ctx, opOpen)
	if err != nil {
		if ctx.Err() != nil {
			// The client left while the owner was attaching: the owner
			// may hold a receiver for it already.
			rr.Abort()
			return nil, err
		}
		rr.end()
		if errors.Is(err, ErrNodeGone) {
			c.forgetOwner(context.Background(), prefix, id, owner)
		}
		return nil, err
	}
	switch reply.Header.Get(hStatus) {
	case stOK:
		rr.hasFirst = true
		rr.first, rr.firstLast = rr.frame(reply)
		return rr, nil
	case stAttached:
		rr.end()
		return nil, engine.ErrReceiverAttached
	default:
		rr.end()
		c.forgetOwner(ctx, prefix, id, owner)
		return nil, ErrNoSession
	}
}

// newLease names a receiver this node asks an owner for: unique across
// nodes and restarts (a random prefix per Sessions) without a random read
// per request.
func (c *Sessions) newLease() string {
	return c.leasePrefix + strconv.FormatUint(c.leaseSeq.Add(1), 36)
}

// request sends one pull operation with the acknowledgement of the last
// frame.
func (rr *RemoteReceiver) request(ctx context.Context, op string) (*nats.Msg, error) {
	msg := nats.NewMsg("")
	msg.Header.Set(hOp, op)
	msg.Header.Set(hLease, rr.lease)
	if op != opOpen { // an open acknowledges nothing
		msg.Header.Set(hAck, strconv.FormatUint(rr.seq, 10))
	}
	if op == opOpen {
		msg.Header.Set(hSvc, rr.prefix)
		msg.Header.Set(hSid, rr.id)
		msg.Header.Set(hFront, rr.c.b.instance)
		if rr.poll {
			msg.Header.Set(hPoll, "1")
		}
	}
	timeout := attemptMargin // done
	switch op {
	case opOpen:
		timeout += openWait
	case opNext:
		timeout += rr.c.opts.PullWait
	}
	return rr.c.forward(ctx, rr.owner, kindPull, msg, timeout, true, op == opDone)
}

// frame reads a pull reply's frame (nil: none) and records its sequence.
func (rr *RemoteReceiver) frame(reply *nats.Msg) (frame []byte, last bool) {
	seq, err := strconv.ParseUint(reply.Header.Get(hSeq), 10, 64)
	if err != nil {
		return nil, false
	}
	rr.seq = seq
	rr.detached = reply.Header.Get(hDetached) == "1"
	return reply.Data, reply.Header.Get(hLast) == "1"
}

// Next returns the session's next frame, as engine.Receiver.Next does:
// "o", "a[...]", "h", and the close frame with last set. An error means
// the owner's receiver is gone (the session was forgotten, the owner
// stopped, or ctx ended: then call Abort).
func (rr *RemoteReceiver) Next(ctx context.Context) (frame []byte, last bool, err error) {
	if rr.hasFirst {
		rr.hasFirst = false
		if rr.first != nil {
			return rr.first, rr.firstLast, nil
		}
	}
	for {
		reply, err := rr.request(ctx, opNext)
		if err != nil {
			return nil, true, err
		}
		switch reply.Header.Get(hStatus) {
		case stOK:
			if f, last := rr.frame(reply); f != nil {
				return f, last, nil
			}
		case stNoLease:
			return nil, true, ErrNoLease
		default:
			return nil, true, session.ErrClosed
		}
	}
}

// Done acknowledges the last frame and lets the owner detach the receiver
// (the response ended normally).
func (rr *RemoteReceiver) Done() {
	if rr.ended {
		return
	}
	if rr.detached {
		rr.ack()
		return
	}
	// Tried again until it gets through or the owner's lease would have
	// expired anyway: a lost acknowledgement would have the owner send the
	// last frame again.
	ctx, cancel := context.WithTimeout(context.Background(), rr.c.opts.LeaseTTL)
	defer cancel()
	if _, err := rr.request(ctx, opDone); err != nil {
		rr.c.log.Debug().Err(err).Str("session", rr.id).Msg("remote receiver not released; the owner's lease will expire")
	}
	rr.end()
}

// DoneAsync is Done in the background: the caller's response is complete
// and need not wait for the owner's answer. A receiver attaching on the
// owner meanwhile waits for the detach (engine.AttachGrace).
func (rr *RemoteReceiver) DoneAsync() {
	if rr.ended || rr.detached {
		rr.Done()
		return
	}
	c := rr.c
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		rr.Done()
		return
	}
	c.wg.Add(1)
	c.mu.Unlock()
	go func() {
		defer c.wg.Done()
		rr.Done()
	}()
}

// ack ends a poll's receiver whose owner detached: its acknowledgement
// goes with the next message to the owner (see queueAck).
func (rr *RemoteReceiver) ack() {
	rr.c.queueAck(rr.owner, rr.lease)
	rr.end()
}

// Abort tells the owner that the client left mid-request: the frame not
// acknowledged goes back to the session, which closes with 1002.
func (rr *RemoteReceiver) Abort() {
	if rr.ended {
		return
	}
	ctx, cancel := context.WithTimeout(context.Background(), rr.c.opts.LeaseTTL)
	defer cancel()
	msg := nats.NewMsg("")
	msg.Header.Set(hLease, rr.lease)
	if _, err := rr.c.forward(ctx, rr.owner, kindAbort, msg, attemptMargin, true, true); err != nil {
		rr.c.log.Debug().Err(err).Str("session", rr.id).Msg("abort not forwarded; the owner's lease will expire")
	}
	rr.end()
}

func (rr *RemoteReceiver) end() {
	rr.ended = true
	rr.c.mu.Lock()
	delete(rr.c.pulling, rr.lease)
	rr.c.mu.Unlock()
}
