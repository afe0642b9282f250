package main

import (
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/services"
)

// BenchmarkPollHandlers measures the handler work of one xhr-polling echo
// round trip (an xhr_send, then the poll that carries the echo) with no
// network: what the server does beyond net/http's request parsing and
// response writing, plainhttp's against sockgate's native engine, in the
// same run. -benchmem gives the allocations per round trip.
func BenchmarkPollHandlers(b *testing.B) {
	b.Run("plainhttp", func(b *testing.B) {
		benchPoll(b, newServer().mux())
	})
	b.Run("native", func(b *testing.B) {
		srv, err := gateway.New(gateway.Config{
			Engine:         gateway.EngineNative,
			Logger:         zerolog.Nop(),
			AllowedOrigins: []string{"*"},
			Services:       []gateway.Service{{Prefix: "/echo", Events: services.EchoEvents}},
		})
		if err != nil {
			b.Fatal(err)
		}
		benchPoll(b, srv.Handler())
	})
}

// benchPoll opens a session on h and runs b.N send-and-poll round trips.
func benchPoll(b *testing.B, h http.Handler) {
	const sess = "/echo/000/bench"
	do := func(path, body string) *httptest.ResponseRecorder {
		w := httptest.NewRecorder()
		r := httptest.NewRequest(http.MethodPost, sess+path, strings.NewReader(body))
		r.Header.Set("Content-Type", "text/plain;charset=UTF-8")
		h.ServeHTTP(w, r)
		return w
	}
	if w := do("/xhr", ""); w.Body.String() != "o\n" {
		b.Fatalf("open: %d %q", w.Code, w.Body.String())
	}
	msg := `["0:1:` + strings.Repeat("x", 58) + `"]`
	want := "a" + msg + "\n"
	b.ReportAllocs()
	b.ResetTimer()
	for range b.N {
		if w := do("/xhr_send", msg); w.Code != http.StatusNoContent {
			b.Fatalf("send: %d %q", w.Code, w.Body.String())
		}
		if w := do("/xhr", ""); w.Body.String() != want {
			b.Fatalf("poll: %d %q; want %q", w.Code, w.Body.String(), want)
		}
	}
}
