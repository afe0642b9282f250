package e2e

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/golang-jwt/jwt/v5"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// apiKey is the backend API key of the API tests.
const apiKey = "e2e-api-key-0123456789"

// api calls the backend API at base with key ("" for none).
func api(t *testing.T, method, u, key, body string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequestWithContext(ctxT(t), method, u, strings.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	if key != "" {
		req.Header.Set("Authorization", "Bearer "+key)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("%s %s: %v", method, u, err)
	}
	defer resp.Body.Close()
	if ct := resp.Header.Get("Content-Type"); !strings.HasPrefix(ct, "application/json") {
		t.Fatalf("%s %s: Content-Type %q; want JSON", method, u, ct)
	}
	var out map[string]any
	if err := json.NewDecoder(resp.Body).Decode(&out); err != nil {
		t.Fatalf("%s %s: body is not a JSON object: %v", method, u, err)
	}
	return resp.StatusCode, out
}

func withAPI(c *gateway.Config) { c.APIKey = apiKey }

// TestAPIKey: every API call without the key, or with a wrong one, gets
// 401 and does nothing.
func TestAPIKey(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, withAPI)
	calls := []struct{ method, path, body string }{
		{"POST", "/api/rooms/lobby/messages", `{"text":"x"}`},
		{"GET", "/api/rooms/lobby", ""},
		{"POST", "/api/sessions/abc/close", `{}`},
		{"POST", "/api/users/u1/disconnect", `{}`},
		{"GET", "/api/nope", ""},
	}
	for _, c := range calls {
		for _, key := range []string{"", "wrong-key", apiKey + "x", strings.ToUpper(apiKey)} {
			if st, body := api(t, c.method, e.admin+c.path, key, c.body); st != http.StatusUnauthorized || body["error"] == nil {
				t.Errorf("%s %s with key %q: %d %v; want 401 with an error", c.method, c.path, key, st, body)
			}
		}
	}
	// Not on the main listener when there is an admin one.
	r := do(t, "GET", e.url+"/api/rooms/lobby", "", "")
	if r.status != http.StatusNotFound {
		t.Errorf("API on the main listener: %d", r.status)
	}
	// Off without a key.
	off := startIdentityGateway(t, nil)
	r = do(t, "GET", off.admin+"/api/rooms/lobby", "", "")
	if r.status != http.StatusNotFound {
		t.Errorf("API without -api-key-file: %d; want 404", r.status)
	}
}

// TestAPIRooms: a post through the API reaches the room's members as a
// message, and the room call lists members and history; bad input gets 400.
func TestAPIRooms(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, func(c *gateway.Config) {
		withAPI(c)
		c.AdminAddr = "" // the API on the main listener
	})
	c := dial(t, e.env, "/chat", sockjsclient.TransportXHRStreaming)
	send(t, c, joinCmd("ops", "ann"))
	if ev := recvEvent(t, c); ev.Type != "welcome" {
		t.Fatalf("join: %+v", ev)
	}
	st, body := api(t, "POST", e.admin+"/api/rooms/ops/messages", apiKey, `{"text":"deploy at 5","nick":"system"}`)
	if st != http.StatusAccepted {
		t.Fatalf("post: %d %v", st, body)
	}
	if ev := recvEvent(t, c); ev.Type != "message" || ev.Nick != "system" || ev.Text != "deploy at 5" || ev.TS == 0 {
		t.Fatalf("member got %+v; want the API's message", ev)
	}
	st, body = api(t, "GET", e.admin+"/api/rooms/ops", apiKey, "")
	if st != http.StatusOK {
		t.Fatalf("room: %d %v", st, body)
	}
	members, _ := body["members"].([]any)
	history, _ := body["history"].([]any)
	if len(members) != 1 || members[0] != "ann" || len(history) != 1 || history[0].(map[string]any)["text"] != "deploy at 5" {
		t.Fatalf("room state %v; want ann and the message", body)
	}
	if st, body := api(t, "GET", e.admin+"/api/rooms/empty-room", apiKey, ""); st != http.StatusOK || len(body["members"].([]any)) != 0 {
		t.Fatalf("an empty room: %d %v", st, body)
	}
	bad := []struct{ method, path, body string }{
		{"POST", "/api/rooms/ops/messages", `{"text":""}`},
		{"POST", "/api/rooms/ops/messages", `{"text":"x","nick":"` + strings.Repeat("n", 40) + `"}`},
		{"POST", "/api/rooms/ops/messages", `{"text":`},
		{"POST", "/api/rooms/ops/messages", `{"text":"x","extra":1}`},
		{"POST", "/api/rooms/ops/messages", `{"text":"x"} {"text":"y"}`},
		{"POST", "/api/rooms/ops/messages", `{"text":7}`},
		{"POST", "/api/rooms/no%20spaces/messages", `{"text":"x"}`},
		{"GET", "/api/rooms/" + strings.Repeat("r", 65), ""},
		{"POST", "/api/sessions/abc/close", `{"code":2000}`},
		{"POST", "/api/sessions/abc/close", `{"reason":"` + strings.Repeat("r", 124) + `"}`},
		{"POST", "/api/users/u/disconnect", `[1]`},
	}
	for _, b := range bad {
		if st, body := api(t, b.method, e.admin+b.path, apiKey, b.body); st != http.StatusBadRequest || body["error"] == "" {
			t.Errorf("%s %s %s: %d %v; want 400 with an error", b.method, b.path, b.body, st, body)
		}
	}
	// Nothing of the bad posts reached the room.
	if _, body := api(t, "GET", e.admin+"/api/rooms/ops", apiKey, ""); len(body["history"].([]any)) != 1 {
		t.Fatalf("history after bad posts: %v", body["history"])
	}
}

// TestAPICloses: closing a session by id and disconnecting a user reach
// the client as close frames; unknown ones get 404.
func TestAPICloses(t *testing.T) {
	t.Parallel()
	e := startIdentityGateway(t, func(c *gateway.Config) {
		withAPI(c)
		withTokens(false)(c)
	})
	for _, tr := range []string{sockjsclient.TransportWebsocket, sockjsclient.TransportXHRPolling, sockjsclient.TransportXHRStreaming} {
		t.Run("session/"+tr, func(t *testing.T) {
			t.Parallel()
			c := dial(t, e.env, "/echo?token="+mint(t, "closer-"+tr, time.Hour, nil), tr)
			st, body := api(t, "POST", e.admin+"/api/sessions/"+c.SessionID()+"/close", apiKey, `{"code":4001,"reason":"kicked"}`)
			if st != http.StatusOK || body["closed"] != 1.0 {
				t.Fatalf("close: %d %v", st, body)
			}
			wantEnd(t, c, 4001, "kicked")
		})
	}
	t.Run("user", func(t *testing.T) {
		t.Parallel()
		tok := mint(t, "kick-me", time.Hour, jwt.MapClaims{})
		a := dial(t, e.env, "/echo?token="+tok, sockjsclient.TransportWebsocket)
		b := dial(t, e.env, "/echo?token="+tok, sockjsclient.TransportEventSource)
		raw := dial(t, e.env, "/echo?token="+tok, sockjsclient.TransportRawWebsocket)
		other := dial(t, e.env, "/echo?token="+mint(t, "stays", time.Hour, nil), sockjsclient.TransportWebsocket)
		st, body := api(t, "POST", e.admin+"/api/users/kick-me/disconnect", apiKey, "")
		if st != http.StatusOK || body["closed"] != 3.0 {
			t.Fatalf("disconnect: %d %v", st, body)
		}
		wantEnd(t, a, 3000, "Go away!")
		wantEnd(t, b, 3000, "Go away!")
		wantEnd(t, raw, 3000, "Go away!")
		send(t, other, "still here")
		if m := recv(t, other); m != "still here" {
			t.Fatalf("another user's session: %s", abbrev(m))
		}
	})
	t.Run("unknown", func(t *testing.T) {
		t.Parallel()
		if st, body := api(t, "POST", e.admin+"/api/sessions/nosuchid/close", apiKey, ""); st != http.StatusNotFound || body["error"] == nil {
			t.Fatalf("unknown session: %d %v", st, body)
		}
		if st, body := api(t, "POST", e.admin+"/api/users/nobody/disconnect", apiKey, ""); st != http.StatusNotFound || body["error"] == nil {
			t.Fatalf("unknown user: %d %v", st, body)
		}
	})
}

// wantEnd waits for c to end with c[code,reason].
func wantEnd(t *testing.T, c *client, code int, reason string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), waitTimeout)
	defer cancel()
	for {
		m, err := c.Recv(ctx)
		if err == nil {
			continue
		}
		var ce *sockjsclient.CloseError
		if !errors.As(err, &ce) || ce.Code != code || ce.Reason != reason {
			t.Fatalf("%s: ended with %v (last %s); want c[%d,%q]", c.Transport(), err, abbrev(m), code, reason)
		}
		return
	}
}
