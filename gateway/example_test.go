package gateway_test

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
)

// poll plays sockjs-client's xhr-polling transport by hand: one request,
// the frame it answers.
func poll(base, path, body string) string {
	res, err := http.Post(base+path, "text/plain", strings.NewReader(body))
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

// An Events service, mounted with New and served with Open: the callbacks
// run in the goroutines that already serve the session, so a session costs
// no goroutine of its own.
func ExampleNew() {
	shout := session.EventFuncs{
		Message: func(s session.Session, msg string) {
			_ = s.Send(strings.ToUpper(msg)) // queues; never blocks on the client
		},
	}
	srv, err := gateway.New(gateway.Config{
		Addr:     "127.0.0.1:0",
		Services: []gateway.Service{{Prefix: "/shout", Events: shout}},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Open(); err != nil {
		panic(err)
	}
	defer srv.Close()

	// What sockjs-client does over xhr-polling, by hand.
	sess := srv.URL() + "/shout/000/example1"
	fmt.Println(poll(sess, "/xhr", ""))
	fmt.Println(poll(sess, "/xhr_send", `["hello"]`))
	fmt.Println(poll(sess, "/xhr", ""))
	// Output:
	// o
	// 204
	// a["HELLO"]
}

// The handler form: one goroutine per session that pulls messages with
// Recv, for services that wait on other things besides the client.
func ExampleService_handler() {
	echo := func(ctx context.Context, s session.Session) {
		for {
			msg, err := s.Recv(ctx) // session.ErrClosed once it ends
			if err != nil {
				return
			}
			_ = s.Send(msg)
		}
	}
	srv, err := gateway.New(gateway.Config{
		Addr:     "127.0.0.1:0",
		Services: []gateway.Service{{Prefix: "/echo", Handler: echo}},
	})
	if err != nil {
		panic(err)
	}
	if err := srv.Open(); err != nil {
		panic(err)
	}
	defer srv.Close()

	sess := srv.URL() + "/echo/000/example2"
	fmt.Println(poll(sess, "/xhr", ""))
	fmt.Println(poll(sess, "/xhr_send", `["ping"]`))
	fmt.Println(poll(sess, "/xhr", ""))
	// Output:
	// o
	// 204
	// a["ping"]
}

// Mounting the gateway in a program's own http.ServeMux: the gateway's
// handler serves its services' prefixes; the program keeps its other
// routes. Close still drains the sessions at shutdown.
func ExampleServer_Handler() {
	srv, err := gateway.New(gateway.Config{
		Services: []gateway.Service{{Prefix: "/sockjs/echo", Events: session.EventFuncs{
			Message: func(s session.Session, msg string) { _ = s.Send(msg) },
		}}},
	})
	if err != nil {
		panic(err)
	}
	defer srv.Close()

	mux := http.NewServeMux()
	mux.Handle("/sockjs/", srv.Handler())
	mux.HandleFunc("/hello", func(w http.ResponseWriter, _ *http.Request) { fmt.Fprint(w, "the app's own route") })
	web := httptest.NewServer(mux)
	defer web.Close()

	res, _ := http.Get(web.URL + "/hello")
	b, _ := io.ReadAll(res.Body)
	res.Body.Close()
	fmt.Println(string(b))
	sess := web.URL + "/sockjs/echo/000/example3"
	fmt.Println(poll(sess, "/xhr", ""))
	fmt.Println(poll(sess, "/xhr_send", `["mounted"]`))
	fmt.Println(poll(sess, "/xhr", ""))
	// Output:
	// the app's own route
	// o
	// 204
	// a["mounted"]
}
