package production

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/internal/testbin"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

const (
	// drainTimeout is the binary's -drain-timeout.
	drainTimeout = 5 * time.Second
	// sendEvery paces each client's numbered messages.
	sendEvery = 5 * time.Millisecond
	// echoesBeforeSignal is how many echoes each client must have got
	// before the signal, so that traffic is flowing on every transport.
	echoesBeforeSignal = 20
)

// buildSockgate builds cmd/sockgate into a temporary directory.
func buildSockgate(t *testing.T) string {
	t.Helper()
	bin, err := testbin.Build(t.TempDir(), raceEnabled)
	if err != nil {
		t.Fatal(err)
	}
	return bin
}

// tryGet is a GET that reports failure instead of failing the test.
func tryGet(url string) (int, string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	resp, err := httpClient.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	var b bytes.Buffer
	_, err = b.ReadFrom(resp.Body)
	return resp.StatusCode, b.String(), err
}

// drainClient is one client of the drain test, sending numbered messages.
type drainClient struct {
	name string
	conn *sockjsclient.Conn
	// lastBefore is the highest number whose Send returned before the
	// signal was sent: its echo, and every earlier one, must arrive.
	lastBefore atomic.Int64
	flowing    chan struct{} // closed after echoesBeforeSignal echoes
	received   []string
	end        error
	done       chan struct{} // closed when receiving has ended
}

// readBeforeSignal is how long the messages counted as sent before the
// signal have to reach the server before it gets SIGTERM.
const readBeforeSignal = 200 * time.Millisecond

func (d *drainClient) send(signalled *atomic.Bool, stop <-chan struct{}) {
	tick := time.NewTicker(sendEvery)
	defer tick.Stop()
	for n := int64(1); ; n++ {
		select {
		case <-stop:
			return
		case <-d.conn.Done():
			return
		case <-tick.C:
		}
		if err := d.conn.Send(d.name + "-" + strconv.FormatInt(n, 10)); err != nil {
			return
		}
		if !signalled.Load() {
			d.lastBefore.Store(n)
		}
	}
}

func (d *drainClient) receive() {
	defer close(d.done)
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout+drainTimeout)
	defer cancel()
	for {
		m, err := d.conn.Recv(ctx)
		if err != nil {
			d.end = err
			return
		}
		d.received = append(d.received, m)
		if len(d.received) == echoesBeforeSignal {
			close(d.flowing)
		}
	}
}

// check verifies that every message sent before the signal came back once,
// in order, and that the session ended with c[3001,"Server shutting down"].
func (d *drainClient) check(t *testing.T) {
	t.Helper()
	var ce *sockjsclient.CloseError
	if !errors.As(d.end, &ce) || ce.Code != session.CodeShutdown || ce.Reason != session.ReasonShutdown {
		t.Errorf("%s: session ended with %v, want c[3001,\"Server shutting down\"]", d.name, d.end)
	}
	last := d.lastBefore.Load()
	next := int64(1)
	for _, m := range d.received {
		want := d.name + "-" + strconv.FormatInt(next, 10)
		if m != want {
			t.Errorf("%s: got %q, want %q (messages %d..%d were sent before the signal)", d.name, m, want, 1, last)
			return
		}
		next++
	}
	if next-1 < last {
		t.Errorf("%s: got echoes 1..%d, want at least 1..%d (sent before the signal)", d.name, next-1, last)
	}
	t.Logf("%s: %d sent before the signal, %d echoed", d.name, last, next-1)
}

// SIGTERM drains the real binary: /readyz turns 503, new sessions are
// refused with 503, every client gets the echo of every message it sent
// before the signal and then c[3001,"Server shutting down"], a session that
// has not polled yet gets its close frame on its next poll, and the process
// exits 0 within the drain timeout.
func TestDrainOnSIGTERM(t *testing.T) {
	t.Parallel()
	bin := buildSockgate(t)
	addr := testbin.FreeAddr(t)
	base := "http://" + addr
	p := testbin.Start(t, "sockgate", syscall.SIGKILL, bin, "-addr", addr, "-drain-timeout", drainTimeout.String(),
		"-disconnect-delay", "30s", "-log-level", "info")
	testbin.WaitHTTP(t, p, base+"/healthz", http.StatusOK)
	do(t, http.MethodGet, base+"/readyz", nil, "").want(t, http.StatusOK, "ready\n")

	// A session that has had its "o" and will not poll again until the
	// checks are done: it keeps the drain going until then.
	do(t, http.MethodPost, base+"/echo/000/linger/xhr", nil, "").want(t, http.StatusOK, "o\n")

	var signalled atomic.Bool
	stop := make(chan struct{})
	var senders sync.WaitGroup
	var clients []*drainClient
	for _, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRStreaming, sockjsclient.TransportXHRPolling} {
		d := &drainClient{name: tr, conn: dial(t, base+"/echo", sockjsclient.Options{Transport: tr}),
			flowing: make(chan struct{}), done: make(chan struct{})}
		clients = append(clients, d)
		go d.receive()
		senders.Add(1)
		go func() {
			defer senders.Done()
			d.send(&signalled, stop)
		}()
	}
	defer func() {
		close(stop)
		senders.Wait()
	}()
	for _, d := range clients {
		select {
		case <-d.flowing:
		case <-d.done:
			t.Fatalf("%s ended before the signal: %v", d.name, d.end)
		case <-time.After(waitTimeout):
			t.Fatalf("%s: no echoes flowing", d.name)
		}
	}

	// Messages sent from here on are not counted as sent before the
	// signal; those before had readBeforeSignal to reach the server's
	// socket and be read (a websocket message written just before the
	// signal may still be in the kernel's buffers when the drain closes
	// the session, which no server can promise to read).
	signalled.Store(true)
	time.Sleep(readBeforeSignal)
	signalAt := time.Now()
	p.Signal(syscall.SIGTERM)
	eventually(t, "/readyz to answer 503 draining", func() bool {
		status, body, _ := tryGet(base + "/readyz")
		return status == http.StatusServiceUnavailable && body == "draining\n"
	})
	wantBusy(t, do(t, http.MethodPost, base+"/echo/000/fresh/xhr", nil, ""))
	if _, resp, err := dialWS(base+"/echo/000/fresh/websocket", nil); err == nil || resp == nil || resp.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("new websocket session while draining: %v %v, want 503", err, resp)
	}
	for _, d := range clients {
		select {
		case <-d.done:
		case <-time.After(waitTimeout):
			t.Fatalf("%s: no close frame after SIGTERM", d.name)
		}
		d.check(t)
	}
	do(t, http.MethodPost, base+"/echo/000/linger/xhr", nil, "").want(t, http.StatusOK, `c[3001,"Server shutting down"]`+"\n")

	select {
	case <-p.Done():
		took := time.Since(signalAt)
		if err := p.Err(); err != nil {
			t.Errorf("sockgate exited with %v, want 0", err)
		}
		if took > drainTimeout {
			t.Errorf("sockgate took %v to exit, more than the drain timeout %v", took, drainTimeout)
		}
		t.Logf("sockgate exited %v after SIGTERM", took.Round(time.Millisecond))
	case <-time.After(drainTimeout + waitTimeout):
		t.Fatalf("sockgate still running %v after SIGTERM", drainTimeout+waitTimeout)
	}
	if !strings.Contains(p.Out.String(), "draining") {
		t.Errorf("no drain in the log")
	}
}
