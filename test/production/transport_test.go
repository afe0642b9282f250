package production

import (
	"bufio"
	"bytes"
	"context"
	"crypto/md5"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/session/services/testserver"
)

// Bounds of the hardening tests.
const (
	// floodFor is how long the ping flood runs.
	floodFor = 3 * time.Second
	// memoryBound is how much the heap may grow under a flood. With one
	// pending pong at most it grows by kilobytes; when every pong waited
	// for the slow reader it grew by 6-8 MiB a second here.
	memoryBound = 8 << 20
	// silentWait bounds the wait for a silent peer to be dropped: the
	// keep-alive bound (two heartbeats plus the 10 s write timeout) and
	// TCP's back-off for hixie-76.
	silentWait = 30 * time.Second
)

// A client that floods pings while reading 512 bytes every 5 ms holds the
// server's heap to a bound: at most one pong waits for it, on the SockJS
// websocket and on the raw one. Not parallel: it measures the process
// heap.
func TestPingFloodMemoryBounded(t *testing.T) {
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	for _, tc := range []struct{ name, path string }{
		{"sockjs websocket", "/echo/000/pingflood/websocket"},
		{"raw websocket", "/echo/websocket"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			base := heapInUse()
			c := dialNeverReads(t, srv.URL()+tc.path)
			defer c.Close()
			pings := floodPings(t, c.NetConn(), floodFor)
			grown := int64(heapInUse()) - int64(base)
			t.Logf("%d pings in %v; heap grew by %d KiB", pings, floodFor, grown>>10)
			if grown > memoryBound {
				t.Errorf("heap grew by %d MiB under a ping flood, want under %d MiB", grown>>20, memoryBound>>20)
			}
			// The connection still works: the server answers a ping.
			_ = c.NetConn().SetDeadline(time.Now().Add(waitTimeout))
			if _, err := c.NetConn().Write(maskedFrame(0x9, []byte("last"))); err != nil {
				t.Fatalf("write a last ping: %v", err)
			}
		})
	}
}

// floodPings writes 125-byte pings to conn for d while reading 512 bytes
// every 5 ms, and returns how many pings went out. The connection is still
// open when it returns.
func floodPings(t *testing.T, conn net.Conn, d time.Duration) int {
	t.Helper()
	ping := maskedFrame(0x9, []byte(strings.Repeat("p", 125)))
	block := make([]byte, 0, 64<<10)
	for len(block)+len(ping) <= cap(block) {
		block = append(block, ping...)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		buf := make([]byte, 512)
		tick := time.NewTicker(5 * time.Millisecond)
		defer tick.Stop()
		for {
			select {
			case <-stop:
				return
			case <-tick.C:
				_ = conn.SetReadDeadline(time.Now().Add(time.Second))
				_, _ = conn.Read(buf)
			}
		}
	}()
	n := 0
	// A write cut by its deadline may have sent part of a block: the rest
	// goes first, so that the server always reads whole frames.
	pending := block
	write := func(deadline time.Time) error {
		_ = conn.SetWriteDeadline(deadline)
		m, err := conn.Write(pending)
		pending = pending[m:]
		if len(pending) == 0 {
			n += len(block) / len(ping)
			pending = block
		}
		return err
	}
	fail := func(err error) {
		close(stop)
		wg.Wait()
		t.Fatalf("after %d pings: %v", n, err)
	}
	for end := time.Now().Add(d); time.Now().Before(end); {
		if err := write(time.Now().Add(time.Second)); err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue // the server reads slower than we write: fine
			}
			fail(err)
		}
	}
	for len(pending) != len(block) { // finish a block cut short
		if err := write(time.Now().Add(waitTimeout)); err != nil {
			fail(err)
		}
	}
	close(stop)
	wg.Wait()
	return n
}

// maskedFrame is one final client frame.
func maskedFrame(op byte, p []byte) []byte {
	key := [4]byte{1, 2, 3, 4}
	out := []byte{0x80 | op}
	switch {
	case len(p) < 126:
		out = append(out, 0x80|byte(len(p)))
	default:
		out = append(out, 0x80|126, byte(len(p)>>8), byte(len(p)))
	}
	out = append(out, key[:]...)
	for i, c := range p {
		out = append(out, c^key[i&3])
	}
	return out
}

// A websocket client flooding 64 KiB messages into a broadcast room with
// one subscriber that never reads and one that does: the publisher is
// throttled instead of every queue filling. The healthy subscriber and the
// publisher get every message, only the non-reader is closed with 3008,
// and the heap stays bounded. Not parallel: it measures the process heap.
func TestBroadcastThrottlesPublisher(t *testing.T) {
	const messages = 128
	b := testserver.NewBroadcast()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{
		{Prefix: "/broadcast", Events: b.Events(), DisconnectDelay: testDisconnect}}})
	metrics := srv.URL() + "/metrics"
	base := heapInUse()

	stuck := dialNeverReads(t, srv.URL()+"/broadcast/000/stuck/websocket")
	defer stuck.Close()
	healthy := dialSmallBuffer(t, srv.URL()+"/broadcast/000/healthy/websocket", 64<<10)
	defer healthy.Close()
	flooder, _, err := dialWS(srv.URL()+"/broadcast/000/flooder/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer flooder.Close()
	for _, c := range []*websocket.Conn{healthy, flooder} {
		if got := readWS(t, c); got != "o" {
			t.Fatalf("open frame %q", got)
		}
	}
	eventually(t, "three members in the room", func() bool {
		return metric(t, metrics, `sockgate_sessions_open{transport="websocket"}`) == 3
	})

	counts := make(chan readCount, 2)
	// The healthy member reads steadily, at 6.4 MiB/s: slower than the
	// flooder could publish, as a real client on a real link.
	go func() { counts <- countMessages(healthy, messages, 10*time.Millisecond) }()
	go func() { counts <- countMessages(flooder, messages, 0) }()
	body := strings.Repeat("x", 64<<10)
	frame, _ := json.Marshal([]string{body})
	start := time.Now()
	for i := range messages {
		_ = flooder.SetWriteDeadline(time.Now().Add(waitTimeout))
		if err := flooder.WriteMessage(websocket.TextMessage, frame); err != nil {
			t.Fatalf("flood message %d: %v", i, err)
		}
	}
	for range 2 {
		if rc := <-counts; rc.n != messages || rc.err != nil {
			t.Errorf("a reading member got %d of %d messages (%v)", rc.n, messages, rc.err)
		}
	}
	grown := int64(heapInUse()) - int64(base)
	t.Logf("%d × 64 KiB broadcast in %v; heap grew by %d KiB", messages, time.Since(start), grown>>10)
	if grown > memoryBound {
		t.Errorf("heap grew by %d MiB, want under %d MiB", grown>>20, memoryBound>>20)
	}
	// Only the member that never reads was cut (its close frame waits
	// behind data it never reads, so it is seen in the metrics); the
	// other two are open and still get broadcasts.
	for sample, want := range map[string]float64{
		"sockgate_slow_client_closes_total":                                1,
		`sockgate_sessions_closed_total{code="3008",reason="Slow client"}`: 1,
		`sockgate_sessions_open{transport="websocket"}`:                    2,
	} {
		if got := metric(t, metrics, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
	writeWS(t, flooder, `["after"]`)
	for _, c := range []*websocket.Conn{healthy, flooder} {
		if got := readWS(t, c); got != `a["after"]` {
			t.Errorf("after the flood a reading member got %.40q, want a[\"after\"]", got)
		}
	}
}

// readCount is how many broadcast messages one member read.
type readCount struct {
	n   int
	err error
}

// countMessages reads SockJS frames from c until want messages (each a
// string of 'x') arrived, waiting pace after each message.
func countMessages(c *websocket.Conn, want int, pace time.Duration) readCount {
	n := 0
	for n < want {
		_ = c.SetReadDeadline(time.Now().Add(waitTimeout))
		_, p, err := c.ReadMessage()
		switch {
		case err != nil:
			return readCount{n, err}
		case len(p) > 0 && p[0] == 'c':
			return readCount{n, fmt.Errorf("closed: %s", p)}
		case len(p) == 0 || p[0] != 'a':
			continue // "h"
		}
		k := bytes.Count(p, []byte{'"'}) / 2
		n += k
		time.Sleep(time.Duration(k) * pace)
	}
	return readCount{n, nil}
}

// dialSmallBuffer opens a websocket whose client has a receive buffer of
// size bytes, so that what it has not read waits on the server.
func dialSmallBuffer(t *testing.T, url string, size int) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{NetDialContext: func(ctx context.Context, network, addr string) (net.Conn, error) {
		var nd net.Dialer
		c, err := nd.DialContext(ctx, network, addr)
		if tc, ok := c.(*net.TCPConn); ok {
			_ = tc.SetReadBuffer(size)
		}
		return c, err
	}}
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	c, _, err := d.DialContext(ctx, wsURL(url), nil)
	if err != nil {
		t.Fatalf("dial %s: %v", url, err)
	}
	return c
}

// The raw websocket runs on the session machinery of every transport: over
// -max-messages-per-second it is closed with 3009, and its traffic, its
// close and the refusal are counted.
func TestRawWebsocketRateLimitedAndMetered(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{{Prefix: "/echo",
		Handler: services.Echo, DisconnectDelay: testDisconnect, MaxMessagesPerSecond: 5}}})
	metrics := srv.URL() + "/metrics"
	c, _, err := dialWS(srv.URL()+"/echo/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	writeWS(t, c, "one")
	if got := readWS(t, c); got != "one" {
		t.Fatalf("echo %q", got)
	}
	for i := range 20 {
		_ = c.SetWriteDeadline(time.Now().Add(waitTimeout))
		if err := c.WriteMessage(websocket.TextMessage, []byte(fmt.Sprintf("m%02d", i))); err != nil {
			break // closed already
		}
	}
	if _, err := readUntilClose(c); wsCloseCode(err) != session.CodeRateLimited {
		t.Fatalf("raw websocket over the rate ended with %v, want close 3009", err)
	}
	eventually(t, "the raw session to be counted closed", func() bool {
		return metric(t, metrics, `sockgate_sessions_open{transport="raw-websocket"}`) == 0
	})
	in := metric(t, metrics, `sockgate_messages_in_total{transport="raw-websocket"}`)
	inBytes := metric(t, metrics, `sockgate_message_bytes_in_total{transport="raw-websocket"}`)
	if in < 2 || inBytes != 3*in {
		t.Errorf("raw websocket metered %v messages in, %v bytes, want at least 2 of 3 bytes each", in, inBytes)
	}
	if out := metric(t, metrics, `sockgate_messages_out_total{transport="raw-websocket"}`); out < 1 {
		t.Errorf("raw websocket metered %v messages out, want at least the echo", out)
	}
	for sample, want := range map[string]float64{
		`sockgate_sessions_closed_total{code="3009",reason="Rate limit exceeded"}`: 1,
		`sockgate_refusals_total{cause="rate_limit"}`:                              1,
		`sockgate_sessions_opened_total{transport="raw-websocket"}`:                1,
	} {
		if got := metric(t, metrics, sample); got != want {
			t.Errorf("%s = %v, want %v", sample, got, want)
		}
	}
}

// A websocket peer that answers no ping is dropped after the keep-alive
// bound, and its session is counted as timed out (3010), not as closed by
// the client (1006) or interrupted (1002): on the SockJS websocket and on
// the raw one.
func TestWebsocketSilentPeerTimesOut(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.HeartbeatDelay = 50 * time.Millisecond
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{svc}})
	metrics := srv.URL() + "/metrics"
	for _, path := range []string{"/echo/000/silent/websocket", "/echo/websocket"} {
		c, _, err := dialWS(srv.URL()+path, nil) // never read: pings go unanswered
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
	}
	timedOut := `sockgate_sessions_closed_total{code="3010",reason="Session timed out"}`
	waitMetric(t, metrics, timedOut, 2, silentWait)
	for _, sample := range []string{
		`sockgate_sessions_closed_total{code="1006",reason="Client closed"}`,
		`sockgate_sessions_closed_total{code="1002",reason="Connection interrupted"}`,
	} {
		if got := metric(t, metrics, sample); got != 0 {
			t.Errorf("%s = %v, want 0", sample, got)
		}
	}
}

// A hixie-76 peer that stops taking what the server writes is dropped like
// an RFC 6455 peer that answers no ping (hixie-76 has no ping): within the
// keep-alive bound, counted as timed out.
func TestHixie76SilentPeerDropped(t *testing.T) {
	t.Parallel()
	svc := echoService("/echo")
	svc.HeartbeatDelay = 50 * time.Millisecond
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{svc}})
	metrics := srv.URL() + "/metrics"
	conn := hixieOpen(t, srv.Addr().String(), "/echo/000/hixie/websocket")
	defer conn.Close()
	// An echo larger than the client's receive buffer closes its window;
	// the client then reads nothing more.
	msg, _ := json.Marshal([]string{strings.Repeat("z", 8<<10)})
	if _, err := conn.Write(append(append([]byte{0}, msg...), 0xff)); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	waitMetric(t, metrics, `sockgate_sessions_closed_total{code="3010",reason="Session timed out"}`, 1, silentWait)
	t.Logf("hixie-76 peer dropped after %v", time.Since(start).Round(time.Millisecond))
	if got := metric(t, metrics, `sockgate_sessions_open{transport="websocket"}`); got != 0 {
		t.Errorf("%v websocket sessions still open", got)
	}
}

// hixieOpen completes a hixie-76 handshake for path on a connection with a
// small receive buffer, and reads the open frame.
func hixieOpen(t *testing.T, addr, path string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: waitTimeout}
	conn, err := d.DialContext(context.Background(), "tcp", addr)
	if err != nil {
		t.Fatal(err)
	}
	_ = conn.(*net.TCPConn).SetReadBuffer(4 << 10)
	_ = conn.SetDeadline(time.Now().Add(waitTimeout))
	const key1, key2 = "4 @1  46546xW%0l 1 5", "12998 5 Y3 1  .P00"
	req := "GET " + path + " HTTP/1.1\r\nHost: " + addr + "\r\nConnection: Upgrade\r\nUpgrade: WebSocket\r\n" +
		"Origin: http://" + addr + "\r\nSec-WebSocket-Key1: " + key1 + "\r\nSec-WebSocket-Key2: " + key2 + "\r\n\r\n"
	if _, err := io.WriteString(conn, req+"aaaaaaaa"); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil || resp.StatusCode != http.StatusSwitchingProtocols {
		t.Fatalf("hixie-76 handshake: %v %v", resp, err)
	}
	var challenge [16]byte
	binary.BigEndian.PutUint32(challenge[0:], hixieKey(key1))
	binary.BigEndian.PutUint32(challenge[4:], hixieKey(key2))
	copy(challenge[8:], "aaaaaaaa")
	sum := md5.Sum(challenge[:])
	got := make([]byte, 16+3)
	if _, err := io.ReadFull(br, got); err != nil {
		t.Fatal(err)
	}
	if string(got[:16]) != string(sum[:]) || string(got[16:]) != "\x00o\xff" {
		t.Fatalf("hixie-76 digest and open frame %q", got)
	}
	_ = conn.SetDeadline(time.Time{})
	return conn
}

// hixieKey is the number of a Sec-WebSocket-Key1/2: its digits divided by
// its spaces.
func hixieKey(k string) uint32 {
	var digits, spaces uint64
	for _, r := range k {
		switch {
		case r >= '0' && r <= '9':
			digits = digits*10 + uint64(r-'0')
		case r == ' ':
			spaces++
		}
	}
	return uint32(digits / spaces)
}

// waitMetric waits up to d for sample to reach want.
func waitMetric(t *testing.T, metricsURL, sample string, want float64, d time.Duration) {
	t.Helper()
	deadline := time.Now().Add(d)
	for {
		got := metric(t, metricsURL, sample)
		if got >= want {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s = %v after %v, want %v", sample, got, d, want)
		}
		time.Sleep(100 * time.Millisecond)
	}
}
