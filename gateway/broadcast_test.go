package gateway

import (
	"bufio"
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session/services/testserver"
)

// TestBroadcastCoalescedInOrder: broadcasts as fast as Room.Broadcast
// returns reach a websocket member and an xhr-streaming member once each
// and in order, however they were coalesced into frames; every stream ends
// once it has passed the response limit (by at most the frame that passed
// it), and the member reads the rest on the next stream.
func TestBroadcastCoalescedInOrder(t *testing.T) {
	t.Parallel()
	const limit, n = 512, 400
	b := testserver.NewBroadcast()
	srv, err := New(Config{
		Logger: zerolog.Nop(),
		Services: []Service{
			{Prefix: "/bcast", Events: b.Events(), HeartbeatDelay: time.Hour, ResponseLimit: limit},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })

	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(hs.URL, "http")+"/bcast/0/w/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer ws.Close()
	_ = ws.SetReadDeadline(time.Now().Add(20 * time.Second))
	if _, p, err := ws.ReadMessage(); err != nil || string(p) != "o" {
		t.Fatalf("websocket open frame %q, %v", p, err)
	}

	// The streaming member: streams one after another, each checked
	// against the limit, its messages sent on a channel.
	streamed := make(chan string, n)
	streamErr := make(chan error, 1)
	opened := make(chan struct{})
	go func() {
		streamErr <- readStreams(hs.URL+"/bcast/0/x/xhr_streaming", limit, opened, streamed)
	}()
	select {
	case <-opened:
	case err := <-streamErr:
		t.Fatal(err)
	case <-time.After(10 * time.Second):
		t.Fatal("the streaming member did not open")
	}
	for b.Room().Len() < 2 {
		time.Sleep(time.Millisecond)
	}
	for i := range n {
		b.Room().Broadcast(fmt.Sprintf("m%03d", i))
	}

	frames := 0
	for got := 0; got < n; frames++ {
		_, p, err := ws.ReadMessage()
		if err != nil {
			t.Fatalf("websocket member after %d messages: %v", got, err)
		}
		var msgs []string
		if len(p) < 2 || p[0] != 'a' || json.Unmarshal(p[1:], &msgs) != nil {
			t.Fatalf("websocket frame %q", p)
		}
		for _, m := range msgs {
			if want := fmt.Sprintf("m%03d", got); m != want {
				t.Fatalf("websocket member got %q; want %q (lost, duplicated or out of order)", m, want)
			}
			got++
		}
	}
	t.Logf("websocket member: %d messages in %d frames", n, frames)
	for i := range n {
		select {
		case m := <-streamed:
			if want := fmt.Sprintf("m%03d", i); m != want {
				t.Fatalf("streaming member got %q; want %q (lost, duplicated or out of order)", m, want)
			}
		case err := <-streamErr:
			t.Fatalf("streaming member after %d messages: %v", i, err)
		case <-time.After(10 * time.Second):
			t.Fatalf("streaming member: message %d did not arrive", i)
		}
	}
}

// readStreams opens xhr-streaming requests at url one after another until
// one fails, closes opened at the open frame and sends every message on
// out. It fails a stream that carries a frame after it has passed limit
// bytes, or that ends before it.
func readStreams(url string, limit int, opened chan<- struct{}, out chan<- string) error {
	for {
		size, err := readStream(url, limit, opened, out)
		if err != nil {
			return err
		}
		if size < limit {
			return fmt.Errorf("a stream ended after %d bytes, before its %d-byte limit", size, limit)
		}
		opened = nil // the open frame comes once
	}
}

// readStream reads one stream of readStreams and returns its size.
func readStream(url string, limit int, opened chan<- struct{}, out chan<- string) (int, error) {
	resp, err := http.Post(url, "text/plain", nil)
	if err != nil {
		return 0, err
	}
	defer resp.Body.Close()
	br := bufio.NewReader(resp.Body)
	if _, err := br.ReadString('\n'); err != nil {
		return 0, fmt.Errorf("prelude: %w", err)
	}
	size := 0
	for {
		line, err := br.ReadString('\n')
		if err != nil {
			return size, nil // the stream ended
		}
		if size >= limit {
			return size, fmt.Errorf("a frame after %d bytes of a %d-byte limit", size, limit)
		}
		size += len(line)
		switch {
		case line == "o\n" && opened != nil:
			close(opened)
			opened = nil
		case strings.HasPrefix(line, "a["):
			var msgs []string
			if err := json.Unmarshal([]byte(line[1:]), &msgs); err != nil {
				return size, fmt.Errorf("frame %q: %w", line, err)
			}
			for _, m := range msgs {
				out <- m
			}
		default:
			return size, fmt.Errorf("unexpected frame %q", line)
		}
	}
}
