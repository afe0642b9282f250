package cluster

import (
	"context"
	"encoding/base64"
	"errors"
	"fmt"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/engine"
)

// Defaults of SessionsOptions.
const (
	// DefaultSessionsBucket is the JetStream key-value bucket that records
	// which node owns each SockJS session.
	DefaultSessionsBucket = "SOCKGATE_SESSIONS"
	// DefaultPullWait is how long the owner keeps one pull open while its
	// session has nothing to send; the front node then pulls again. A pull
	// lost on the way (NATS restarting) is sent again after this and
	// attemptMargin.
	DefaultPullWait = 5 * time.Second
	// DefaultLeaseTTL is how long the owner keeps a receiver for another
	// node between two of its pulls before it takes the node for gone and
	// gives the unacknowledged frames back to the session.
	DefaultLeaseTTL = 10 * time.Second
	// DefaultForwardTimeout bounds a forwarded request other than a pull.
	DefaultForwardTimeout = 5 * time.Second
	// DefaultAckDelay is how long the acknowledgement of a forwarded
	// poll's frame waits for a request to the same owner to ride on
	// before it goes in a message of its own.
	DefaultAckDelay = 10 * time.Millisecond
	// DefaultOwnerGrace is how long a front node keeps retrying a request
	// for an owner that has no subscription (NATS reconnecting) while its
	// heartbeats still arrive.
	DefaultOwnerGrace = 10 * time.Second
)

// openWait is how long the first pull of a receiver waits for a frame: a
// lost one is sent again soon, before the session could time out.
const openWait = time.Second

// attemptMargin is how much longer than the owner's wait a front node
// waits for the answer to one attempt of a pull before it sends it again.
const attemptMargin = 2 * time.Second

// Close code of a session whose owner node is gone.
const (
	// CodeNodeGone closes, as seen from another node, a session whose node
	// stopped without draining (it crashed): c[3014,"Node gone"]. The
	// client may reconnect.
	CodeNodeGone = session.CodeNodeGone
	// ReasonNodeGone goes with CodeNodeGone.
	ReasonNodeGone = session.ReasonNodeGone
)

// Errors of forwarded requests.
var (
	// ErrNoSession means the owner does not have the session (any more).
	ErrNoSession = errors.New("cluster: session not found on its node")
	// ErrNodeGone means the owner of the session stopped or crashed.
	ErrNodeGone = errors.New("cluster: the session's node is gone")
	// ErrNoLease means the owner no longer holds the receiver of a pull.
	ErrNoLease = errors.New("cluster: the owner no longer holds this receiver")
)

// LocalSessions is a node's own sessions, as forwarded requests reach them.
type LocalSessions interface {
	// LocalSession returns the live session id of the service mounted at
	// prefix on this node, or nil.
	LocalSession(prefix, id string) *engine.SockJS
}

// SessionsOptions configure Sessions; zero values mean the defaults.
type SessionsOptions struct {
	// Bucket is the ownership key-value bucket (DefaultSessionsBucket).
	Bucket string
	// PullWait, LeaseTTL, ForwardTimeout, OwnerGrace, AckDelay: see the
	// Default* constants.
	PullWait       time.Duration
	LeaseTTL       time.Duration
	ForwardTimeout time.Duration
	OwnerGrace     time.Duration
	AckDelay       time.Duration
}

// Observer sees every request this node forwards to another: its kind
// ("send", "pull", "abort", "alive"; "acks" for acknowledgements of polls
// sent on their own, see queueAck), how long it took (timed tells
// whether that is a round trip worth timing: a pull that waited for the
// session to have a frame is not) and how it ended.
type Observer func(kind string, took time.Duration, timed bool, err error)

func (o SessionsOptions) resolve() SessionsOptions {
	if o.Bucket == "" {
		o.Bucket = DefaultSessionsBucket
	}
	if o.PullWait <= 0 {
		o.PullWait = DefaultPullWait
	}
	if o.LeaseTTL <= 0 {
		o.LeaseTTL = DefaultLeaseTTL
	}
	if o.ForwardTimeout <= 0 {
		o.ForwardTimeout = DefaultForwardTimeout
	}
	if o.OwnerGrace <= 0 {
		o.OwnerGrace = DefaultOwnerGrace
	}
	if o.AckDelay <= 0 {
		o.AckDelay = DefaultAckDelay
	}
	return o
}

// Sessions makes every node's SockJS sessions reachable from every other
// node over the NATS connection of a NATSBus, so that a plain round-robin
// balancer can send any request to any node. A session lives on the node
// that created it (its owner), recorded in a JetStream key-value bucket
// where the first node to create the key wins. Requests that reach another
// node are forwarded to the owner on subjects of the owner's own,
// subscribed once (<prefix>.fwd.<instance>.<kind>, the session in the
// headers): send (the owner delivers, then answers), pull (the owner holds
// the session's receiver for the front node and hands it frames, each kept
// until the front node acknowledges it wrote it), abort (the client left
// mid-request) and alive (is a front node still serving a receiver). Safe
// for concurrent use.
type Sessions struct {
	b    *NATSBus
	opts SessionsOptions
	log  zerolog.Logger
	kv   jetstream.KeyValue

	local   LocalSessions
	observe Observer
	subs    []*nats.Subscription
	cache   sync.Map     // key -> owner instance
	cached  atomic.Int64 // entries in cache, roughly

	mu      sync.Mutex
	claimed map[string]uint64 // keys this node owns -> revision
	leases  map[string]*lease // id -> receiver held for a front node
	byKey   map[string]*lease // session key -> its lease
	pulling map[string]bool   // ids of this node's open remote receivers
	// inflight are the cancels of the requests waiting on each owner, so
	// that they end as soon as the owner is known to be gone.
	inflight map[string]map[*context.CancelFunc]struct{}
	closed   bool
	wg       sync.WaitGroup

	conflicts atomic.Int64

	subjects sync.Map // instance -> "<prefix>.fwd.<instance>."

	leasePrefix string        // random, this Sessions's
	leaseSeq    atomic.Uint64 // leases asked for so far

	ackMu      sync.Mutex
	acks       map[string][]string // owner -> poll leases acknowledged (see queueAck)
	ackArmed   bool                // a flushAcks is due
	ackStopped bool                // Close: no more timers
}

// maxCached bounds the owner cache; it is emptied when full.
const maxCached = 100_000

// NewSessions makes sure the ownership bucket exists. Serve starts
// answering the other nodes.
func NewSessions(ctx context.Context, b *NATSBus, opts SessionsOptions) (*Sessions, error) {
	opts = opts.resolve()
	c := &Sessions{b: b, opts: opts, log: b.log.With().Str("part", "sessions").Logger(),
		claimed: make(map[string]uint64), leases: make(map[string]*lease), byKey: make(map[string]*lease),
		pulling: make(map[string]bool), inflight: make(map[string]map[*context.CancelFunc]struct{}), observe: func(string, time.Duration, bool, error) {},
		leasePrefix: randomHex() + randomHex() + "-"}
	ctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	kv, err := b.js.CreateOrUpdateKeyValue(ctx, jetstream.KeyValueConfig{
		Bucket:      opts.Bucket,
		Description: "sockgate: the node that owns each SockJS session",
		History:     1,
		Storage:     jetstream.FileStorage,
		Replicas:    b.opts.Replicas,
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: create the session ownership bucket %s: %w", opts.Bucket, err)
	}
	c.kv = kv
	b.onNodeDeparted(c.departed)
	return c, nil
}

// departed ends what waits on a node that stopped or crashed: requests
// this node forwarded to it, and receivers held here for it. A node that
// crashed could not delete its ownership records: they are purged.
func (c *Sessions) departed(instance string, crashed bool) {
	c.mu.Lock()
	for cancel := range c.inflight[instance] {
		(*cancel)()
	}
	var stale []*lease
	for _, l := range c.leases {
		if l.front == instance {
			stale = append(stale, l)
		}
	}
	purge := crashed && !c.closed
	if purge {
		c.wg.Add(1)
	}
	c.mu.Unlock()
	for _, l := range stale {
		l.expire()
	}
	if purge {
		go func() {
			defer c.wg.Done()
			c.purge(instance)
		}()
	}
}

// purge deletes the ownership records of a node that crashed (every
// survivor does; the deletes are conditional, so they do not clash) and
// then drops it from the owner cache.
func (c *Sessions) purge(instance string) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	lister, err := c.kv.ListKeys(ctx)
	if err != nil {
		c.log.Debug().Err(err).Msg("ownership records of a crashed node not listed")
		return
	}
	n := 0
	for key := range lister.Keys() {
		e, err := c.kv.Get(ctx, key)
		if err != nil || string(e.Value()) != instance {
			continue
		}
		if c.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())) == nil {
			n++
		}
	}
	c.cache.Range(func(k, v any) bool {
		if v.(string) == instance {
			c.cache.Delete(k)
		}
		return true
	})
	c.log.Info().Str("instance", instance).Int("records", n).Msg("ownership records of a crashed node deleted")
}

// track records the cancel of a request waiting on owner; the returned
// function forgets it.
func (c *Sessions) track(owner string, cancel context.CancelFunc) func() {
	c.mu.Lock()
	m := c.inflight[owner]
	if m == nil {
		m = make(map[*context.CancelFunc]struct{})
		c.inflight[owner] = m
	}
	m[&cancel] = struct{}{}
	c.mu.Unlock()
	return func() {
		c.mu.Lock()
		delete(m, &cancel) // the owner's (empty) map stays: there are few nodes
		c.mu.Unlock()
	}
}

// Instance is this node's name in the ownership bucket.
func (c *Sessions) Instance() string { return c.b.instance }

// Connected reports whether the NATS connection is up.
func (c *Sessions) Connected() bool { return c.b.nc.IsConnected() }

// Conflicts is how many sessions this node tried to create but another
// node had created first.
func (c *Sessions) Conflicts() int64 { return c.conflicts.Load() }

// RemoteReceivers is how many receivers this node holds for requests that
// other nodes serve.
func (c *Sessions) RemoteReceivers() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.leases)
}

// subject is where the node of instance takes forwarded requests of kind.
func (c *Sessions) subject(instance, kind string) string {
	if p, ok := c.subjects.Load(instance); ok {
		return p.(string) + kind
	}
	p := c.b.opts.SubjectPrefix + ".fwd." + subjectToken(instance) + "."
	c.subjects.Store(instance, p) // a handful of nodes
	return p + kind
}

// sessionKey names a session in the bucket: service prefix and id,
// encoded to the characters keys allow.
func sessionKey(prefix, id string) string {
	return "s." + base64.RawURLEncoding.EncodeToString([]byte(prefix+"\x00"+id))
}

// Serve starts answering forwarded requests for the sessions of local;
// observe (nil: none) sees the requests this node forwards.
func (c *Sessions) Serve(local LocalSessions, observe Observer) error {
	c.local = local
	if observe != nil {
		c.observe = observe
	}
	for kind, h := range map[string]nats.MsgHandler{
		kindSend:  c.onSend,
		kindPull:  c.onPull,
		kindAbort: c.onAbort,
		kindAlive: c.onAlive,
	} {
		sub, err := c.b.nc.Subscribe(c.subject(c.b.instance, kind), h)
		if err != nil {
			return fmt.Errorf("cluster: subscribe to forwarded %s requests: %w", kind, err)
		}
		c.subs = append(c.subs, sub)
	}
	if err := c.b.nc.Flush(); err != nil {
		return fmt.Errorf("cluster: subscribe to forwarded requests: %w", err)
	}
	return nil
}

// Owner returns the instance of the node that owns session id of the
// service at prefix, and whether that is this node. With claim, a session
// nobody owns becomes this node's (the caller then creates it); without,
// owner is "" for a session nobody owns.
func (c *Sessions) Owner(ctx context.Context, prefix, id string, claim bool) (owner string, mine bool, err error) {
	key := sessionKey(prefix, id)
	if v, ok := c.cache.Load(key); ok {
		owner = v.(string)
		return owner, owner == c.b.instance, nil
	}
	ctx, cancel := context.WithTimeout(ctx, c.opts.ForwardTimeout)
	defer cancel()
	raced := false // a Create of ours found the key taken
	for range 3 {
		e, err := c.kv.Get(ctx, key)
		switch {
		case err == nil:
			owner = string(e.Value())
			if raced && owner != c.b.instance {
				c.conflicts.Add(1) // another node created it at the same moment
			}
			c.remember(key, owner)
			return owner, owner == c.b.instance, nil
		case !errors.Is(err, jetstream.ErrKeyNotFound):
			return "", false, fmt.Errorf("cluster: look up the owner of session %q: %w", id, err)
		case !claim:
			return "", false, nil
		}
		rev, err := c.kv.Create(ctx, key, []byte(c.b.instance))
		switch {
		case err == nil:
			c.mu.Lock()
			c.claimed[key] = rev
			c.mu.Unlock()
			c.remember(key, c.b.instance)
			return c.b.instance, true, nil
		case errors.Is(err, jetstream.ErrKeyExists):
			raced = true // look again
		default:
			return "", false, fmt.Errorf("cluster: claim session %q: %w", id, err)
		}
	}
	return "", false, fmt.Errorf("cluster: claim session %q: the key keeps changing", id)
}

func (c *Sessions) remember(key, owner string) {
	if c.cached.Add(1) > maxCached {
		c.cache.Clear()
		c.cached.Store(0)
	}
	c.cache.Store(key, owner)
}

// forgetOwner drops what this node believes about a session's owner and,
// when the bucket still names owner, deletes that record so that the id
// can be created again.
func (c *Sessions) forgetOwner(ctx context.Context, prefix, id, owner string) {
	key := sessionKey(prefix, id)
	c.cache.Delete(key)
	ctx, cancel := context.WithTimeout(ctx, c.opts.ForwardTimeout)
	defer cancel()
	e, err := c.kv.Get(ctx, key)
	if err != nil || string(e.Value()) != owner {
		return
	}
	if err := c.kv.Delete(ctx, key, jetstream.LastRevision(e.Revision())); err != nil {
		c.log.Debug().Err(err).Str("session", id).Msg("stale owner record not deleted")
	}
}

// Release gives up this node's ownership of a session that ended.
func (c *Sessions) Release(prefix, id string) {
	key := sessionKey(prefix, id)
	c.cache.Delete(key)
	c.mu.Lock()
	rev, ok := c.claimed[key]
	delete(c.claimed, key)
	closed := c.closed
	if ok && !closed {
		c.wg.Add(1)
	}
	c.mu.Unlock()
	if !ok || closed {
		return
	}
	go func() {
		defer c.wg.Done()
		ctx, cancel := context.WithTimeout(context.Background(), c.opts.ForwardTimeout)
		defer cancel()
		if err := c.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil {
			c.log.Debug().Err(err).Str("session", id).Msg("ownership not released")
		}
	}()
}

// Close stops answering the other nodes, releases the receivers held for
// them (their frames go back to the sessions) and deletes this node's
// ownership records. Call it after the gateway drained, before the bus
// closes.
func (c *Sessions) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	claimed := c.claimed
	c.claimed = make(map[string]uint64)
	leases := make([]*lease, 0, len(c.leases))
	for _, l := range c.leases {
		leases = append(leases, l)
	}
	c.mu.Unlock()
	for _, sub := range c.subs {
		_ = sub.Unsubscribe()
	}
	c.ackMu.Lock()
	c.ackStopped = true
	c.ackMu.Unlock()
	c.flushAcks()
	_ = c.b.nc.FlushTimeout(time.Second) // the other nodes' requests now find no responder
	for _, l := range leases {
		l.expire()
	}
	c.wg.Wait()
	ctx, cancel := context.WithTimeout(context.Background(), c.opts.ForwardTimeout)
	defer cancel()
	for key, rev := range claimed {
		if err := c.kv.Delete(ctx, key, jetstream.LastRevision(rev)); err != nil && ctx.Err() != nil {
			c.log.Warn().Err(err).Int("left", len(claimed)).Msg("ownership records not deleted")
			break
		}
	}
	return nil
}
