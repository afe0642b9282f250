// Package cluster is what ties several sockgate nodes together, for two
// uses: the chat service's bus, which carries its room events between
// nodes so that a room can span several of them (Bus, Local, NATS), and
// the cluster control, which carries the backend API's closes (close a
// session, disconnect a user) to every node (Control, Closer). It knows
// nothing of sessions or transports: it moves bytes for the chat service
// (session/services) and for the gateway.
//
// A Bus delivers every event published to a room to every subscription of
// that room, on every node, the publishing node included, and in one order
// per room: all subscriptions of a room apply the same events in the same
// sequence. A node that starts following a room it holds no state for is
// first given a snapshot of that state by another node (the one that has run
// longest), taken at a known position in the room's sequence, and then gets
// every event after that position. When no node answers within the snapshot
// timeout, the room starts empty.
//
// The state itself belongs to the caller: it implements Replica (apply an
// event, take a snapshot, restore one), and the Bus calls those methods one at
// a time for each subscription, so a snapshot is always taken between two
// events and the position it answers for is exact.
//
// Two buses are provided. Local is in-process: one node, or several in one
// process for tests, with no external service. NATS runs over a NATS server
// with JetStream enabled: the stream gives every room event a sequence
// number, which is what makes the order the same on every node; plain NATS
// subjects carry the snapshot requests and replies.
//
// Every event has a sequence (Replica.Apply's seq): on NATS the stream
// sequence, so an event has the same one on every node, and the chat uses
// it as the message id clients resume from.
//
// Whatever a NATS bus reads may have been written by anyone who can publish
// on its subjects. It checks sizes (MaxEventBytes, MaxSnapshotBytes),
// sequences (a snapshot answer must lie within the stream) and shapes, and
// drops and counts (NATSBus.Dropped) what fails; a Replica checks the
// content. Heartbeats must name the node of their subject, and a node
// ignores every heartbeat claiming its own node id, so that only a node can
// keep itself alive and nobody can make a node report itself gone.
// NATSAuth connects with credentials, an NKey or TLS, so that only
// sockgate nodes publish at all.
package cluster
