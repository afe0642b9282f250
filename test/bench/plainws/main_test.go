package main

import (
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

const testTimeout = 5 * time.Second

func dial(t *testing.T, url string) *websocket.Conn {
	t.Helper()
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(url, "http"), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	_ = c.SetReadDeadline(time.Now().Add(testTimeout))
	return c
}

func expect(t *testing.T, c *websocket.Conn, want string) {
	t.Helper()
	_, p, err := c.ReadMessage()
	if err != nil || string(p) != want {
		t.Fatalf("read %q, %v; want %q", p, err, want)
	}
}

func send(t *testing.T, c *websocket.Conn, msg string) {
	t.Helper()
	if err := c.WriteMessage(websocket.TextMessage, []byte(msg)); err != nil {
		t.Fatal(err)
	}
}

func TestEcho(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newMux())
	t.Cleanup(srv.Close)

	raw := dial(t, srv.URL+"/echo/websocket")
	send(t, raw, "plain text")
	expect(t, raw, "plain text")

	sj := dial(t, srv.URL+"/echo/1/abc/websocket")
	expect(t, sj, "o")
	send(t, sj, `["hello"]`)
	expect(t, sj, `a["hello"]`)
	send(t, sj, `[]`)
	send(t, sj, `["a","b\"c\u2028"]`)
	expect(t, sj, `a["a","b\"c\u2028"]`)
	send(t, sj, `not json`)
	expect(t, sj, `c[3000,"Broken framing."]`)
}

func TestBroadcast(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newMux())
	t.Cleanup(srv.Close)
	var conns []*websocket.Conn
	for i := range 3 {
		c := dial(t, srv.URL+"/broadcast/1/s"+string(rune('a'+i))+"/websocket")
		expect(t, c, "o")
		conns = append(conns, c)
	}
	// A connection has joined once it has its "o".
	send(t, conns[2], `["x"]`)
	for _, c := range conns {
		expect(t, c, `a["x"]`)
	}
}

func TestMetrics(t *testing.T) {
	t.Parallel()
	srv := httptest.NewServer(newMux())
	t.Cleanup(srv.Close)
	resp, err := http.Get(srv.URL + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	for _, name := range []string{"go_goroutines ", "go_memstats_heap_inuse_bytes ", "go_memstats_stack_inuse_bytes "} {
		if !strings.Contains(string(b), name) {
			t.Errorf("/metrics lacks %s:\n%s", name, b)
		}
	}
}
