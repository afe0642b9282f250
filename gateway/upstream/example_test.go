package upstream_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/upstream"
)

// A bridge mounted by a Go program: SockJS in front, the team's plain
// WebSocket backend behind (here a gorilla/websocket server that shouts
// back what it reads, standing in for a Spring TextWebSocketHandler). Any
// transport reaches it; the example plays xhr-polling by hand.
func ExampleBridge() {
	backend := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		conn, err := (&websocket.Upgrader{}).Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		for {
			_, msg, err := conn.ReadMessage()
			if err != nil {
				return
			}
			_ = conn.WriteMessage(websocket.TextMessage, []byte(strings.ToUpper(string(msg))+" from "+r.Header.Get("X-Sockgate-Transport")))
		}
	}))
	defer backend.Close()

	bridge, err := upstream.New(upstream.Config{URL: "ws" + strings.TrimPrefix(backend.URL, "http") + "/ws/chat"})
	if err != nil {
		panic(err)
	}
	srv, err := gateway.New(gateway.Config{
		Addr:     "127.0.0.1:0",
		Services: []gateway.Service{bridge.Service(gateway.Service{DisconnectDelay: time.Second}, "/ws/chat")},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Open(); err != nil {
		panic(err)
	}
	defer func() {
		_ = srv.Close()
		ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
		defer cancel()
		_ = bridge.Wait(ctx) // every backend connection closed
	}()

	sess := srv.URL() + "/ws/chat/000/example"
	fmt.Println(post(sess+"/xhr", "")) // "o" once the backend accepted
	fmt.Println(post(sess+"/xhr_send", `["hello"]`))
	fmt.Println(post(sess+"/xhr", ""))
	// Output:
	// o
	// 204
	// a["HELLO from xhr-polling"]
}

func post(url, body string) string {
	res, err := http.Post(url, "text/plain", strings.NewReader(body))
	if err != nil {
		return err.Error()
	}
	defer res.Body.Close()
	b, _ := io.ReadAll(res.Body)
	if res.StatusCode == http.StatusNoContent {
		return "204"
	}
	return strings.TrimSpace(string(b))
}
