package cluster

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"os"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nats-io/nats.go"
	"github.com/nats-io/nats.go/jetstream"
	"github.com/rs/zerolog"
)

// Defaults of NATSOptions.
const (
	// DefaultSubjectPrefix starts every subject the bus uses.
	DefaultSubjectPrefix = "sockgate"
	// DefaultStream is the JetStream stream that orders room events.
	DefaultStream = "SOCKGATE_ROOMS"
	// DefaultMaxAge is how long the stream keeps an event: a node that lost
	// its connection can catch up on a room for that long.
	DefaultMaxAge = 10 * time.Minute
	// DefaultMaxBytes bounds the stream; the oldest events go first.
	DefaultMaxBytes = 256 << 20
	// DefaultSnapshotTimeout is how long a new subscription waits for the
	// first snapshot answer before it starts the room empty.
	DefaultSnapshotTimeout = time.Second
	// DefaultSnapshotGrace is how long, after the first answer, older nodes
	// may still answer.
	DefaultSnapshotGrace = 100 * time.Millisecond
	// DefaultConnectTimeout bounds the first connection to the server.
	DefaultConnectTimeout = 5 * time.Second
	// DefaultReconnectWait is the pause between reconnection attempts
	// (nats.go adds jitter); the client retries for ever.
	DefaultReconnectWait = time.Second
	// DefaultRequestTimeout bounds the bus's own JetStream API calls.
	DefaultRequestTimeout = 5 * time.Second
	// MaxSnapshotBytes bounds a snapshot answer; bigger ones are dropped.
	// It is half of NATS's default max_payload.
	MaxSnapshotBytes = 512 << 10
	// maxClockSkew is how far in the future another node's start time may
	// lie before its snapshot answer is taken for a forgery.
	maxClockSkew = time.Minute
)

// Headers of a snapshot reply; its body is the snapshot.
const (
	hdrNode    = "Sockgate-Node"
	hdrStarted = "Sockgate-Started" // the answering node's start, Unix ns
	hdrSeq     = "Sockgate-Seq"     // stream sequence the snapshot is taken at
)

// NATSOptions configure the NATS bus; zero values mean the defaults.
type NATSOptions struct {
	// NodeID names this node in logs, in its NATS connection name and in
	// its snapshot answers (default: hostname-pid).
	NodeID string
	// Logger receives the bus's log lines (default: none).
	Logger zerolog.Logger
	// SubjectPrefix starts every subject: <prefix>.room.<room> carries
	// events and <prefix>.snapshot.<room> snapshot requests.
	SubjectPrefix string
	// Stream is the JetStream stream holding the events.
	Stream string
	// Replicas is the stream's replica count on a clustered NATS (1).
	Replicas int
	// MaxAge is how long the stream keeps an event (DefaultMaxAge).
	MaxAge time.Duration
	// MaxBytes bounds the stream (DefaultMaxBytes).
	MaxBytes int64
	// SnapshotTimeout, SnapshotGrace, ConnectTimeout, ReconnectWait: see
	// the Default* constants.
	SnapshotTimeout time.Duration
	SnapshotGrace   time.Duration
	ConnectTimeout  time.Duration
	ReconnectWait   time.Duration
	// Heartbeat is how often this node announces itself on
	// <prefix>.nodes.<NodeID>, and HeartbeatMisses how many periods
	// another node may stay silent before it is reported gone (see
	// NodeWatcher, DefaultHeartbeat and DefaultHeartbeatMisses).
	Heartbeat       time.Duration
	HeartbeatMisses int
	// Auth: how this node proves who it is to NATS (any of them, or user
	// and password in the URL; see deploy/README.md).
	Auth NATSAuth
}

// NATSAuth are a NATS connection's credentials and TLS settings; empty
// fields are not used.
type NATSAuth struct {
	// CredsFile is a decentralised-auth credentials file (user JWT and
	// NKey seed), as `nsc` writes it.
	CredsFile string
	// NkeyFile holds an NKey user seed ("SU...").
	NkeyFile string
	// CAFile is a PEM file of the CAs that sign the server's certificate;
	// it turns TLS on.
	CAFile string
	// CertFile and KeyFile are a PEM client certificate and its key, for
	// servers that verify clients (both or neither).
	CertFile string
	KeyFile  string
}

// options turns a into nats.Go connect options.
func (a NATSAuth) options() ([]nats.Option, error) {
	var out []nats.Option
	if a.CredsFile != "" {
		if _, err := os.Stat(a.CredsFile); err != nil {
			return nil, fmt.Errorf("NATS credentials: %w", err)
		}
		out = append(out, nats.UserCredentials(a.CredsFile))
	}
	if a.NkeyFile != "" {
		opt, err := nats.NkeyOptionFromSeed(a.NkeyFile)
		if err != nil {
			return nil, fmt.Errorf("NATS nkey seed %s: %w", a.NkeyFile, err)
		}
		out = append(out, opt)
	}
	if a.CAFile != "" {
		if _, err := os.Stat(a.CAFile); err != nil {
			return nil, fmt.Errorf("NATS CA file: %w", err)
		}
		out = append(out, nats.RootCAs(a.CAFile))
	}
	if (a.CertFile == "") != (a.KeyFile == "") {
		return nil, errors.New("NATS client certificate: give both the certificate and its key")
	}
	if a.CertFile != "" {
		out = append(out, nats.ClientCert(a.CertFile, a.KeyFile))
	}
	return out, nil
}

func (o NATSOptions) resolve() NATSOptions {
	if o.NodeID == "" {
		o.NodeID = DefaultNodeID()
	}
	if o.SubjectPrefix == "" {
		o.SubjectPrefix = DefaultSubjectPrefix
	}
	if o.Stream == "" {
		o.Stream = DefaultStream
	}
	if o.Replicas <= 0 {
		o.Replicas = 1
	}
	if o.MaxAge <= 0 {
		o.MaxAge = DefaultMaxAge
	}
	if o.MaxBytes <= 0 {
		o.MaxBytes = DefaultMaxBytes
	}
	if o.SnapshotTimeout <= 0 {
		o.SnapshotTimeout = DefaultSnapshotTimeout
	}
	if o.SnapshotGrace <= 0 {
		o.SnapshotGrace = DefaultSnapshotGrace
	}
	if o.ConnectTimeout <= 0 {
		o.ConnectTimeout = DefaultConnectTimeout
	}
	if o.ReconnectWait <= 0 {
		o.ReconnectWait = DefaultReconnectWait
	}
	if o.Heartbeat <= 0 {
		o.Heartbeat = DefaultHeartbeat
	}
	if o.HeartbeatMisses <= 0 {
		o.HeartbeatMisses = DefaultHeartbeatMisses
	}
	return o
}

// randomHex is 12 random hex digits.
func randomHex() string {
	var r [6]byte
	_, _ = rand.Read(r[:])
	return hex.EncodeToString(r[:])
}

// DefaultNodeID is hostname-pid.
func DefaultNodeID() string {
	host, err := os.Hostname()
	if err != nil || host == "" {
		host = "sockgate"
	}
	return host + "-" + strconv.Itoa(os.Getpid())
}

// NATSBus is the Bus over a NATS server with JetStream. Publish stores an
// event in one stream; the stream's sequence is the one order every node
// applies. Each subscription reads its room's events with an ordered
// consumer, which survives reconnections and resumes after the last event
// it applied, and answers snapshot requests for its room with plain NATS
// request/reply. It also sends heartbeats and reports the nodes that stop
// sending theirs (NodeWatcher). Safe for concurrent use.
type NATSBus struct {
	opts     NATSOptions
	log      zerolog.Logger
	url      string
	started  time.Time
	instance string // see Instance
	nc       *nats.Conn
	js       jetstream.JetStream
	stop     context.CancelFunc // stops the heartbeats

	mu         sync.Mutex
	subs       map[*natsSub]struct{}
	seen       map[string]time.Time // other nodes' instances -> last heartbeat
	left       map[string]time.Time // nodes that said goodbye -> when
	gone       map[string]time.Time // nodes taken for crashed -> when (until heard again)
	onDeparted []func(instance string, crashed bool)
	crash      bool // tests: Close without a goodbye, as a crash would
	onGone     []func(ctx context.Context, instance string)
	closed     bool
	wg         sync.WaitGroup // the heartbeats, the reconnect handler's stream check; Close waits

	dropped atomic.Uint64  // invalid messages read from NATS
	warn    zerolog.Logger // sampled, for invalid messages
}

// Dropped is how many invalid messages this bus has read from NATS and
// dropped: events, snapshot answers and heartbeats of the wrong size or
// shape, out of sequence, or naming this node.
func (b *NATSBus) Dropped() uint64 { return b.dropped.Load() }

// drop counts and logs (sampled) one invalid message.
func (b *NATSBus) drop(what, why string) {
	b.dropped.Add(1)
	b.warn.Warn().Str("what", what).Str("why", why).Uint64("dropped", b.dropped.Load()).
		Msg("invalid message on the NATS bus; dropped")
}

// NATS connects to the NATS server at url (e.g. "nats://127.0.0.1:4222";
// several comma-separated for a NATS cluster) and makes sure the event
// stream exists. It fails at once, with the reason, when no server answers
// or the server has no JetStream. Once connected, the client reconnects
// for ever: events published while the server is away fail (Publish
// returns the error), and every subscription resumes where it stopped.
func NATS(ctx context.Context, url string, opts NATSOptions) (*NATSBus, error) {
	opts = opts.resolve()
	if len(opts.NodeID) > maxNodeID || strings.ContainsRune(opts.NodeID, '~') {
		return nil, fmt.Errorf("cluster: node id %q: at most %d bytes, without '~'", opts.NodeID, maxNodeID)
	}
	b := &NATSBus{opts: opts, url: url, started: time.Now(), subs: make(map[*natsSub]struct{}),
		instance: opts.NodeID + "~" + randomHex(), seen: make(map[string]time.Time), left: make(map[string]time.Time), gone: make(map[string]time.Time),
		log: opts.Logger.With().Str("component", "cluster").Str("node", opts.NodeID).Logger()}
	b.warn = b.log.Sample(&zerolog.BurstSampler{Burst: 5, Period: time.Minute})
	auth, err := opts.Auth.options()
	if err != nil {
		return nil, fmt.Errorf("cluster: %w", err)
	}
	nc, err := nats.Connect(url, append(auth,
		nats.Name("sockgate "+opts.NodeID),
		nats.Timeout(opts.ConnectTimeout),
		nats.MaxReconnects(-1),
		nats.ReconnectWait(opts.ReconnectWait),
		nats.DisconnectErrHandler(b.onDisconnect),
		nats.ReconnectHandler(b.onReconnect),
		nats.ErrorHandler(b.onAsyncError),
	)...)
	if err != nil {
		return nil, fmt.Errorf("cluster: connect to NATS at %s (is nats-server running?): %w", url, err)
	}
	b.nc = nc
	if b.js, err = jetstream.New(nc); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: JetStream client: %w", err)
	}
	if err := b.ensureStream(ctx); err != nil {
		nc.Close()
		return nil, err
	}
	if err := b.startHeartbeats(); err != nil {
		nc.Close()
		return nil, fmt.Errorf("cluster: heartbeats: %w", err)
	}
	b.log.Info().Str("url", nc.ConnectedUrlRedacted()).Str("stream", opts.Stream).Msg("connected to NATS")
	return b, nil
}

// ensureStream creates the event stream, or updates it to these options.
func (b *NATSBus) ensureStream(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, DefaultRequestTimeout)
	defer cancel()
	_, err := b.js.CreateOrUpdateStream(ctx, jetstream.StreamConfig{
		Name:        b.opts.Stream,
		Description: "sockgate room events, in the order every node applies them",
		Subjects:    []string{b.opts.SubjectPrefix + ".room.*"},
		Retention:   jetstream.LimitsPolicy,
		Discard:     jetstream.DiscardOld,
		Storage:     jetstream.FileStorage,
		MaxAge:      b.opts.MaxAge,
		MaxBytes:    b.opts.MaxBytes,
		Replicas:    b.opts.Replicas,
	})
	switch {
	case errors.Is(err, jetstream.ErrJetStreamNotEnabled), errors.Is(err, jetstream.ErrJetStreamNotEnabledForAccount),
		errors.Is(err, nats.ErrNoResponders): // nobody serves the JetStream API
		return fmt.Errorf("cluster: NATS at %s has no JetStream (start nats-server with -js): %w", b.url, err)
	case err != nil:
		return fmt.Errorf("cluster: create stream %s: %w", b.opts.Stream, err)
	}
	return nil
}

func (b *NATSBus) roomSubject(room string) string { return b.opts.SubjectPrefix + ".room." + room }

func (b *NATSBus) snapshotSubject(room string) string {
	return b.opts.SubjectPrefix + ".snapshot." + room
}

// Publish implements Bus: it returns once the stream has stored the event.
func (b *NATSBus) Publish(ctx context.Context, room string, data []byte) error {
	if err := checkRoom(room); err != nil {
		return fmt.Errorf("publish to %q: %w", room, err)
	}
	if len(data) > MaxEventBytes {
		return fmt.Errorf("publish to %q: %d bytes: %w", room, len(data), ErrTooBig)
	}
	if b.isClosed() {
		return fmt.Errorf("publish to %q: %w", room, ErrClosed)
	}
	if _, err := b.js.Publish(ctx, b.roomSubject(room), data); err != nil {
		return fmt.Errorf("publish to %q: %w", room, err)
	}
	return nil
}

// Close implements Bus: it unsubscribes everything and closes the
// connection.
func (b *NATSBus) Close() error {
	b.mu.Lock()
	if b.closed {
		b.mu.Unlock()
		return nil
	}
	b.closed = true
	subs := make([]*natsSub, 0, len(b.subs))
	for s := range b.subs {
		subs = append(subs, s)
	}
	b.mu.Unlock()
	for _, s := range subs {
		s.unsubscribe()
	}
	if !b.crash {
		b.sayGoodbye()
	}
	b.stop()
	b.nc.Close()
	b.wg.Wait()
	b.log.Info().Msg("disconnected from NATS")
	return nil
}

func (b *NATSBus) isClosed() bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.closed
}

func (b *NATSBus) onDisconnect(_ *nats.Conn, err error) {
	if b.isClosed() {
		return
	}
	b.log.Warn().Err(err).Msg("lost the NATS connection; reconnecting (room events fail until then)")
}

func (b *NATSBus) onReconnect(nc *nats.Conn) {
	b.log.Info().Str("url", nc.ConnectedUrlRedacted()).Msg("reconnected to NATS")
	// A server that lost its JetStream store has no stream any more.
	b.mu.Lock()
	defer b.mu.Unlock()
	if b.closed {
		return
	}
	b.wg.Go(func() {
		if err := b.ensureStream(context.Background()); err != nil && !b.isClosed() {
			b.log.Error().Err(err).Msg("after reconnecting")
		}
	})
}

func (b *NATSBus) onAsyncError(_ *nats.Conn, sub *nats.Subscription, err error) {
	ev := b.log.Warn().Err(err)
	if sub != nil {
		ev = ev.Str("subject", sub.Subject)
	}
	ev.Msg("NATS error")
}
