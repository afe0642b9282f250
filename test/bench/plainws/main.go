// Command plainws is the "limit" baseline of make bench: a plain
// gorilla/websocket server doing the least work a SockJS websocket server
// must do, with none of sockgate's session machinery (no heartbeats, no
// session registry, no limits, no metrics beyond a goroutine count).
//
//	/echo/websocket                          raw websocket echo: one goroutine
//	                                         per connection reads and writes
//	/echo/<server>/<session>/websocket       SockJS-framed echo: "o", then each
//	                                         ["m",...] message answered with
//	                                         one a["m",...] frame
//	/broadcast/<server>/<session>/websocket  SockJS-framed broadcast: every
//	                                         message from any connection goes
//	                                         to all, encoded once (a gorilla
//	                                         PreparedMessage) and written by
//	                                         each connection's write pump
//	/metrics                                 go_goroutines and the heap and
//	                                         stack bytes in use, for
//	                                         sockgate-bench
//
// It upgrades exactly as sockgate's native engine does (1 KiB read buffer,
// pooled write buffers) so that the comparison measures the engines, not
// buffer sizes.
package main

import (
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log"
	"net"
	"net/http"
	"os"
	"os/signal"
	"runtime"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
)

const (
	// sendQueue is how many frames a broadcast connection may have queued
	// before it is dropped as too slow (gorilla's chat example).
	sendQueue = 256
	// writeWait bounds one write to a client.
	writeWait = 10 * time.Second
	// maxMessage bounds one incoming message, as sockgate's default.
	maxMessage = 1 << 20
)

func main() {
	addr := flag.String("addr", "127.0.0.1:8090", "listen address")
	flag.Parse()
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		log.Fatal(err)
	}
	srv := &http.Server{Handler: newMux(), ReadHeaderTimeout: 10 * time.Second}
	go func() {
		if err := srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			log.Fatal(err)
		}
	}()
	fmt.Fprintf(os.Stderr, "plainws listening on %s\n", ln.Addr())
	sig := make(chan os.Signal, 1)
	signal.Notify(sig, syscall.SIGINT, syscall.SIGTERM)
	<-sig
	_ = srv.Close()
}

var upgrader = &websocket.Upgrader{
	ReadBufferSize:  1024,
	WriteBufferSize: 4096,
	WriteBufferPool: &sync.Pool{},
	CheckOrigin:     func(*http.Request) bool { return true },
}

// newMux routes the endpoints listed in the package comment.
func newMux() *http.ServeMux {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /echo/websocket", serveRawEcho)
	mux.HandleFunc("GET /echo/{server}/{session}/websocket", serveSockJSEcho)
	h := newHub()
	mux.HandleFunc("GET /broadcast/{server}/{session}/websocket", h.serve)
	mux.HandleFunc("GET /metrics", serveMetrics)
	return mux
}

// serveMetrics writes the few samples sockgate-bench reads, under the
// names sockgate's Prometheus Go collector gives them.
func serveMetrics(w http.ResponseWriter, _ *http.Request) {
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	fmt.Fprintf(w, "go_goroutines %d\ngo_memstats_heap_inuse_bytes %d\ngo_memstats_stack_inuse_bytes %d\n",
		runtime.NumGoroutine(), m.HeapInuse, m.StackInuse)
}

func upgrade(w http.ResponseWriter, r *http.Request) *websocket.Conn {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return nil
	}
	c.SetReadLimit(maxMessage)
	return c
}

func serveRawEcho(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			return
		}
		if c.WriteMessage(typ, p) != nil {
			return
		}
	}
}

func serveSockJSEcho(w http.ResponseWriter, r *http.Request) {
	c := upgrade(w, r)
	if c == nil {
		return
	}
	defer c.Close()
	if c.WriteMessage(websocket.TextMessage, []byte("o")) != nil {
		return
	}
	for {
		frame, ok, err := readFrame(c)
		if err != nil {
			return
		}
		if ok && c.WriteMessage(websocket.TextMessage, frame) != nil {
			return
		}
	}
}

// readFrame reads one client message (a JSON array of strings) and returns
// the a[...] frame carrying its messages; ok is false for an empty array.
func readFrame(c *websocket.Conn) (frame []byte, ok bool, err error) {
	_, p, err := c.ReadMessage()
	if err != nil {
		return nil, false, err
	}
	if plainPayload(p) {
		return append([]byte{'a'}, p...), true, nil
	}
	var msgs []string
	if err := json.Unmarshal(p, &msgs); err != nil {
		_ = c.WriteMessage(websocket.TextMessage, []byte(`c[3000,"Broken framing."]`))
		return nil, false, err
	}
	if len(msgs) == 0 {
		return nil, false, nil
	}
	b, err := json.Marshal(msgs)
	if err != nil {
		return nil, false, err
	}
	return append([]byte{'a'}, b...), true, nil
}

// plainPayload reports whether p is ["<text>"] with text printable ASCII
// without '"' or '\': then the frame is "a" and p as it is, with no JSON
// decoding or encoding.
func plainPayload(p []byte) bool {
	if len(p) < 4 || p[0] != '[' || p[1] != '"' || p[len(p)-2] != '"' || p[len(p)-1] != ']' {
		return false
	}
	for _, c := range p[2 : len(p)-2] {
		if c < 0x20 || c > 0x7e || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// hub is the broadcast endpoint's set of connections.
type hub struct {
	mu      sync.Mutex
	clients map[*client]struct{}
}

// client is one broadcast connection: the handler goroutine reads, a write
// pump drains send.
type client struct {
	conn *websocket.Conn
	send chan *websocket.PreparedMessage
}

func newHub() *hub { return &hub{clients: make(map[*client]struct{})} }

func (h *hub) serve(w http.ResponseWriter, r *http.Request) {
	conn := upgrade(w, r)
	if conn == nil {
		return
	}
	c := &client{conn: conn, send: make(chan *websocket.PreparedMessage, sendQueue)}
	open, _ := websocket.NewPreparedMessage(websocket.TextMessage, []byte("o"))
	c.send <- open
	h.add(c) // before "o" is written: a client that saw "o" gets every broadcast
	done := make(chan struct{})
	go func() {
		defer close(done)
		c.writePump()
	}()
	for {
		frame, ok, err := readFrame(conn)
		if err != nil {
			break
		}
		if ok {
			h.broadcast(frame)
		}
	}
	h.remove(c)
	<-done
}

func (h *hub) add(c *client) {
	h.mu.Lock()
	h.clients[c] = struct{}{}
	h.mu.Unlock()
}

// remove drops c and ends its write pump; it is idempotent.
func (h *hub) remove(c *client) {
	h.mu.Lock()
	defer h.mu.Unlock()
	if _, ok := h.clients[c]; ok {
		delete(h.clients, c)
		close(c.send)
	}
}

// broadcast queues frame for every client; a client whose queue is full is
// dropped, never waited for.
func (h *hub) broadcast(frame []byte) {
	pm, err := websocket.NewPreparedMessage(websocket.TextMessage, frame)
	if err != nil {
		return
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for c := range h.clients {
		select {
		case c.send <- pm:
		default:
			delete(h.clients, c)
			close(c.send)
			_ = c.conn.Close()
		}
	}
}

// writePump writes queued frames until send is closed or a write fails.
func (c *client) writePump() {
	defer c.conn.Close()
	for pm := range c.send {
		_ = c.conn.SetWriteDeadline(time.Now().Add(writeWait))
		if c.conn.WritePreparedMessage(pm) != nil {
			return
		}
	}
	_ = c.conn.WriteControl(websocket.CloseMessage,
		websocket.FormatCloseMessage(websocket.CloseNormalClosure, ""), time.Now().Add(writeWait))
}
