// Command natsd runs a NATS server with JetStream on a free loopback port,
// for the browser tests' two-node chat (Node cannot embed one, and Debian
// has no nats-server package). It prints the client URL on its first line
// of output and runs until SIGTERM, SIGINT, or its standard input closes;
// its store is a temporary directory it removes on the way out.
package main

import (
	"context"
	"fmt"
	"io"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

// readyTimeout bounds how long the server may take to accept clients.
const readyTimeout = 10 * time.Second

func main() {
	if err := run(); err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
}

func run() error {
	dir, err := os.MkdirTemp("", "natsd-")
	if err != nil {
		return fmt.Errorf("store directory: %w", err)
	}
	defer os.RemoveAll(dir)
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: -1, JetStream: true, StoreDir: dir, NoSigs: true})
	if err != nil {
		return fmt.Errorf("configure nats-server: %w", err)
	}
	srv.Start()
	defer func() {
		srv.Shutdown()
		srv.WaitForShutdown()
	}()
	if !srv.ReadyForConnections(readyTimeout) {
		return fmt.Errorf("nats-server not ready within %v", readyTimeout)
	}
	fmt.Printf("nats://127.0.0.1:%d\n", srv.Addr().(*net.TCPAddr).Port)
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		stop()
	}()
	<-ctx.Done()
	return nil
}
