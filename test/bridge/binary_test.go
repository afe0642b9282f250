package bridge

import (
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/internal/testbin"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// startBinary runs the sockgate binary with args (through env, so that
// environ applies) and waits until it is ready.
func startBinary(t *testing.T, environ []string, args ...string) (*testbin.Proc, *gw) {
	t.Helper()
	addr := testbin.FreeAddr(t)
	argv := append([]string{"env"}, environ...)
	argv = append(argv, sockgateBin, "-addr", addr, "-log-level", "debug", "-allowed-origins", "*",
		"-trusted-proxies", "127.0.0.1/32")
	p := testbin.Start(t, "sockgate", syscall.SIGKILL, append(argv, args...)...)
	testbin.WaitHTTP(t, p, "http://"+addr+"/readyz", http.StatusOK)
	return p, &gw{url: "http://" + addr}
}

// The binary's -upstream mounts a bridge beside the built-in services; on
// SIGTERM every bridged client gets c[3001] after its queued messages,
// every backend connection a 1001 close, and the process exits 0. Each
// dial is logged at debug level and counted.
func TestBinaryDrain(t *testing.T) {
	t.Parallel()
	b := startNodeBackend(t)
	p, g := startBinary(t, nil, "-upstream", "/ws/chat="+b.url("/ws/chat"), "-drain-timeout", "5s")
	var conns []*sockjsclient.Conn
	for _, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRStreaming, sockjsclient.TransportXHRPolling} {
		c := dial(t, g, "/ws/chat?room=7", tr)
		send(t, c, "before drain")
		if got := recv(t, c); got != "before drain" {
			t.Fatalf("echo over %s: %q", tr, got)
		}
		if hs := b.handshake(t, c.SessionID()); strings.Join(hs.Query["room"], ",") != "7" {
			t.Errorf("backend query %v, want room=7", hs.Query)
		}
		conns = append(conns, c)
	}
	if n := g.metric(t, `sockgate_upstream_dials_total{result="ok",upstream="/ws/chat"}`); n != 3 {
		t.Errorf("ok dials counted: %v, want 3", n)
	}
	if n := g.metric(t, `sockgate_upstream_connections_open{upstream="/ws/chat"}`); n != 3 {
		t.Errorf("open backend connections: %v, want 3", n)
	}
	for _, dir := range []string{"to_backend", "from_backend"} {
		series := `sockgate_upstream_messages_total{direction="` + dir + `",upstream="/ws/chat"}`
		if n := g.metric(t, series); n != 3 {
			t.Errorf("%s: %v, want 3", series, n)
		}
		series = `sockgate_upstream_message_bytes_total{direction="` + dir + `",upstream="/ws/chat"}`
		if n := g.metric(t, series); n != 3*float64(len("before drain")) {
			t.Errorf("%s: %v, want %d", series, n, 3*len("before drain"))
		}
	}
	if n := g.metric(t, `sockgate_upstream_dial_seconds_count{upstream="/ws/chat"}`); n != 3 {
		t.Errorf("dial latencies observed: %v, want 3", n)
	}
	p.Signal(syscall.SIGTERM)
	for _, c := range conns {
		wantClose(t, recvClose(t, c), session.CodeShutdown, session.ReasonShutdown)
		got := b.closed(t, c.SessionID())
		if got.Code != 1001 || got.Reason != session.ReasonShutdown {
			t.Errorf("%s: backend close %+v, want 1001 %q", c.Transport(), got, session.ReasonShutdown)
		}
	}
	select {
	case <-p.Done():
		if err := p.Err(); err != nil {
			t.Fatalf("sockgate exited with %v after SIGTERM", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("sockgate still running 10s after SIGTERM")
	}
	if out := p.Out.String(); !strings.Contains(out, `"message":"backend dialled"`) || !strings.Contains(out, b.url("/ws/chat")) {
		t.Errorf("no debug line per dial with the backend URL in the output:\n%s", testbin.Tail(out, 4<<10))
	}
}

// SOCKGATE_UPSTREAM mounts several bridges (comma-separated) beside the
// built-in /echo; an unreachable one closes its sessions with 3011.
func TestBinaryUpstreamFromEnvironment(t *testing.T) {
	t.Parallel()
	b := startNodeBackend(t)
	down := "ws://" + testbin.FreeAddr(t) + "/ws"
	_, g := startBinary(t, []string{"SOCKGATE_UPSTREAM=/a=" + b.url("/a") + ",/down=" + down},
		"-upstream-connect-timeout", "2s")
	c := dial(t, g, "/a", sockjsclient.TransportXHRPolling)
	send(t, c, "via env")
	if got := recv(t, c); got != "via env" {
		t.Fatalf("echo through /a: %q", got)
	}
	if hs := b.handshake(t, c.SessionID()); hs.Path != "/a" {
		t.Errorf("backend path %q, want /a", hs.Path)
	}
	e := dial(t, g, "/echo", sockjsclient.TransportWebsocket)
	send(t, e, "built-in")
	if got := recv(t, e); got != "built-in" {
		t.Fatalf("the built-in /echo beside the bridges: %q", got)
	}
	d := dial(t, g, "/down", sockjsclient.TransportWebsocket)
	wantClose(t, recvClose(t, d), session.CodeBackendUnavailable, session.ReasonBackendUnavailable)
}

// Bad -upstream values stop the binary at start with a clear message.
func TestBinaryBadUpstream(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"-upstream", "/x"}, "want PREFIX=URL"},
		{[]string{"-upstream", "x=ws://127.0.0.1:1/"}, "must start with /"},
		{[]string{"-upstream", "/x=http://127.0.0.1:1/"}, "want ws://host/path or wss://host/path"},
		{[]string{"-upstream", "/echo=ws://127.0.0.1:1/"}, "taken by a built-in service"},
		{[]string{"-upstream", "/x=ws://127.0.0.1:1/", "-upstream-headers", "Host"}, "header cannot be passed"},
		{[]string{"-upstream", "/x=ws://127.0.0.1:1/", "-upstream-ca-file", "/nonexistent.pem"}, "-upstream-ca-file"},
		{[]string{"-upstream", "/x=ws://127.0.0.1:1/", "-engine", "sockjs-go"}, "-upstream needs -engine native"},
	} {
		p := testbin.Start(t, "sockgate", syscall.SIGKILL, append([]string{sockgateBin, "-addr", "127.0.0.1:0"}, tc.args...)...)
		select {
		case <-p.Done():
		case <-time.After(10 * time.Second):
			t.Fatalf("%v: still running", tc.args)
		}
		if p.Err() == nil {
			t.Errorf("%v: exited 0", tc.args)
		}
		if out := p.Out.String(); !strings.Contains(out, tc.want) {
			t.Errorf("%v: output %q does not say %q", tc.args, out, tc.want)
		}
	}
}
