package production

import (
	"context"
	"net/http"
	"testing"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// panicky echoes, except that "boom" makes it panic.
func panicky(ctx context.Context, s session.Session) {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return
		}
		if m == "boom" {
			panic("handler exploded on purpose")
		}
		if s.Send(m) != nil {
			return
		}
	}
}

// A handler that panics closes its own session with c[1011,"Internal
// error"] (websocket close 1011 on the raw endpoint); the gateway keeps
// serving every other session, new and old.
func TestHandlerPanic(t *testing.T) {
	t.Parallel()
	svc := gateway.Service{Prefix: "/panic", Handler: panicky, DisconnectDelay: testDisconnect}
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{svc}})
	u := srv.URL()
	bystander := dial(t, u+"/panic", sockjsclient.Options{Transport: sockjsclient.TransportXHRStreaming})
	echoRoundTrip(t, bystander, "before")

	transports := []string{
		sockjsclient.TransportWebsocket, sockjsclient.TransportXHRPolling,
		sockjsclient.TransportXHRStreaming, sockjsclient.TransportEventSource,
		sockjsclient.TransportRawWebsocket,
	}
	for _, tr := range transports {
		t.Run(tr+" → c[1011,Internal error]", func(t *testing.T) {
			c := dial(t, u+"/panic", sockjsclient.Options{Transport: tr})
			echoRoundTrip(t, c, "fine")
			if err := c.Send("boom"); err != nil {
				t.Fatalf("send boom: %v", err)
			}
			wantClose(t, c, session.CodeInternalError, session.ReasonInternalError)
		})
	}
	echoRoundTrip(t, bystander, "after")
	fresh := dial(t, u+"/panic", sockjsclient.Options{Transport: sockjsclient.TransportWebsocket})
	echoRoundTrip(t, fresh, "new session")
	do(t, http.MethodGet, u+"/healthz", nil, "").want(t, http.StatusOK, "ok\n")
	// Every one is counted, the raw websocket's once its connection ends.
	eventually(t, "sessions_closed_total{code=1011} to count every panic", func() bool {
		return metric(t, u+"/metrics", `sockgate_sessions_closed_total{code="1011",reason="Internal error"}`) == float64(len(transports))
	})
}
