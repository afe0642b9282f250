package e2e

import (
	"context"
	"net/http"
	"testing"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/cluster/clustertest"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// startNode runs a gateway with /chat and /echo joined to the NATS server
// at url as node id, its API on the main listener and its Control on the
// bus.
func startNode(t *testing.T, url, id string) *identityEnv {
	t.Helper()
	log := zerolog.New(zerolog.NewTestWriter(t)).Level(zerolog.WarnLevel).With().Str("node", id).Logger()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	bus, err := cluster.NATS(ctx, url, cluster.NATSOptions{NodeID: id, Logger: log, Heartbeat: 100 * time.Millisecond})
	if err != nil {
		t.Fatalf("cluster.NATS: %v", err)
	}
	t.Cleanup(func() { _ = bus.Close() })
	ctrl, err := bus.NewControl()
	if err != nil {
		t.Fatalf("NewControl: %v", err)
	}
	t.Cleanup(func() { _ = ctrl.Close() })
	chat := services.NewChat(services.ChatOptions{Bus: bus, NodeID: id, Logger: log})
	e := startIdentityGateway(t, func(c *gateway.Config) {
		c.AdminAddr = ""
		c.APIKey = apiKey
		c.Logger = log
		c.Chat = chatAPI{chat}
		c.Control = ctrl
		c.Services = []gateway.Service{
			{Prefix: "/echo", Events: services.EchoEvents},
			{Prefix: "/chat", Handler: chat.Handler},
		}
		withTokens(true)(c)
	})
	ctrl.Serve(e.srv)
	return e
}

// TestAPIAcrossNodes: two gateways on one NATS server; every API call made
// on node a acts on what node b holds.
func TestAPIAcrossNodes(t *testing.T) {
	t.Parallel()
	nats := clustertest.StartNATS(t, false)
	a, b := startNode(t, nats.URL(), "a"), startNode(t, nats.URL(), "b")

	member := dial(t, b.env, "/chat", sockjsclient.TransportWebsocket)
	send(t, member, joinCmd("span", "bea"))
	if ev := recvEvent(t, member); ev.Type != "welcome" {
		t.Fatalf("join on b: %+v", ev)
	}
	if st, body := api(t, "POST", a.url+"/api/rooms/span/messages", apiKey, `{"text":"from a's API"}`); st != http.StatusAccepted {
		t.Fatalf("post on a: %d %v", st, body)
	}
	if ev := recvEvent(t, member); ev.Type != "message" || ev.Text != "from a's API" || ev.Nick != services.DefaultAPINick {
		t.Fatalf("member on b got %+v", ev)
	}
	st, body := api(t, "GET", a.url+"/api/rooms/span", apiKey, "")
	if members, _ := body["members"].([]any); st != http.StatusOK || len(members) != 1 || members[0] != "bea" || len(body["history"].([]any)) != 1 {
		t.Fatalf("room on a: %d %v; want bea and one message", st, body)
	}

	onB := dial(t, b.env, "/echo", sockjsclient.TransportXHRPolling)
	if st, body := api(t, "POST", a.url+"/api/sessions/"+onB.SessionID()+"/close", apiKey, `{"code":3000,"reason":"moved"}`); st != http.StatusOK || body["closed"] != 1.0 {
		t.Fatalf("close b's session on a: %d %v", st, body)
	}
	wantEnd(t, onB, 3000, "moved")

	user := dial(t, b.env, "/echo?token="+mint(t, "roamer", time.Hour, nil), sockjsclient.TransportEventSource)
	also := dial(t, a.env, "/echo?token="+mint(t, "roamer", time.Hour, nil), sockjsclient.TransportWebsocket)
	if st, body := api(t, "POST", a.url+"/api/users/roamer/disconnect", apiKey, `{"code":4000,"reason":"banned"}`); st != http.StatusOK || body["closed"] != 2.0 {
		t.Fatalf("disconnect on a: %d %v; want 2 closed (one per node)", st, body)
	}
	wantEnd(t, user, 4000, "banned")
	wantEnd(t, also, 4000, "banned")
	if st, _ := api(t, "POST", a.url+"/api/sessions/gone-nowhere/close", apiKey, ""); st != http.StatusNotFound {
		t.Fatalf("unknown session across nodes: %d; want 404", st)
	}
}
