package gateway

import (
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
)

// slowOpen is a service whose OnOpen takes a while and then marks the
// session started.
type slowOpen struct{ started atomic.Int32 }

func (o *slowOpen) OnOpen(session.Session) {
	time.Sleep(100 * time.Millisecond)
	o.started.Add(1)
}
func (o *slowOpen) OnMessage(s session.Session, msg string)    { _ = s.Send(msg) }
func (o *slowOpen) OnClose(session.Session, session.CloseInfo) {}

// TestWebsocketAnsweredAfterOpen: a websocket's 101 goes out only once its
// session is registered and its service has opened it, so a raw websocket
// client (which has no open frame to wait for) that has its 101 is known
// to the API, the hub and the service. Before, the 101 went out first and
// an API call right after the dial could miss the session.
func TestWebsocketAnsweredAfterOpen(t *testing.T) {
	t.Parallel()
	ev := &slowOpen{}
	srv, err := New(Config{
		Logger:   zerolog.Nop(),
		Services: []Service{{Prefix: "/slow", Events: ev, HeartbeatDelay: time.Hour}},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	base := "ws" + strings.TrimPrefix(hs.URL, "http") + "/slow"
	for i, path := range []string{"/websocket", "/0/a/websocket"} {
		ws, _, err := websocket.DefaultDialer.Dial(base+path, nil)
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		if got := ev.started.Load(); got != int32(i+1) {
			t.Errorf("%s: the 101 arrived with %d sessions opened by the service; want %d", path, got, i+1)
		}
		_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
		if path == "/0/a/websocket" {
			if _, p, err := ws.ReadMessage(); err != nil || string(p) != "o" {
				t.Fatalf("%s: open frame %q, %v", path, p, err)
			}
		}
		if err := ws.WriteMessage(websocket.TextMessage, []byte(`["hi"]`)); err != nil {
			t.Fatal(err)
		}
		_, p, err := ws.ReadMessage()
		if want := map[bool]string{true: `["hi"]`, false: `a["hi"]`}[path == "/websocket"]; err != nil || string(p) != want {
			t.Fatalf("%s: echo %q, %v; want %q", path, p, err, want)
		}
		_ = ws.Close()
	}
}
