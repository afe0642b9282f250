package compat_test

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway/compat"
	"github.com/sockgate/sockgate/session"
)

// closeRecorder is an Events service that reports each OnClose.
func closeRecorder() (session.Handler, <-chan session.CloseInfo) {
	closed := make(chan session.CloseInfo, 1)
	h := session.EventsHandler(session.EventFuncs{
		Message: func(s session.Session, msg string) {
			if msg == "close" {
				_ = s.Close(session.CodeGoAway, session.ReasonGoAway)
			}
		},
		Close: func(_ session.Session, info session.CloseInfo) { closed <- info },
	})
	return h, closed
}

func wantClose(t *testing.T, closed <-chan session.CloseInfo, code int) {
	t.Helper()
	select {
	case info := <-closed:
		if info.Code != code {
			t.Fatalf("OnClose %d %q, want %d", info.Code, info.Reason, code)
		}
	case <-time.After(waitFor):
		t.Fatal("no OnClose")
	}
}

// TestCloseInfo: OnClose gets the code the session really ended with, not
// 1000 whatever happened (issue 13.6): the application's own code, 1002
// when the client went away, 3010 when nobody polled.
func TestCloseInfo(t *testing.T) {
	t.Parallel()
	t.Run("application close", func(t *testing.T) {
		t.Parallel()
		h, closed := closeRecorder()
		srv := newServer(t, compat.Options{Websocket: true}, h)
		c := dial(t, srv, "/echo/000/ci1/websocket", nil)
		readWS(t, c, "o")
		if err := c.WriteMessage(1, []byte(`["close"]`)); err != nil {
			t.Fatal(err)
		}
		wantClose(t, closed, session.CodeGoAway)
	})
	t.Run("websocket client gone", func(t *testing.T) {
		t.Parallel()
		h, closed := closeRecorder()
		srv := newServer(t, compat.Options{Websocket: true}, h)
		c := dial(t, srv, "/echo/000/ci2/websocket", nil)
		readWS(t, c, "o")
		_ = c.Close()
		wantClose(t, closed, session.CodeInterrupted)
	})
	t.Run("nobody polls", func(t *testing.T) {
		t.Parallel()
		h, closed := closeRecorder()
		srv := newServer(t, compat.Options{}, h)
		if body := poll(t, srv.URL+"/echo/000/ci3"); body != "o\n" {
			t.Fatalf("open: %q", body)
		}
		wantClose(t, closed, session.CodeTimeout)
	})
	t.Run("receiving request aborted", func(t *testing.T) {
		t.Parallel()
		h, closed := closeRecorder()
		srv := newServer(t, compat.Options{}, h)
		ctx, cancel := context.WithCancel(context.Background())
		req, _ := http.NewRequestWithContext(ctx, http.MethodPost, srv.URL+"/echo/000/ci4/xhr_streaming", nil)
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 2049+2) // the prelude and "o\n"
		if _, err := resp.Body.Read(buf); err != nil {
			t.Fatal(err)
		}
		cancel()
		resp.Body.Close()
		wantClose(t, closed, session.CodeInterrupted)
	})
}
