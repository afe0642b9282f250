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
	"fmt"
	"os"
	"testing"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// sockgateBin is the gateway binary the tests run, built by TestMain.
var sockgateBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sockgate-cluster-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if sockgateBin, err = testbin.Build(dir, false); err != nil {
		fmt.Fprintln(os.Stderr, "cluster:", err)
		return 1
	}
	return m.Run()
}
