// Command natsd runs a NATS server with JetStream on a loopback address, for
// the test suites outside Go (test/browser) that need a cluster of sockgate
// nodes: the same nats-server module, and version, the Go suites embed.
//
//	go run ./test/internal/natsd -port 4222 -dir /tmp/js
//
// It prints "ready" once it accepts clients and stops on SIGTERM or SIGINT.
package main

import (
	"flag"
	"fmt"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/nats-io/nats-server/v2/server"
)

func main() {
	port := flag.Int("port", 4222, "port on 127.0.0.1")
	dir := flag.String("dir", "", "JetStream store directory (required)")
	flag.Parse()
	if *dir == "" {
		fmt.Fprintln(os.Stderr, "natsd: -dir is required (for example -dir /tmp/js)")
		os.Exit(2)
	}
	srv, err := server.NewServer(&server.Options{Host: "127.0.0.1", Port: *port, JetStream: true,
		StoreDir: *dir, NoSigs: true})
	if err != nil {
		fmt.Fprintln(os.Stderr, "natsd:", err)
		os.Exit(1)
	}
	srv.Start()
	if !srv.ReadyForConnections(10 * time.Second) {
		fmt.Fprintln(os.Stderr, "natsd: not ready for connections within 10s")
		os.Exit(1)
	}
	fmt.Println("ready")
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGTERM, syscall.SIGINT)
	<-sig
	srv.Shutdown()
	srv.WaitForShutdown()
}
