package cluster

import (
	"context"
	"errors"
	"strings"
)

// Bus carries room events to every node, this one included, in one order per
// room. Implementations are safe for concurrent use.
type Bus interface {
	// Subscribe starts following room with r. Before it returns, r is
	// restored from another node's snapshot if one answers within the
	// snapshot timeout (otherwise r starts empty); every event published
	// after Subscribe returns is then applied to r, in the room's order.
	// The returned function unsubscribes; after it returns, r is not
	// called again. It is safe to call more than once.
	Subscribe(ctx context.Context, room string, r Replica) (unsubscribe func(), err error)
	// Publish sends one event to every subscription of room, on every
	// node. It returns once the bus has accepted the event and given it
	// its place in the room's order; it is applied (here too) only on
	// delivery, never before.
	Publish(ctx context.Context, room string, data []byte) error
	// Close unsubscribes everything and releases the bus's resources. It
	// is idempotent.
	Close() error
}

// Replica is one node's copy of a room's state, fed by a Bus. For one
// subscription the Bus never calls these methods concurrently: Restore
// once, before the first Apply; Snapshot between two Applies, whenever a
// late node asks. They run on the bus's delivery goroutine and must not
// block or call the Bus.
//
// What a Replica is given may come from another node, or from anyone who
// can publish on the bus: it validates what it applies and restores.
type Replica interface {
	// Apply applies one event. seq is the event's place in the room's
	// order: it grows with every event of the room, and an event has the
	// same seq on every node (the stream sequence on NATS).
	Apply(seq uint64, data []byte)
	// Snapshot encodes the state after every event applied so far.
	Snapshot() ([]byte, error)
	// Restore starts the (empty) state at position seq: the next event
	// applied has a greater seq. snapshot is the state another node took
	// at seq, or nil when no node answered (the room starts empty). An
	// error refuses the snapshot: the bus then tries another node's, or
	// starts the replica empty.
	Restore(seq uint64, snapshot []byte) error
}

// Sentinel errors of the package.
var (
	// ErrClosed is returned by a Bus after Close.
	ErrClosed = errors.New("cluster: bus closed")
	// ErrBadRoom is returned for a room name that cannot be a NATS subject
	// token: empty, or with '.', '*', '>' or white space.
	ErrBadRoom = errors.New("cluster: bad room name")
	// ErrTooBig is returned by Publish for an event over MaxEventBytes.
	ErrTooBig = errors.New("cluster: event too big")
)

// MaxEventBytes bounds one room event on a bus: Publish refuses bigger
// ones, and a node drops (and counts) bigger ones it reads.
const MaxEventBytes = 64 << 10

// checkRoom returns ErrBadRoom unless room is a single NATS subject token.
func checkRoom(room string) error {
	if room == "" || strings.ContainsAny(room, ".*> \t\r\n") {
		return ErrBadRoom
	}
	return nil
}
