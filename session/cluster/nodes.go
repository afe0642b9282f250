package cluster

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/nats-io/nats.go"
)

// Defaults of the liveness options of NATSOptions.
const (
	// DefaultHeartbeat is how often a node announces that it is alive.
	DefaultHeartbeat = 2 * time.Second
	// DefaultHeartbeatMisses is how many heartbeats in a row a node may
	// miss before the others take it for gone.
	DefaultHeartbeatMisses = 3
)

// NodeWatcher is implemented by a Bus that knows which nodes are alive, so
// that the members of a node that crashed can be removed by the others.
type NodeWatcher interface {
	// Instance names this run of this node, unique in the cluster (a node
	// restarted under the same NodeID has another). It is a prefix of
	// nothing else's Instance: the caller may end it with '~' to start
	// keys of its own.
	Instance() string
	// OnNodeGone registers f, to be called with the Instance of each other
	// node that falls silent: once per silence, one call at a time, on a
	// goroutine of the bus that f may block briefly (and may Publish on).
	OnNodeGone(f func(ctx context.Context, instance string))
}

var _ NodeWatcher = (*NATSBus)(nil)

// Instance implements NodeWatcher: NodeID~random.
func (b *NATSBus) Instance() string { return b.instance }

// OnNodeGone implements NodeWatcher.
func (b *NATSBus) OnNodeGone(f func(ctx context.Context, instance string)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onGone = append(b.onGone, f)
}

// maxNodeID bounds a node's name; maxNodesSeen the other nodes one node
// keeps track of (more heartbeats from unknown instances are dropped).
const (
	maxNodeID    = 128
	maxNodesSeen = 1024
)

// subjectToken is id with the characters a NATS subject token cannot hold
// replaced by '_'.
func subjectToken(id string) string {
	return strings.Map(func(r rune) rune {
		if strings.ContainsRune(".*> \t\r\n", r) {
			return '_'
		}
		return r
	}, id)
}

// nodeSubject is where this node sends its heartbeats; its body is the
// Instance.
func (b *NATSBus) nodeSubject() string {
	return b.opts.SubjectPrefix + ".nodes." + subjectToken(b.opts.NodeID)
}

// checkHeartbeat validates a heartbeat received on subject: its body must
// be an Instance, NodeID~<12 hex digits>, sent on that NodeID's subject,
// and not name this node's NodeID (whatever the random part): a node's
// liveness is told only by that node, and only another node's can be
// taken for gone. It returns the instance, or why it is refused.
func (b *NATSBus) checkHeartbeat(subject string, body []byte) (string, string) {
	instance := string(body)
	i := strings.LastIndexByte(instance, '~')
	switch {
	case len(instance) > maxNodeID+13 || i < 1:
		return "", "not an instance name"
	case !isHex(instance[i+1:], 12):
		return "", "instance without its random part"
	case subject != b.opts.SubjectPrefix+".nodes."+subjectToken(instance[:i]):
		return "", fmt.Sprintf("instance %q on another node's subject %q", instance, subject)
	case instance[:i] == b.opts.NodeID:
		return "", fmt.Sprintf("instance %q claims this node's id", instance)
	}
	return instance, ""
}

func isHex(s string, n int) bool {
	if len(s) != n {
		return false
	}
	for i := 0; i < len(s); i++ {
		if c := s[i]; !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f') {
			return false
		}
	}
	return true
}

// startHeartbeats listens to the other nodes' heartbeats and starts the
// goroutine that sends this node's and sweeps the silent ones; Close stops
// it through b.stop.
func (b *NATSBus) startHeartbeats() error {
	if _, err := b.nc.Subscribe(b.opts.SubjectPrefix+".nodes.>", b.onHeartbeat); err != nil {
		return err
	}
	if _, err := b.nc.Subscribe(b.byeSubject(), b.onBye); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(context.Background())
	b.stop = cancel
	b.wg.Go(func() {
		tick := time.NewTicker(b.opts.Heartbeat)
		defer tick.Stop()
		for {
			if err := b.nc.Publish(b.nodeSubject(), []byte(b.instance)); err != nil && ctx.Err() == nil {
				b.log.Debug().Err(err).Msg("heartbeat not sent")
			}
			b.sweep(ctx)
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
		}
	})
	return nil
}

// onHeartbeat notes that another node is alive.
func (b *NATSBus) onHeartbeat(m *nats.Msg) {
	if string(m.Data) == b.instance {
		return // this node's own
	}
	instance, why := b.checkHeartbeat(m.Subject, m.Data)
	if why != "" {
		b.drop("heartbeat", why)
		return
	}
	b.mu.Lock()
	if _, gone := b.left[instance]; gone { // a late heartbeat after its goodbye
		b.mu.Unlock()
		return
	}
	_, known := b.seen[instance]
	if !known && len(b.seen) >= maxNodesSeen {
		b.mu.Unlock()
		b.drop("heartbeat", "too many nodes")
		return
	}
	b.seen[instance] = time.Now()
	delete(b.gone, instance) // silent for a while, but back
	b.mu.Unlock()
	if !known {
		b.log.Info().Str("instance", instance).Msg("node seen")
	}
}

// sweep forgets the nodes silent for HeartbeatMisses periods and reports
// them gone. While this node is itself cut off from NATS, nobody's silence
// counts: their clocks restart, so they get the full grace on reconnection.
func (b *NATSBus) sweep(ctx context.Context) {
	now := time.Now()
	connected := b.nc.IsConnected()
	var gone []string
	b.mu.Lock()
	for instance, last := range b.seen {
		switch {
		case !connected:
			b.seen[instance] = now
		case now.Sub(last) > time.Duration(b.opts.HeartbeatMisses)*b.opts.Heartbeat:
			delete(b.seen, instance)
			b.gone[instance] = now
			gone = append(gone, instance)
		}
	}
	callbacks := b.onGone
	departed := b.onDeparted
	b.mu.Unlock()
	for _, instance := range gone {
		for _, f := range departed {
			f(instance, true)
		}
		b.log.Warn().Str("instance", instance).Int("missed", b.opts.HeartbeatMisses).
			Msg("node silent; taking it for gone")
		for _, f := range callbacks {
			f(ctx, instance)
		}
	}
}

// byeSubject carries the Instance of a node that stops on purpose.
func (b *NATSBus) byeSubject() string { return b.opts.SubjectPrefix + ".bye" }

// sayGoodbye tells the other nodes that this one stops on purpose, so that
// they forget it at once instead of taking its silence for a crash.
func (b *NATSBus) sayGoodbye() {
	err := b.nc.Publish(b.byeSubject(), []byte(b.instance))
	if err == nil {
		err = b.nc.FlushTimeout(time.Second)
	}
	if err != nil {
		b.log.Warn().Err(err).Msg("goodbye not sent: the other nodes will take this one for crashed")
	}
}

// onBye forgets a node that said goodbye: it stopped, it did not crash.
func (b *NATSBus) onBye(m *nats.Msg) {
	instance := string(m.Data)
	if instance == b.instance || instance == "" {
		return
	}
	b.mu.Lock()
	delete(b.seen, instance)
	b.left[instance] = time.Now()
	departed := b.onDeparted
	b.mu.Unlock()
	b.log.Info().Str("instance", instance).Msg("node left (stopped)")
	for _, f := range departed {
		f(instance, false)
	}
}

// Alive reports whether the node of instance is taken to be running: it
// neither said goodbye nor fell silent. A node not heard from yet counts as
// alive.
func (b *NATSBus) Alive(instance string) bool {
	b.mu.Lock()
	defer b.mu.Unlock()
	_, left := b.left[instance]
	_, gone := b.gone[instance]
	return !left && !gone
}

// watch starts watching a node this one depends on (it forwards requests
// to it) even if none of its heartbeats arrived yet: if it stays silent
// for HeartbeatMisses periods it is taken for gone, as a node heard from
// would be.
func (b *NATSBus) watch(instance string) {
	if instance == b.instance {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if _, ok := b.seen[instance]; ok {
		return
	}
	if _, ok := b.left[instance]; ok {
		return
	}
	if _, ok := b.gone[instance]; ok {
		return
	}
	b.seen[instance] = time.Now()
}

// onNodeDeparted registers f, called with the instance of each node that
// says goodbye or falls silent (crashed), on a goroutine of the bus; f
// must not block.
func (b *NATSBus) onNodeDeparted(f func(instance string, crashed bool)) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.onDeparted = append(b.onDeparted, f)
}
