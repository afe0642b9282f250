package production

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// handlerWork is how long slowEcho works on each message.
const handlerWork = 100 * time.Millisecond

// slowEcho echoes each message after handlerWork.
func slowEcho(ctx context.Context, s session.Session) {
	for {
		m, err := s.Recv(ctx)
		if err != nil {
			return
		}
		time.Sleep(handlerWork) // the application's work, not synchronisation
		if s.Send(m) != nil {
			return
		}
	}
}

// A drain gives handlers the messages clients already sent and lets their
// answers out before the close frame: with a handler that takes a while
// per message, every message the gateway had received when Shutdown began
// is echoed, then c[3001,"Server shutting down"] follows.
func TestDrainWaitsForHandlers(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		transport string
		batch     bool // all three messages in one send
	}{
		{sockjsclient.TransportWebsocket, false},
		{sockjsclient.TransportXHRStreaming, true},
	} {
		t.Run(tc.transport, func(t *testing.T) {
			t.Parallel()
			svc := gateway.Service{Prefix: "/slow", Handler: slowEcho, DisconnectDelay: testDisconnect}
			srv := startGateway(t, gateway.Config{ShutdownTimeout: waitTimeout, Services: []gateway.Service{svc}})
			c := dial(t, srv.URL()+"/slow", sockjsclient.Options{Transport: tc.transport})
			msgs := []string{"m1", "m2", "m3"}
			if tc.batch {
				if err := c.Send(msgs...); err != nil {
					t.Fatal(err)
				}
			} else {
				for _, m := range msgs {
					if err := c.Send(m); err != nil {
						t.Fatal(err)
					}
				}
			}
			in := `sockgate_messages_in_total{transport="` + tc.transport + `"}`
			eventually(t, "the gateway to receive the three messages", func() bool {
				return metric(t, srv.URL()+"/metrics", in) == 3
			})
			shut := make(chan error, 1)
			go func() { shut <- srv.Shutdown(context.Background()) }()
			var got []string
			for {
				m, err := recv(c)
				if err != nil {
					var ce *sockjsclient.CloseError
					if !errors.As(err, &ce) || ce.Code != session.CodeShutdown {
						t.Errorf("ended with %v, want c[3001,...]", err)
					}
					break
				}
				got = append(got, m)
			}
			if len(got) != len(msgs) || got[len(got)-1] != "m3" {
				t.Errorf("echoes before the close frame %q, want %q", got, msgs)
			}
			select {
			case <-shut:
			case <-time.After(waitTimeout):
				t.Fatal("Shutdown did not return")
			}
		})
	}
}
