package services_test

import (
	"bytes"
	"encoding/json"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/services"
)

// syncBuffer is a bytes.Buffer safe for the chat's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) lines() []map[string]any {
	s.mu.Lock()
	defer s.mu.Unlock()
	var out []map[string]any
	for _, l := range strings.Split(s.b.String(), "\n") {
		var m map[string]any
		if json.Unmarshal([]byte(l), &m) == nil {
			out = append(out, m)
		}
	}
	return out
}

// TestChatLogsJoinAndLeave: an operator sees, at info, who joined and left
// which room.
func TestChatLogsJoinAndLeave(t *testing.T) {
	t.Parallel()
	var logs syncBuffer
	bus := cluster.Local()
	t.Cleanup(func() { _ = bus.Close() })
	c := services.NewChat(services.ChatOptions{Bus: bus, Logger: zerolog.New(&logs).Level(zerolog.InfoLevel)})
	ann := connectClient(t, c, "ann")
	ann.join("logged")
	ann.expect("welcome", "ann")
	ann.send(map[string]string{"type": "leave"})
	ann.expect("left", "ann")

	// The leave line follows the left event; wait for it a moment.
	for deadline := time.Now().Add(waitTimeout); time.Now().Before(deadline); time.Sleep(10 * time.Millisecond) {
		if strings.Contains(fmt.Sprint(logs.lines()), "chat leave") {
			break
		}
	}
	want := map[string]bool{"chat join": false, "chat leave": false}
	for _, l := range logs.lines() {
		msg, _ := l["message"].(string)
		if _, ok := want[msg]; !ok {
			continue
		}
		if l["level"] != "info" || l["room"] != "logged" || l["nick"] != "ann" || l["session"] != "ann" {
			t.Errorf("%s line: %v", msg, l)
		}
		want[msg] = true
	}
	for msg, seen := range want {
		if !seen {
			t.Errorf("no %q line in:\n%v", msg, logs.lines())
		}
	}
}
