package cluster_test

import (
	"context"
	"slices"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// BenchmarkXHRPollingEcho measures one xhr-polling echo round trip (a send
// and the poll that carries the echo) on a session served by its own node
// (local) and through another node that forwards both requests over NATS
// (forwarded), on loopback. It reports the median and 99th percentile round
// trip; the difference of the medians is the forwarding's added latency.
//
//	go test -run '^$' -bench XHRPollingEcho -benchtime 3s ./test/cluster/
func BenchmarkXHRPollingEcho(b *testing.B) {
	nats := clustertest.StartNATS(b, false)
	owner := startNode(b, "node-a", nats.URL())
	front := startNode(b, "node-b", nats.URL())
	for _, bc := range []struct {
		name  string
		front *node
	}{{"local", owner}, {"forwarded", front}} {
		b.Run(bc.name, func(b *testing.B) {
			client, p := newPinned(owner, bc.front)
			defer p.base.CloseIdleConnections()
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			c, err := sockjsclient.Dial(ctx, owner.url+"/echo", sockjsclient.Options{
				Transport: sockjsclient.TransportXHRPolling, HTTPClient: client})
			if err != nil {
				b.Fatal(err)
			}
			defer c.Close()
			rtts := make([]time.Duration, 0, b.N)
			b.ResetTimer()
			for range b.N {
				start := time.Now()
				if err := c.SendContext(ctx, "ping"); err != nil {
					b.Fatal(err)
				}
				if m, err := c.Recv(ctx); err != nil || m != "ping" {
					b.Fatalf("echo: %q, %v", m, err)
				}
				rtts = append(rtts, time.Since(start))
			}
			b.StopTimer()
			slices.Sort(rtts)
			b.ReportMetric(float64(rtts[len(rtts)/2].Microseconds()), "p50-µs")
			b.ReportMetric(float64(rtts[len(rtts)*99/100].Microseconds()), "p99-µs")
		})
	}
}
