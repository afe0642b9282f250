package cluster

import (
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// A poll's receiver is detached on the owner as soon as it hands out its
// frame (see lease); the front node's acknowledgement then only lets the
// owner forget the copy it keeps for a pull whose reply was lost. Such
// acknowledgements wait here, by owner, and ride on the next request this
// node forwards to that owner, whatever its kind or session (header
// hAcks). Those still waiting after AckDelay go in a message of their own,
// sent without waiting for an answer. One that is lost costs only the
// owner's memory of the frame until its lease expires.

// hAcks lists, on any message to an owner, the leases of polls whose frame
// the front node wrote: "lease,lease,...".
const hAcks = "Sg-Acks"

// opAcks is a pull operation that only carries hAcks; kindAcks is its kind
// for the Observer.
const (
	opAcks   = "acks"
	kindAcks = "acks"
)

// maxAcksPerMsg bounds the leases one message acknowledges.
const maxAcksPerMsg = 256

// queueAck records that the frame of poll lease (held by owner) was written.
func (c *Sessions) queueAck(owner, lease string) {
	c.ackMu.Lock()
	defer c.ackMu.Unlock()
	if c.acks == nil {
		c.acks = make(map[string][]string)
	}
	c.acks[owner] = append(c.acks[owner], lease)
	if !c.ackArmed && !c.ackStopped {
		c.ackArmed = true
		time.AfterFunc(c.opts.AckDelay, c.flushAcks)
	}
}

// attachAcks puts up to maxAcksPerMsg of the acknowledgements waiting for
// owner on msg.
func (c *Sessions) attachAcks(owner string, msg *nats.Msg) {
	c.ackMu.Lock()
	pending := c.acks[owner]
	if len(pending) == 0 {
		c.ackMu.Unlock()
		return
	}
	n := min(len(pending), maxAcksPerMsg)
	list := strings.Join(pending[:n], ",")
	if n == len(pending) {
		c.acks[owner] = pending[:0]
	} else {
		c.acks[owner] = append(pending[:0], pending[n:]...)
	}
	c.ackMu.Unlock()
	msg.Header.Set(hAcks, list)
}

// flushAcks sends every acknowledgement still waiting, in messages of
// their own.
func (c *Sessions) flushAcks() {
	c.ackMu.Lock()
	c.ackArmed = false
	var owners []string
	for owner, pending := range c.acks {
		if len(pending) > 0 {
			owners = append(owners, owner)
		}
	}
	c.ackMu.Unlock()
	for _, owner := range owners {
		for {
			msg := nats.NewMsg(c.subject(owner, kindPull))
			c.attachAcks(owner, msg)
			if msg.Header.Get(hAcks) == "" {
				break
			}
			msg.Header.Set(hOp, opAcks)
			err := c.b.nc.PublishMsg(msg)
			c.observe(kindAcks, 0, false, err)
			if err != nil {
				c.log.Debug().Err(err).Str("owner", owner).Msg("poll acknowledgements not sent; the owner's leases will expire")
				break
			}
		}
	}
}

// takeAcks ends the poll leases a message from a front node acknowledges.
func (c *Sessions) takeAcks(m *nats.Msg) {
	list := m.Header.Get(hAcks)
	if list == "" {
		return
	}
	for id := range strings.SplitSeq(list, ",") {
		c.mu.Lock()
		l := c.leases[id]
		c.mu.Unlock()
		// Only a poll's lease that handed out its frame (and so detached)
		// is ended this way: its frame needs no giving back.
		if l != nil && l.polled.Load() {
			l.expire()
		}
	}
}
