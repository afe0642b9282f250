package engine

import (
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/session"
)

var (
	benchASCII   = strings.Repeat("hello world ", 6)[:64]
	benchUnicode = strings.Repeat("한국어 😀 \u2028 \"q\" ", 4)
)

// BenchmarkAppendQuoted is the frame encoder, against encoding/json as the
// baseline measured in the same run.
func BenchmarkAppendQuoted(b *testing.B) {
	for _, tc := range []struct{ name, msg string }{{"ascii64", benchASCII}, {"unicode", benchUnicode}} {
		b.Run(tc.name+"/sockgate", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.msg)))
			buf := make([]byte, 0, 256)
			for range b.N {
				buf = AppendQuoted(buf[:0], tc.msg)
			}
		})
		b.Run(tc.name+"/encoding-json", func(b *testing.B) {
			b.ReportAllocs()
			b.SetBytes(int64(len(tc.msg)))
			for range b.N {
				_, _ = json.Marshal(tc.msg)
			}
		})
	}
}

// BenchmarkDecodeMessages is the xhr_send / websocket payload decoder,
// against encoding/json.
func BenchmarkDecodeMessages(b *testing.B) {
	payload := []byte(`["` + benchASCII + `","` + benchASCII + `"]`)
	b.Run("sockgate", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			_, _ = DecodeMessages(payload)
		}
	})
	b.Run("encoding-json", func(b *testing.B) {
		b.ReportAllocs()
		for range b.N {
			var m []string
			_ = json.Unmarshal(payload, &m)
		}
	})
}

// BenchmarkSendPath is one message through a session: Send, then the
// receiver taking the frame, as a websocket writer does.
func BenchmarkSendPath(b *testing.B) {
	opts := Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour}.Resolve()
	s := NewSockJS("bench", "websocket", opts)
	defer s.Forget(session.CodeNormal, "bench over")
	r, _ := s.attach(nil)
	ctx := context.Background()
	_, _, _ = r.Next(ctx) // the open frame
	b.ReportAllocs()
	b.SetBytes(int64(len(benchASCII)))
	for range b.N {
		_ = s.Send(benchASCII)
		_, _, _ = r.Next(ctx)
	}
}

// BenchmarkBroadcast10k is one broadcast to a room of 10,000 sessions with
// receivers attached (encoded once, queued 10,000 times).
func BenchmarkBroadcast10k(b *testing.B) {
	opts := Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour, MaxQueueBytes: 1 << 30}.Resolve()
	room := session.NewRoom("bench")
	sessions := make([]*SockJS, 10000)
	for i := range sessions {
		s := NewSockJS(strconv.Itoa(i), "websocket", opts)
		sessions[i] = s
		room.Join(s)
	}
	defer func() {
		for _, s := range sessions {
			s.Forget(session.CodeNormal, "bench over")
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		room.Broadcast(benchASCII)
		if i%64 == 63 { // keep queues from growing without bound
			b.StopTimer()
			for _, s := range sessions {
				s.mu.Lock()
				s.out = s.out[:emptyBatch]
				s.mu.Unlock()
			}
			b.StartTimer()
		}
	}
}
