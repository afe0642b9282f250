package e2e

import (
	"bytes"
	"encoding/json"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// logBuffer collects JSON log lines from a gateway.
type logBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *logBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

// find returns the first line with message msg for session id (on the raw
// websocket, whose session id is the client's address, the first of that
// transport), if any.
func (b *logBuffer) find(msg, id, transport string) map[string]any {
	b.mu.Lock()
	defer b.mu.Unlock()
	for _, line := range strings.Split(b.buf.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(line), &m) != nil || m["message"] != msg {
			continue
		}
		if m["session"] == id || (transport == sockjsclient.TransportRawWebsocket && m["transport"] == transport) {
			return m
		}
	}
	return nil
}

// TestSessionLogLines: at info, every transport's session writes one line
// when it opens and one when it closes, with what an operator needs; with
// QuietSessions neither is written.
func TestSessionLogLines(t *testing.T) {
	t.Parallel()
	logs := &logBuffer{}
	quietLogs := &logBuffer{}
	url := startLoggedGateway(t, logs, false)
	quietURL := startLoggedGateway(t, quietLogs, true)
	for _, tr := range transports {
		t.Run(tr, func(t *testing.T) {
			t.Parallel()
			c, err := sockjsclient.Dial(ctxT(t), url+"/echo", sockjsclient.Options{Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			if err := c.Send("one"); err != nil {
				t.Fatal(err)
			}
			if m, err := c.Recv(ctxT(t)); err != nil || m != "one" {
				t.Fatalf("echo: %q, %v", m, err)
			}
			id := c.SessionID()
			opened := logs.find("session opened", id, tr)
			if opened == nil {
				t.Fatalf("no open line for session %s", id)
			}
			want := map[string]any{"level": "info", "service": "/echo", "transport": tr, "client": "127.0.0.1"}
			for k, v := range want {
				if opened[k] != v {
					t.Errorf("open line %s = %v, want %v (line %v)", k, opened[k], v, opened)
				}
			}
			c.Close()
			var closed map[string]any
			for deadline := time.Now().Add(waitTimeout); closed == nil && time.Now().Before(deadline); time.Sleep(pollInterval) {
				closed = logs.find("session closed", id, tr)
			}
			if closed == nil {
				t.Fatalf("no close line for session %s", id)
			}
			for k, v := range want {
				if closed[k] != v {
					t.Errorf("close line %s = %v, want %v (line %v)", k, closed[k], v, closed)
				}
			}
			if closed["messages_in"] != 1.0 || closed["messages_out"] != 1.0 {
				t.Errorf("close line counts in %v out %v, want 1 and 1", closed["messages_in"], closed["messages_out"])
			}
			if code, _ := closed["code"].(float64); code == 0 || closed["reason"] == "" {
				t.Errorf("close line without code or reason: %v", closed)
			}
			if d, err := time.ParseDuration(closed["duration"].(string)); err != nil || d <= 0 {
				t.Errorf("close line duration %v", closed["duration"])
			}

			q, err := sockjsclient.Dial(ctxT(t), quietURL+"/echo", sockjsclient.Options{Transport: tr})
			if err != nil {
				t.Fatal(err)
			}
			q.Close()
			if line := quietLogs.find("session opened", q.SessionID(), tr); line != nil {
				t.Errorf("QuietSessions still logs: %v", line)
			}
		})
	}
}

// startLoggedGateway runs an echo gateway logging JSON at info into logs.
func startLoggedGateway(t *testing.T, logs *logBuffer, quiet bool) string {
	t.Helper()
	srv, err := gateway.New(gateway.Config{
		Addr:            "127.0.0.1:0",
		Logger:          zerolog.New(logs).Level(zerolog.InfoLevel),
		ShutdownTimeout: 2 * time.Second,
		QuietSessions:   quiet,
		Services: []gateway.Service{
			{Prefix: "/echo", Handler: services.Echo, DisconnectDelay: expireDelay},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = srv.Close() })
	return srv.URL()
}
