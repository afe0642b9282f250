package cluster_test

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"slices"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// BenchmarkXHRPollingEcho measures xhr-polling echo round trips (a send and
// the poll that carries the echo) on sessions served by their own node
// (local), through another node that forwards both requests over NATS
// (forwarded), and by both nodes in turn, request after request, as a
// round-robin balancer spreads them (alternating: about half the requests
// forwarded), on loopback: one client after another round trip (its
// latency), and 16 clients at once (the throughput, when the CPU is the
// limit). It reports the median and 99th percentile round trip (the
// difference of the medians is the forwarding's added latency), the CPU
// time both nodes used per round trip (node-cpu, from /proc), the test
// process's (test-cpu: the clients and the NATS server) and how many
// requests the nodes forwarded per round trip.
//
//	go test -run '^$' -bench XHRPollingEcho -benchtime 3s ./test/cluster/
func BenchmarkXHRPollingEcho(b *testing.B) {
	nats := clustertest.StartNATS(b, false)
	owner := startNode(b, "node-a", nats.URL())
	front := startNode(b, "node-b", nats.URL())
	for _, clients := range []int{1, 16} {
		for _, bc := range []struct {
			name   string
			fronts []*node
		}{{"local", []*node{owner}}, {"forwarded", []*node{front}}, {"alternating", []*node{front, owner}}} {
			b.Run(fmt.Sprintf("%s-%d", bc.name, clients), func(b *testing.B) {
				benchEcho(b, owner, front, bc.fronts, clients)
			})
		}
	}
}

// benchEcho runs b.N echo round trips over clients sessions created on
// owner and served through fronts, in turn; front is the node that is not
// the owner.
func benchEcho(b *testing.B, owner, front *node, fronts []*node, clients int) {
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	conns := make([]*sockjsclient.Conn, clients)
	for i := range conns {
		rr := &rotating{first: owner.addr, base: &http.Transport{MaxIdleConnsPerHost: 4}}
		for _, n := range fronts {
			rr.hosts = append(rr.hosts, n.addr)
		}
		defer rr.base.CloseIdleConnections()
		client := &http.Client{Transport: rr}
		c, err := sockjsclient.Dial(ctx, owner.url+"/echo", sockjsclient.Options{
			Transport: sockjsclient.TransportXHRPolling, HTTPClient: client})
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		conns[i] = c
	}
	rtts := make([][]time.Duration, clients)
	var left atomic.Int64
	left.Store(int64(b.N))
	fwd0 := forwardedTotal(b, front) + forwardedTotal(b, owner)
	cpu0 := procCPU(b, owner.Cmd.Process.Pid) + procCPU(b, front.Cmd.Process.Pid)
	self0 := procCPU(b, os.Getpid())
	b.ResetTimer()
	var wg sync.WaitGroup
	errs := make(chan error, clients)
	for i, c := range conns {
		wg.Go(func() {
			for left.Add(-1) >= 0 {
				start := time.Now()
				if err := c.SendContext(ctx, "ping"); err != nil {
					errs <- err
					return
				}
				if m, err := c.Recv(ctx); err != nil || m != "ping" {
					errs <- fmt.Errorf("echo: %q, %v", m, err)
					return
				}
				rtts[i] = append(rtts[i], time.Since(start))
			}
		})
	}
	wg.Wait()
	b.StopTimer()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	cpu := procCPU(b, owner.Cmd.Process.Pid) + procCPU(b, front.Cmd.Process.Pid) - cpu0
	self := procCPU(b, os.Getpid()) - self0
	fwd := forwardedTotal(b, front) + forwardedTotal(b, owner) - fwd0
	all := slices.Concat(rtts...)
	slices.Sort(all)
	b.ReportMetric(float64(all[len(all)/2].Microseconds()), "p50-µs")
	b.ReportMetric(float64(all[len(all)*99/100].Microseconds()), "p99-µs")
	b.ReportMetric(float64(cpu.Microseconds())/float64(b.N), "node-cpu-µs/op")
	b.ReportMetric(float64(self.Microseconds())/float64(b.N), "test-cpu-µs/op")
	b.ReportMetric(fwd/float64(b.N), "forwards/op")
}

// rotating sends a client's first request (which creates the session) to
// first and the later ones to hosts in turn, on keep-alive connections.
type rotating struct {
	first string   // host:port
	hosts []string // host:port
	next  atomic.Uint64
	base  *http.Transport
}

func (r *rotating) RoundTrip(req *http.Request) (*http.Response, error) {
	host := r.first
	if n := r.next.Add(1) - 1; n > 0 {
		host = r.hosts[(n-1)%uint64(len(r.hosts))]
	}
	r2 := req.Clone(req.Context())
	r2.URL.Host, r2.Host = host, host
	return r.base.RoundTrip(r2)
}

// procCPU is the user and system CPU time process pid has used so far
// (/proc/<pid>/stat, in clock ticks of 10 ms: run long enough for
// hundreds of them).
func procCPU(b *testing.B, pid int) time.Duration {
	b.Helper()
	if pid == os.Getpid() {
		var ru syscall.Rusage
		if err := syscall.Getrusage(syscall.RUSAGE_SELF, &ru); err != nil {
			b.Fatal(err)
		}
		return time.Duration(ru.Utime.Nano() + ru.Stime.Nano())
	}
	stat, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		b.Fatalf("CPU time of process %d: %v", pid, err)
	}
	// utime and stime are the 14th and 15th fields, the 12th and 13th
	// after the command name, which is in parentheses.
	s := string(stat)
	f := strings.Fields(s[strings.LastIndexByte(s, ')')+2:])
	utime, err1 := strconv.ParseInt(f[11], 10, 64)
	stime, err2 := strconv.ParseInt(f[12], 10, 64)
	if err1 != nil || err2 != nil {
		b.Fatalf("CPU time of process %d in %q: %v %v", pid, s, err1, err2)
	}
	return time.Duration(utime+stime) * 10 * time.Millisecond
}

// forwardedTotal is how many requests n has forwarded to other nodes.
func forwardedTotal(b *testing.B, n *node) float64 {
	b.Helper()
	return metric(b, n, "sockgate_forwarded_requests_total")
}
