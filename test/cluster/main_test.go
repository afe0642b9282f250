// Package cluster_test runs sockgate as a cluster: a real NATS server with
// JetStream (nats-server/v2, embedded in the test process on 127.0.0.1) and
// two real sockgate binaries (built from cmd/sockgate, or SOCKGATE_BIN) that
// it joins with -nats-url. The Go SockJS client puts the members of one chat
// room on both nodes and on different transports, and checks that messages
// cross nodes in one order, that the member list and the history span
// nodes, that the nodes ride out a NATS restart, and that the members of a
// node stopped with SIGTERM leave the room for the other node. Every wait
// has a timeout; nothing is skipped.
package cluster_test

import (
	"os"
	"testing"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// sockgateBin is the gateway binary the tests run, built by TestMain.
var sockgateBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main("cluster", false, func(bin string) int {
		sockgateBin = bin
		return m.Run()
	}))
}
