// Package cluster carries chat room events between sockgate nodes so that a
// room can span several of them.
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
package cluster
