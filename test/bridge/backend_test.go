package bridge

import (
	"bufio"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// backendWait bounds every wait for a backend's records.
const backendWait = 5 * time.Second

// handshake is what a backend recorded of a bridged dial.
type handshake struct {
	Path   string              `json:"path"`
	Query  map[string][]string `json:"query"`
	Header map[string][]string `json:"header"` // lower-case names
}

// closeRecord is how a backend connection ended, as the backend saw it:
// the close frame's code and reason, 1006 without one.
type closeRecord struct {
	Code   int    `json:"code"`
	Reason string `json:"reason"`
}

// logEntry is one session's record at GET /_log?session=ID.
type logEntry struct {
	Handshake *handshake   `json:"handshake"`
	Close     *closeRecord `json:"close"`
}

// backend is a running WebSocket backend with the behaviour of
// backend/server.mjs.
type backend struct {
	name string
	addr string // 127.0.0.1:port
	kill func() // ends it abruptly (SIGKILL for the Node one)
}

func (b *backend) url(path string) string { return "ws://" + b.addr + path }

// entry fetches the record of session sid (nil when there is none yet).
func (b *backend) entry(t *testing.T, sid string) *logEntry {
	t.Helper()
	resp, err := http.Get("http://" + b.addr + "/_log?session=" + sid)
	if err != nil {
		t.Fatalf("%s backend log: %v", b.name, err)
	}
	defer resp.Body.Close()
	var e *logEntry
	if err := json.NewDecoder(resp.Body).Decode(&e); err != nil {
		t.Fatalf("%s backend log: %v", b.name, err)
	}
	return e
}

// waitFor polls the record of sid until ok accepts it or backendWait
// passes.
func (b *backend) waitFor(t *testing.T, sid, what string, ok func(*logEntry) bool) *logEntry {
	t.Helper()
	deadline := time.Now().Add(backendWait)
	for {
		e := b.entry(t, sid)
		if e != nil && ok(e) {
			return e
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s backend: no %s for session %s within %v (record %+v)", b.name, what, sid, backendWait, e)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func (b *backend) handshake(t *testing.T, sid string) *handshake {
	t.Helper()
	return b.waitFor(t, sid, "handshake", func(e *logEntry) bool { return e.Handshake != nil }).Handshake
}

func (b *backend) closed(t *testing.T, sid string) *closeRecord {
	t.Helper()
	return b.waitFor(t, sid, "close", func(e *logEntry) bool { return e.Close != nil }).Close
}

// startNodeBackend runs backend/server.mjs until the test ends.
func startNodeBackend(t *testing.T) *backend {
	t.Helper()
	dir, err := filepath.Abs("backend")
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("node", filepath.Join(dir, "server.mjs"))
	cmd.Dir = dir
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatalf("starting the Node backend: %v", err)
	}
	done := make(chan struct{})
	var once sync.Once
	kill := func() {
		once.Do(func() {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			close(done)
		})
	}
	t.Cleanup(kill)
	lines := bufio.NewScanner(out)
	port := make(chan string, 1)
	go func() {
		for lines.Scan() {
			if p, ok := strings.CutPrefix(lines.Text(), "listening "); ok {
				port <- p
			}
		}
	}()
	select {
	case p := <-port:
		return &backend{name: "node", addr: "127.0.0.1:" + p, kill: kill}
	case <-time.After(10 * time.Second):
		t.Fatal("the Node backend did not print its port within 10s")
	}
	return nil
}

// gorillaBackend is backend/server.mjs written with gorilla/websocket.
type gorillaBackend struct {
	mu    sync.Mutex
	log   map[string]*logEntry
	conns map[*websocket.Conn]bool
	ctx   context.Context // ends when the backend stops
}

// startGorillaBackend runs a gorilla/websocket backend until the test ends.
func startGorillaBackend(t *testing.T) *backend {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	g := &gorillaBackend{log: map[string]*logEntry{}, conns: map[*websocket.Conn]bool{}, ctx: ctx}
	srv := &http.Server{Handler: g, ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }()
	var once sync.Once
	kill := func() {
		once.Do(func() {
			cancel()
			_ = srv.Close()
			g.mu.Lock()
			for c := range g.conns {
				_ = c.NetConn().Close()
			}
			g.mu.Unlock()
		})
	}
	t.Cleanup(kill)
	return &backend{name: "gorilla", addr: ln.Addr().String(), kill: kill}
}

func (g *gorillaBackend) entry(sid string) *logEntry {
	if g.log[sid] == nil {
		g.log[sid] = &logEntry{}
	}
	return g.log[sid]
}

func (g *gorillaBackend) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	switch r.URL.Path {
	case "/_log":
		g.mu.Lock()
		e := g.log[r.URL.Query().Get("session")]
		body, _ := json.Marshal(e)
		g.mu.Unlock()
		w.Header().Set("Content-Type", "application/json")
		_, _ = w.Write(body)
		return
	case "/forbidden":
		http.Error(w, "forbidden", http.StatusForbidden)
		return
	}
	up := websocket.Upgrader{CheckOrigin: func(*http.Request) bool { return true }}
	c, err := up.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	sid := r.Header.Get("X-Sockgate-Session")
	h := map[string][]string{}
	for k, v := range r.Header {
		h[strings.ToLower(k)] = v
	}
	g.mu.Lock()
	g.entry(sid).Handshake = &handshake{Path: r.URL.Path, Query: r.URL.Query(), Header: h}
	g.conns[c] = true
	g.mu.Unlock()
	if r.URL.Path == "/silent" {
		c.SetPingHandler(func(string) error { return nil })
	}
	go g.serve(c, sid)
}

// serve echoes and obeys commands; writes are serialized by wmu.
func (g *gorillaBackend) serve(c *websocket.Conn, sid string) {
	var wmu sync.Mutex
	write := func(typ int, p []byte) error {
		wmu.Lock()
		defer wmu.Unlock()
		return c.WriteMessage(typ, p)
	}
	rec := closeRecord{Code: websocket.CloseAbnormalClosure}
	defer func() {
		g.mu.Lock()
		g.entry(sid).Close = &rec
		delete(g.conns, c)
		g.mu.Unlock()
		_ = c.Close()
	}()
	for {
		typ, p, err := c.ReadMessage()
		if err != nil {
			var ce *websocket.CloseError
			if errors.As(err, &ce) {
				rec = closeRecord{Code: ce.Code, Reason: ce.Text}
			}
			return
		}
		msg := string(p)
		cmd, ok := strings.CutPrefix(msg, "cmd:")
		if typ != websocket.TextMessage || !ok {
			_ = write(typ, p)
			continue
		}
		name, arg, _ := strings.Cut(cmd, " ")
		switch name {
		case "close":
			codeText, reason, _ := strings.Cut(arg, " ")
			code, _ := strconv.Atoi(codeText)
			wmu.Lock()
			_ = c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(code, reason), time.Now().Add(time.Second))
			wmu.Unlock()
		case "binary":
			_ = write(websocket.BinaryMessage, []byte{1, 2, 3})
			_ = write(websocket.TextMessage, []byte("after-binary"))
		case "flood":
			go func() {
				chunk := []byte(strings.Repeat("f", 1024))
				for write(websocket.TextMessage, chunk) == nil {
				}
			}()
		case "noread":
			<-g.ctx.Done()
			return
		case "die":
			_ = c.NetConn().Close()
		default:
			_ = write(websocket.TextMessage, []byte(fmt.Sprintf("unknown command %s", name)))
		}
	}
}
