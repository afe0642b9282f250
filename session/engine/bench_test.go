package engine

import (
	"bytes"
	"context"
	"encoding/json"
	"strconv"
	"strings"
	"sync/atomic"
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

// BenchmarkBroadcast10k is one broadcast to a room of 10,000 sessions
// whose push receivers take every frame as soon as it is flushed, as the
// gateway's connection writers do (less the system call). The broadcasts
// go as fast as the loop can call them, so the writers fall behind and
// coalesce: frames/op is the writes a server would make per broadcast
// (10,000 without coalescing), msgs/frame how many messages each carried.
func BenchmarkBroadcast10k(b *testing.B) {
	const members = 10000
	opts := Options{HeartbeatDelay: time.Hour, DisconnectDelay: time.Hour, MaxQueueBytes: 1 << 30}.Resolve()
	room := session.NewRoom("bench")
	var frames, msgs atomic.Int64
	ctx := context.Background()
	sessions := make([]*SockJS, members)
	for i := range sessions {
		var r *Receiver
		s, r := NewSockJSPush(strconv.Itoa(i), "websocket", opts, func() {
			for {
				f, _, ok, _ := r.TryNext(ctx)
				if !ok {
					return
				}
				if f[0] == 'a' {
					frames.Add(1)
					msgs.Add(int64(bytes.Count(f, []byte(`","`)) + 1))
				}
			}
		})
		s.Start()
		_, _, _, _ = r.TryNext(ctx) // the open frame
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
	for range b.N {
		room.Broadcast(benchASCII)
	}
	want := int64(b.N) * members
	for msgs.Load() < want { // every message delivered
		time.Sleep(100 * time.Microsecond)
	}
	b.StopTimer()
	b.ReportMetric(float64(frames.Load())/float64(b.N), "frames/op")
	b.ReportMetric(float64(msgs.Load())/float64(frames.Load()), "msgs/frame")
}
