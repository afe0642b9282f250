package testserver

import "github.com/sockgate/sockgate/session"

// Room is the broadcast service's room, so that a cluster can relay it to
// the other nodes (cluster.NATSBus.Relay).
func (b *Broadcast) Room() *session.Room { return b.room }
