package cluster

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/nats-io/nats.go"
)

// DefaultControlWait bounds how long a Control call waits for the other
// nodes' answers when it does not hear from every node it knows.
const DefaultControlWait = time.Second

// controlStraggler is how long a control call still listens once every
// node it knows of has answered.
const controlStraggler = 50 * time.Millisecond

// Closer closes sessions on one node; the gateway implements it. Each
// method returns how many sessions it closed.
type Closer interface {
	CloseSession(id string, code int, reason string) int
	DisconnectUser(subject string, code int, reason string) int
}

// Operations of a control request.
const (
	opCloseSession   = "close_session"
	opDisconnectUser = "disconnect_user"
)

// controlRequest is what a Control call sends to every node.
type controlRequest struct {
	Op     string `json:"op"`
	Target string `json:"target"` // the session id or the subject
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// controlReply is one node's answer.
type controlReply struct {
	Node   string `json:"node"`
	Closed int    `json:"closed"`
}

// Control carries session closes and user disconnects to every node of a
// NATS cluster: a request on <prefix>.control that each node (this one
// included) answers with how many sessions it closed. Safe for concurrent
// use.
type Control struct {
	bus  *NATSBus
	sub  *nats.Subscription
	wait time.Duration

	mu    sync.Mutex
	local Closer // nil until Serve
}

// NewControl subscribes this node to control requests. It answers them
// (closing nothing) until Serve names the node's Closer. Close ends it.
func (b *NATSBus) NewControl() (*Control, error) {
	c := &Control{bus: b, wait: DefaultControlWait}
	sub, err := b.nc.Subscribe(b.controlSubject(), c.onRequest)
	if err != nil {
		return nil, fmt.Errorf("cluster: subscribe to control requests: %w", err)
	}
	c.sub = sub
	return c, nil
}

func (b *NATSBus) controlSubject() string { return b.opts.SubjectPrefix + ".control" }

// Serve makes control requests close sessions through local.
func (c *Control) Serve(local Closer) {
	c.mu.Lock()
	c.local = local
	c.mu.Unlock()
}

// Close stops answering control requests.
func (c *Control) Close() error {
	if err := c.sub.Unsubscribe(); err != nil && !errors.Is(err, nats.ErrConnectionClosed) {
		return fmt.Errorf("cluster: unsubscribe from control requests: %w", err)
	}
	return nil
}

// CloseSession closes every session with id on every node.
func (c *Control) CloseSession(ctx context.Context, id string, code int, reason string) (int, error) {
	return c.call(ctx, controlRequest{Op: opCloseSession, Target: id, Code: code, Reason: reason})
}

// DisconnectUser closes every session whose token names subject, on every
// node.
func (c *Control) DisconnectUser(ctx context.Context, subject string, code int, reason string) (int, error) {
	return c.call(ctx, controlRequest{Op: opDisconnectUser, Target: subject, Code: code, Reason: reason})
}

// call sends req to every node and adds up their answers. It returns once
// every node it knows of (by their heartbeats) has answered, or after the
// control wait, or when ctx ends.
func (c *Control) call(ctx context.Context, req controlRequest) (int, error) {
	data, err := json.Marshal(req)
	if err != nil {
		return 0, fmt.Errorf("cluster: encode control request: %w", err)
	}
	nc := c.bus.nc
	inbox := nc.NewRespInbox()
	replies, err := nc.SubscribeSync(inbox)
	if err != nil {
		return 0, fmt.Errorf("cluster: control reply inbox: %w", err)
	}
	defer func() { _ = replies.Unsubscribe() }()
	if err := nc.PublishRequest(c.bus.controlSubject(), inbox, data); err != nil {
		return 0, fmt.Errorf("cluster: send control request: %w", err)
	}
	want := c.bus.nodeCount()
	wctx, cancel := context.WithTimeout(ctx, c.wait)
	defer cancel()
	total, answered := 0, 0
	for {
		m, err := nextReply(wctx, replies, answered >= want)
		if err != nil {
			break // the wait is over; nodes that did not answer count 0
		}
		var r controlReply
		if json.Unmarshal(m.Data, &r) == nil {
			total += r.Closed
			answered++
		}
	}
	if answered == 0 {
		if err := ctx.Err(); err != nil {
			return 0, fmt.Errorf("cluster: control request: %w", err)
		}
		return 0, errors.New("cluster: control request: no node answered (is NATS reachable?)")
	}
	return total, nil
}

// nextReply waits for the next answer; once every node known has answered
// (all), only for a moment: a node too new to be known yet answers about
// as fast.
func nextReply(ctx context.Context, replies *nats.Subscription, all bool) (*nats.Msg, error) {
	if all {
		var cancel context.CancelFunc
		ctx, cancel = context.WithTimeout(ctx, controlStraggler)
		defer cancel()
	}
	return replies.NextMsgWithContext(ctx)
}

// onRequest answers a control request with what this node closed.
func (c *Control) onRequest(m *nats.Msg) {
	var req controlRequest
	if err := json.Unmarshal(m.Data, &req); err != nil {
		c.bus.log.Warn().Err(err).Msg("bad control request; ignored")
		return
	}
	c.mu.Lock()
	local := c.local
	c.mu.Unlock()
	closed := 0
	if local != nil {
		switch req.Op {
		case opCloseSession:
			closed = local.CloseSession(req.Target, req.Code, req.Reason)
		case opDisconnectUser:
			closed = local.DisconnectUser(req.Target, req.Code, req.Reason)
		default:
			c.bus.log.Warn().Str("op", req.Op).Msg("unknown control request; ignored")
			return
		}
	}
	data, _ := json.Marshal(controlReply{Node: c.bus.opts.NodeID, Closed: closed})
	if err := m.Respond(data); err != nil {
		c.bus.log.Debug().Err(err).Msg("control reply not sent")
	}
}

// nodeCount is how many nodes this one knows alive, itself included.
func (b *NATSBus) nodeCount() int {
	b.mu.Lock()
	defer b.mu.Unlock()
	return len(b.seen) + 1
}
