// Package clustertest starts a real NATS server, with JetStream, inside a
// test process, for the tests of the cluster bus, the chat service and the
// multi-node gateway tests. Only tests import it.
package clustertest

import (
	"net"
	"strconv"
	"testing"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long a started server may take to accept clients.
const readyTimeout = 10 * time.Second

// NATS is an embedded nats-server on 127.0.0.1. Restart keeps its port and
// its JetStream store, as a restarted broker with a persistent store would.
type NATS struct {
	t    testing.TB
	opts server.Options
	srv  *server.Server
}

// StartNATS starts a server (JetStream on unless noJetStream) on a free
// port and shuts it down when the test ends.
func StartNATS(t testing.TB, noJetStream bool) *NATS {
	t.Helper()
	return StartNATSWith(t, noJetStream, nil)
}

// StartNATSWith is StartNATS with configure, when not nil, changing the
// server's options first (users, nkeys, TLS).
func StartNATSWith(t testing.TB, noJetStream bool, configure func(*server.Options)) *NATS {
	t.Helper()
	n := &NATS{t: t, opts: server.Options{
		Host:      "127.0.0.1",
		Port:      -1,
		JetStream: !noJetStream,
		StoreDir:  t.TempDir(),
		NoLog:     true,
		NoSigs:    true,
	}}
	if configure != nil {
		configure(&n.opts)
	}
	n.start()
	n.opts.Port = n.srv.Addr().(*net.TCPAddr).Port
	t.Cleanup(n.Shutdown)
	return n
}

func (n *NATS) start() {
	n.t.Helper()
	opts := n.opts
	srv, err := server.NewServer(&opts)
	if err != nil {
		n.t.Fatalf("nats-server: %v", err)
	}
	srv.Start()
	if !srv.ReadyForConnections(readyTimeout) {
		srv.Shutdown()
		n.t.Fatalf("nats-server not ready for connections within %v", readyTimeout)
	}
	n.srv = srv
}

// URL is the server's client URL, "nats://127.0.0.1:PORT" (tls:// when
// the server has TLS on).
func (n *NATS) URL() string {
	scheme := "nats://"
	if n.opts.TLSConfig != nil {
		scheme = "tls://"
	}
	return scheme + "127.0.0.1:" + strconv.Itoa(n.opts.Port)
}

// Shutdown stops the server and waits for it; it is idempotent.
func (n *NATS) Shutdown() {
	if n.srv != nil {
		n.srv.Shutdown()
		n.srv.WaitForShutdown()
		n.srv = nil
	}
}

// Restart stops the server and starts it again on the same port with the
// same store.
func (n *NATS) Restart() {
	n.t.Helper()
	n.Shutdown()
	n.start()
}

// FreeURL is a nats:// URL on a port where nothing listens (a moment ago).
func FreeURL(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return "nats://" + ln.Addr().String()
}
