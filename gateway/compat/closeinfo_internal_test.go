package compat

import (
	"context"
	"net/http/httptest"
	"testing"

	"github.com/sockgate/sockgate/session"
)

// TestAbortBeforeHandlerStarts: sockjs-go sends the open frame before it
// starts the session's handler, so a client can abort its receiving
// request before the handler registers the session; the abort still makes
// the close 1002, not 3010. A request that did not abort and whose session
// never opened leaves nothing behind.
func TestAbortBeforeHandlerStarts(t *testing.T) {
	rs := newReceivers()
	ctx, cancel := context.WithCancel(context.Background())
	r := httptest.NewRequest("POST", "/echo/0/s1/xhr_streaming", nil).WithContext(ctx)
	rs.begin("s1", r)
	cancel()
	rs.end("s1", r, true)
	rs.opened("s1") // the handler starts only now
	if info := rs.closeInfo("s1"); info.Code != session.CodeInterrupted {
		t.Fatalf("close info %+v, want %d", info, session.CodeInterrupted)
	}

	q := httptest.NewRequest("POST", "/echo/0/s2/xhr", nil)
	rs.begin("s2", q)
	rs.end("s2", q, false)
	rs.mu.Lock()
	left := len(rs.ids)
	rs.mu.Unlock()
	if left != 0 {
		t.Fatalf("%d ids remembered, want 0", left)
	}
}
