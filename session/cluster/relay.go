package cluster

import (
	"fmt"

	"github.com/nats-io/nats.go"

	"github.com/sockgate/sockgate/session"
)

// hOrigin names the node a relayed broadcast comes from.
const hOrigin = "Sg-Origin"

// Relay makes room's broadcasts reach its members on every node that
// relays a room of the same name: each Broadcast here is published on
// <prefix>.bcast.<name> (plain NATS: each sender's messages keep their
// order, with no order across senders), and what the other nodes publish
// there is delivered to the local members. The returned function stops
// relaying. While NATS is unreachable, broadcasts reach this node's
// members only.
func (b *NATSBus) Relay(room *session.Room) (stop func(), err error) {
	subject := b.opts.SubjectPrefix + ".bcast." + subjectToken(room.Name())
	sub, err := b.nc.Subscribe(subject, func(m *nats.Msg) {
		if m.Header.Get(hOrigin) != b.instance {
			room.BroadcastLocal(string(m.Data))
		}
	})
	if err != nil {
		return nil, fmt.Errorf("cluster: relay room %q: %w", room.Name(), err)
	}
	if err := b.nc.Flush(); err != nil {
		_ = sub.Unsubscribe()
		return nil, fmt.Errorf("cluster: relay room %q: %w", room.Name(), err)
	}
	room.SetRelay(func(msg string) {
		m := nats.NewMsg(subject)
		m.Header.Set(hOrigin, b.instance)
		m.Data = []byte(msg)
		if err := b.nc.PublishMsg(m); err != nil {
			b.log.Debug().Err(err).Str("room", room.Name()).Msg("broadcast not relayed")
		}
	})
	return func() {
		room.SetRelay(nil)
		_ = sub.Unsubscribe()
	}, nil
}
