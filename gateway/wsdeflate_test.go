package gateway

import (
	"bufio"
	"bytes"
	"compress/flate"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"
	"unicode/utf8"

	"github.com/gorilla/websocket"
	dto "github.com/prometheus/client_model/go"
	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/services/testserver"
)

// TestNegotiateDeflate: the first permessage-deflate offer sockgate can
// take is answered, always without context takeover; an offer it must
// refuse is declined (the next one is tried), never an error.
func TestNegotiateDeflate(t *testing.T) {
	t.Parallel()
	const yes = deflateAnswer
	for _, tc := range []struct {
		name   string
		offers []string // one header line each
		want   string
	}{
		{"none", nil, ""},
		{"plain (Firefox, Safari)", []string{"permessage-deflate"}, yes},
		{"Chromium", []string{"permessage-deflate; client_max_window_bits"}, yes},
		{"case and spaces", []string{"  Permessage-Deflate ;Client_Max_Window_Bits = 10 "}, yes},
		{"both no takeover", []string{"permessage-deflate; server_no_context_takeover; client_no_context_takeover"}, yes},
		{"server window 15 echoed", []string{"permessage-deflate; server_max_window_bits=15"}, yes + "; server_max_window_bits=15"},
		{"quoted value", []string{`permessage-deflate; server_max_window_bits="15"`}, yes + "; server_max_window_bits=15"},
		{"server window 10 refused", []string{"permessage-deflate; server_max_window_bits=10"}, ""},
		{"refused, then a plain one", []string{"permessage-deflate; server_max_window_bits=10, permessage-deflate; client_max_window_bits"}, yes},
		{"offers on two header lines", []string{"permessage-deflate; server_max_window_bits=9", "permessage-deflate"}, yes},
		{"server window without value", []string{"permessage-deflate; server_max_window_bits"}, ""},
		{"client window 16", []string{"permessage-deflate; client_max_window_bits=16"}, ""},
		{"client window 7", []string{"permessage-deflate; client_max_window_bits=7"}, ""},
		{"leading zero", []string{"permessage-deflate; client_max_window_bits=010"}, ""},
		{"unknown parameter", []string{"permessage-deflate; mem_level=9"}, ""},
		{"duplicate", []string{"permessage-deflate; client_no_context_takeover; client_no_context_takeover"}, ""},
		{"duplicate in another case", []string{"permessage-deflate; client_max_window_bits; CLIENT_MAX_WINDOW_BITS=12"}, ""},
		{"value on a flag", []string{"permessage-deflate; server_no_context_takeover=1"}, ""},
		{"other extensions only", []string{"x-webkit-deflate-frame, deflate-frame"}, ""},
		{"after another extension with a quoted comma", []string{`foo; a="b,c", permessage-deflate`}, yes},
		{"malformed, then good", []string{"permessage-deflate;;, permessage-deflate"}, yes},
		{"bad quoted value", []string{`permessage-deflate; client_max_window_bits="1 0"`}, ""},
		{"unterminated quote", []string{`permessage-deflate; client_max_window_bits="10`}, ""},
		{"garbage", []string{"=;,\x00\"\\"}, ""},
	} {
		h := http.Header{}
		for _, o := range tc.offers {
			h.Add("Sec-WebSocket-Extensions", o)
		}
		if got := negotiateDeflate(h); got != tc.want {
			t.Errorf("%s: %q answered %q, want %q", tc.name, tc.offers, got, tc.want)
		}
	}
}

// deflateServer serves /echo (an echo) and /bcast (testserver.Broadcast)
// with permessage-deflate on (compress) or off, a 64 KiB message limit,
// and the default 256-byte threshold.
func deflateServer(t testing.TB, compress bool) (*Server, *httptest.Server, *testserver.Broadcast) {
	t.Helper()
	b := testserver.NewBroadcast()
	echo := session.EventFuncs{Message: func(s session.Session, m string) { _ = s.Send(m) }}
	srv, err := New(Config{
		Logger: zerolog.Nop(), MaxSessions: Unlimited, MaxSessionsPerIP: Unlimited,
		Services: []Service{
			{Prefix: "/echo", Events: echo, MaxMessageBytes: 64 << 10, WebsocketCompression: compress, HeartbeatDelay: time.Hour},
			{Prefix: "/bcast", Events: b.Events(), WebsocketCompression: compress, HeartbeatDelay: time.Hour},
		},
	})
	if err != nil {
		t.Fatal(err)
	}
	hs := httptest.NewServer(srv.Handler())
	t.Cleanup(func() { hs.Close(); _ = srv.Close() })
	return srv, hs, b
}

// rawClient is a websocket client on a bare TCP connection, to see the
// frames on the wire (RSV1 among them) and send any.
type rawClient struct {
	t    *testing.T
	conn net.Conn
	br   *bufio.Reader
}

// dialRaw opens a websocket at path offering extensions (none when empty)
// and returns the client and the answer's Sec-WebSocket-Extensions.
func dialRaw(t *testing.T, hs *httptest.Server, path, extensions string) (*rawClient, string) {
	t.Helper()
	conn, err := net.Dial("tcp", strings.TrimPrefix(hs.URL, "http://"))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = conn.Close() })
	_ = conn.SetDeadline(time.Now().Add(10 * time.Second))
	req := "GET " + path + " HTTP/1.1\r\nHost: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\n"
	if extensions != "" {
		req += "Sec-WebSocket-Extensions: " + extensions + "\r\n"
	}
	if _, err := conn.Write([]byte(req + "\r\n")); err != nil {
		t.Fatal(err)
	}
	br := bufio.NewReader(conn)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		t.Fatal(err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols || resp.Header.Get("Sec-Websocket-Accept") != "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=" {
		t.Fatalf("handshake answered %s, accept %q", resp.Status, resp.Header.Get("Sec-Websocket-Accept"))
	}
	return &rawClient{t: t, conn: conn, br: br}, resp.Header.Get("Sec-Websocket-Extensions")
}

// read returns the next frame: RSV1, opcode and payload (inflated by
// compress/flate on its own when RSV1 is set).
func (c *rawClient) read() (compressed bool, op byte, p []byte) {
	c.t.Helper()
	var h [2]byte
	if _, err := io.ReadFull(c.br, h[:]); err != nil {
		c.t.Fatalf("read a frame: %v", err)
	}
	n := uint64(h[1] & 0x7f)
	switch n {
	case 126:
		var x [2]byte
		_, _ = io.ReadFull(c.br, x[:])
		n = uint64(binary.BigEndian.Uint16(x[:]))
	case 127:
		var x [8]byte
		_, _ = io.ReadFull(c.br, x[:])
		n = binary.BigEndian.Uint64(x[:])
	}
	p = make([]byte, n)
	if _, err := io.ReadFull(c.br, p); err != nil {
		c.t.Fatalf("read a payload: %v", err)
	}
	if h[0]&0x30 != 0 || h[0]&0x80 == 0 {
		c.t.Fatalf("frame %x: RSV2/3 set or not final", h[0])
	}
	compressed, op = h[0]&rsv1 != 0, h[0]&0x0f
	if compressed {
		r := flate.NewReader(io.MultiReader(bytes.NewReader(p), bytes.NewReader(deflateTail)))
		var err error
		if p, err = io.ReadAll(r); err != nil {
			c.t.Fatalf("inflate a server frame: %v", err)
		}
	}
	return compressed, op, p
}

// readText reads the next text message, and whether it came compressed.
func (c *rawClient) readText() (string, bool) {
	c.t.Helper()
	comp, op, p := c.read()
	if op != opText {
		c.t.Fatalf("frame opcode %d (%q), want text", op, p)
	}
	return string(p), comp
}

// readClose reads until the close frame and returns its code.
func (c *rawClient) readClose() int {
	c.t.Helper()
	for {
		_, op, p := c.read()
		if op == opClose {
			if len(p) < 2 {
				return closeNoStatus
			}
			return int(binary.BigEndian.Uint16(p))
		}
	}
}

// send writes one masked frame; compressed sets RSV1.
func (c *rawClient) send(fin bool, op byte, p []byte, compressed bool) {
	c.t.Helper()
	f := clientFrame(fin, op, p)
	if compressed {
		f[0] |= rsv1
	}
	if _, err := c.conn.Write(f); err != nil {
		c.t.Fatal(err)
	}
}

// deflated is p compressed as a client compresses a message (RFC 7692
// 7.2.1), by compress/flate at its best compression.
func deflated(p []byte) []byte {
	var b bytes.Buffer
	w, _ := flate.NewWriter(&b, flate.BestCompression)
	_, _ = w.Write(p)
	_ = w.Flush()
	return bytes.TrimSuffix(b.Bytes(), deflateTail[:4])
}

// TestDeflateHandshake: compression is negotiated only when it is on and
// the client offers it in a form sockgate takes; the answer always says
// no context takeover both ways, and the metric counts the compressed
// connections only.
func TestDeflateHandshake(t *testing.T) {
	t.Parallel()
	for _, tc := range []struct {
		name     string
		on       bool
		path     string
		offer    string
		want     string
		compress bool
	}{
		{"on, offered", true, "/echo/0/a/websocket", "permessage-deflate; client_max_window_bits", deflateAnswer, true},
		{"on, raw websocket", true, "/echo/websocket", "permessage-deflate", deflateAnswer, true},
		{"on, not offered", true, "/echo/0/b/websocket", "", "", false},
		{"on, refused parameter", true, "/echo/0/c/websocket", "permessage-deflate; server_max_window_bits=8", "", false},
		{"off, offered", false, "/echo/0/d/websocket", "permessage-deflate", "", false},
	} {
		srv, hs, _ := deflateServer(t, tc.on)
		c, ext := dialRaw(t, hs, tc.path, tc.offer)
		if ext != tc.want {
			t.Errorf("%s: answered %q, want %q", tc.name, ext, tc.want)
		}
		big := strings.Repeat("sockgate ", 100)
		msg, _ := json.Marshal([]string{big})
		if tc.path == "/echo/websocket" { // raw: no SockJS framing
			msg = []byte(big)
		} else if o, _ := c.readText(); o != "o" {
			t.Fatalf("%s: first frame %q", tc.name, o)
		}
		c.send(true, opText, msg, false)
		if _, comp := c.readText(); comp != tc.compress {
			t.Errorf("%s: a 900-byte echo came compressed = %v, want %v", tc.name, comp, tc.compress)
		}
		want := 0.0
		if tc.compress {
			want = 1
		}
		var m dto.Metric
		_ = srv.metrics.wsCompressed.Write(&m)
		if got := m.GetCounter().GetValue(); got != want {
			t.Errorf("%s: sockgate_websocket_compressed_total = %v, want %v", tc.name, got, want)
		}
	}
}

// TestDeflateHandshakeErrors: a request that is not a valid handshake
// gets the answers gorilla's upgrader gave (400 naming version 13).
func TestDeflateHandshakeErrors(t *testing.T) {
	t.Parallel()
	_, hs, _ := deflateServer(t, true)
	for _, tc := range []struct {
		name, version, key string
	}{
		{"version 8", "8", "dGhlIHNhbXBsZSBub25jZQ=="},
		{"short key", "13", "c2hvcnQ="},
		{"key not base64", "13", "not base64!!"},
	} {
		req, _ := http.NewRequest(http.MethodGet, hs.URL+"/echo/0/e/websocket", nil)
		req.Header.Set("Upgrade", "websocket")
		req.Header.Set("Connection", "Upgrade")
		req.Header.Set("Sec-WebSocket-Version", tc.version)
		req.Header.Set("Sec-WebSocket-Key", tc.key)
		req.Header.Set("Sec-WebSocket-Extensions", "permessage-deflate")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		_ = resp.Body.Close()
		if resp.StatusCode != http.StatusBadRequest || resp.Header.Get("Sec-Websocket-Version") != "13" {
			t.Errorf("%s: %s, Sec-WebSocket-Version %q; want 400 naming 13", tc.name, resp.Status, resp.Header.Get("Sec-Websocket-Version"))
		}
	}
}

// TestDeflateThreshold: on a compressed connection, frames under the
// threshold (the open frame, a short echo) go uncompressed, longer ones
// compressed, on the SockJS websocket and the raw one; what the client
// sends compressed (whole or in fragments) or not is read alike.
func TestDeflateThreshold(t *testing.T) {
	t.Parallel()
	_, hs, _ := deflateServer(t, true)
	short, long := "short é", strings.Repeat("héllo wörld ", 40)

	c, _ := dialRaw(t, hs, "/echo/0/t/websocket", "permessage-deflate")
	if o, comp := c.readText(); o != "o" || comp {
		t.Fatalf("open frame %q compressed=%v, want an uncompressed o", o, comp)
	}
	for _, tc := range []struct {
		msg                string
		sendComp, wantComp bool
	}{{short, false, false}, {long, false, true}, {short, true, false}, {long, true, true}} {
		q, _ := json.Marshal([]string{tc.msg})
		if tc.sendComp {
			q = deflated(q)
		}
		c.send(true, opText, q, tc.sendComp)
		want, _ := json.Marshal([]string{tc.msg})
		if got, comp := c.readText(); got != "a"+string(want) || comp != tc.wantComp {
			t.Errorf("echo of %d bytes (sent compressed %v): %.30q compressed=%v, want compressed=%v",
				len(tc.msg), tc.sendComp, got, comp, tc.wantComp)
		}
	}
	// A compressed message in fragments: RSV1 on the first only.
	z := deflated([]byte(`["` + long + `"]`))
	c.send(false, opText, z[:10], true)
	c.send(true, opContinuation, z[10:], false)
	if got, _ := c.readText(); got != `a["`+long+`"]` {
		t.Errorf("fragmented compressed message echoed as %.30q", got)
	}

	r, _ := dialRaw(t, hs, "/echo/websocket", "permessage-deflate")
	for _, m := range []string{short, long, short} {
		r.send(true, opText, deflated([]byte(m)), true)
		if got, comp := r.readText(); got != m || comp != (len(m) >= DefaultWebsocketCompressionMinBytes) {
			t.Errorf("raw echo of %d bytes: %.30q compressed=%v", len(m), got, comp)
		}
	}
}

// opContinuation is the opcode of a continuation frame.
const opContinuation = 0x0

// TestDeflateBadInput: what each bad compressed input gets. RSV1 where
// compression was not negotiated, on a continuation or on a control frame
// is a protocol error (1002); data that does not inflate is 1007; a
// deflate bomb (1 MiB of zeros in about 1 KiB) over the 64 KiB limit is
// 1009, and the server holds no more than the limit to find out.
func TestDeflateBadInput(t *testing.T) {
	t.Parallel()
	_, hsOff, _ := deflateServer(t, false)
	_, hs, _ := deflateServer(t, true)
	bomb := deflated(make([]byte, 1<<20))
	if len(bomb) > 4096 {
		t.Fatalf("the bomb is %d bytes compressed", len(bomb))
	}
	z := deflated([]byte(`["x"]`))
	for _, tc := range []struct {
		name string
		hs   *httptest.Server
		send func(c *rawClient)
		code int
	}{
		{"RSV1 not negotiated", hsOff, func(c *rawClient) { c.send(true, opText, z, true) }, closeProtocolError},
		{"RSV1 on a continuation", hs, func(c *rawClient) {
			c.send(false, opText, z[:2], true)
			c.send(true, opContinuation, z[2:], true)
		}, closeProtocolError},
		{"RSV1 on a ping", hs, func(c *rawClient) { c.send(true, opPing, nil, true) }, closeProtocolError},
		{"not deflate", hs, func(c *rawClient) { c.send(true, opText, []byte{0xff, 0xff, 0xff, 0xff}, true) }, closeInvalidData},
		{"deflate bomb", hs, func(c *rawClient) { c.send(true, opText, bomb, true) }, 1009},
	} {
		offer := "permessage-deflate"
		c, _ := dialRaw(t, tc.hs, "/echo/0/bad/websocket", offer)
		if o, _ := c.readText(); o != "o" {
			t.Fatalf("%s: open frame %q", tc.name, o)
		}
		tc.send(c)
		if got := c.readClose(); got != tc.code {
			t.Errorf("%s: closed with %d, want %d", tc.name, got, tc.code)
		}
	}
}

// TestDeflateGorillaEcho: gorilla/websocket's client with
// EnableCompression echoes small, large and unicode messages intact over
// a compressed SockJS websocket and raw websocket.
func TestDeflateGorillaEcho(t *testing.T) {
	t.Parallel()
	_, hs, _ := deflateServer(t, true)
	d := websocket.Dialer{EnableCompression: true}
	base := "ws" + strings.TrimPrefix(hs.URL, "http")
	msgs := []string{"hi", strings.Repeat("0123456789", 30), strings.Repeat("ünïcödé ✓ 😀 ", 300)}

	c, resp, err := d.Dial(base+"/echo/0/g/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
		t.Fatalf("not negotiated: %q", ext)
	}
	_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
	if _, p, err := c.ReadMessage(); err != nil || string(p) != "o" {
		t.Fatalf("open frame %q, %v", p, err)
	}
	for _, m := range msgs {
		c.EnableWriteCompression(len(m) > 100)
		q, _ := json.Marshal([]string{m})
		if err := c.WriteMessage(websocket.TextMessage, q); err != nil {
			t.Fatal(err)
		}
		_, p, err := c.ReadMessage()
		if err != nil || string(p) != "a"+string(q) {
			t.Fatalf("echo of %d bytes: %.40q, %v", len(m), p, err)
		}
	}

	r, _, err := d.Dial(base+"/echo/websocket", nil)
	if err != nil {
		t.Fatal(err)
	}
	defer r.Close()
	_ = r.SetReadDeadline(time.Now().Add(10 * time.Second))
	for _, m := range msgs {
		if err := r.WriteMessage(websocket.TextMessage, []byte(m)); err != nil {
			t.Fatal(err)
		}
		if _, p, err := r.ReadMessage(); err != nil || string(p) != m {
			t.Fatalf("raw echo of %d bytes: %.40q, %v", len(m), p, err)
		}
	}
}

// TestDeflateBroadcastOnce: a broadcast to 10 compressed SockJS
// websockets and 10 compressed raw websockets is compressed once per wire
// format (the SockJS frame, the raw message), not once per subscriber, and
// each gets it intact.
func TestDeflateBroadcastOnce(t *testing.T) {
	t.Parallel()
	srv, hs, b := deflateServer(t, true)
	d := websocket.Dialer{EnableCompression: true}
	base := "ws" + strings.TrimPrefix(hs.URL, "http")
	const n = 10
	var sockjs, raw []*websocket.Conn
	for i := range 2 * n {
		url := fmt.Sprintf("%s/bcast/0/s%d/websocket", base, i)
		if i >= n {
			url = base + "/bcast/websocket"
		}
		c, resp, err := d.Dial(url, nil)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		if ext := resp.Header.Get("Sec-Websocket-Extensions"); !strings.HasPrefix(ext, "permessage-deflate") {
			t.Fatalf("subscriber %d: not compressed (%q)", i, ext)
		}
		_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
		if i >= n {
			raw = append(raw, c)
			continue
		}
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "o" {
			t.Fatalf("subscriber %d: open frame %q, %v", i, p, err)
		}
		sockjs = append(sockjs, c)
	}
	for b.Room().Len() < 2*n {
		time.Sleep(time.Millisecond)
	}
	var svc *service
	for _, s := range srv.services {
		if s.prefix == "/bcast" {
			svc = s
		}
	}
	before := svc.deflater.compressions.Load()
	msg := `{"type":"message","from":"alice","text":"` + strings.Repeat("a chat line of some length ", 10) + `"}`
	b.Room().Broadcast(msg)
	want, _ := json.Marshal([]string{msg})
	for i, c := range sockjs {
		if _, p, err := c.ReadMessage(); err != nil || string(p) != "a"+string(want) {
			t.Fatalf("SockJS subscriber %d: %.40q, %v", i, p, err)
		}
	}
	for i, c := range raw {
		if _, p, err := c.ReadMessage(); err != nil || string(p) != msg {
			t.Fatalf("raw subscriber %d: %.40q, %v", i, p, err)
		}
	}
	// Once per format; one more only if two writers missed the cache at
	// the same instant (it does not lock).
	if got := svc.deflater.compressions.Load() - before; got < 2 || got > 3 {
		t.Errorf("the broadcast was compressed %d times for %d subscribers in 2 formats, want twice", got, 2*n)
	}
}

// TestDeflateFrames: a raw session's queued frames are recompressed one
// by one, the short ones left as they are.
func TestDeflateFrames(t *testing.T) {
	t.Parallel()
	d := newDeflater(100)
	msgs := [][]byte{[]byte("a"), bytes.Repeat([]byte("b"), 300), nil, bytes.Repeat([]byte("c"), 70000)}
	var in []byte
	for _, m := range msgs {
		in = appendWSFrame(in, opText, m)
	}
	out := d.appendFrames(nil, in)
	for i, m := range msgs {
		hdr, n := wsFrameLen(out)
		if hdr == 0 {
			t.Fatalf("frame %d: no header in %x", i, out[:min(len(out), 10)])
		}
		p := out[hdr : hdr+n]
		if comp := out[0]&rsv1 != 0; comp != (len(m) >= 100) {
			t.Errorf("frame %d (%d bytes): compressed = %v", i, len(m), comp)
		} else if comp {
			var err error
			if p, err = inflate(bytes.Clone(p), 0); err != nil {
				t.Fatalf("frame %d: %v", i, err)
			}
		}
		if !bytes.Equal(p, m) {
			t.Errorf("frame %d: %d bytes, want %d", i, len(p), len(m))
		}
		out = out[hdr+n:]
	}
	if len(out) != 0 {
		t.Errorf("%d bytes left over", len(out))
	}
}

// TestInflateLimit: inflate stops at the limit, and holds at most about
// the limit doing so.
func TestInflateLimit(t *testing.T) {
	t.Parallel()
	z := deflated(make([]byte, 10<<20))
	if _, err := inflate(z, 100<<10); !errors.Is(err, errMessageTooBig) {
		t.Fatalf("a 10 MiB bomb under a 100 KiB limit: %v", err)
	}
	p, err := inflate(deflated(make([]byte, 100<<10)), 100<<10)
	if err != nil || len(p) != 100<<10 || cap(p) > 2*(100<<10) {
		t.Errorf("exactly the limit: %d bytes (cap %d), %v", len(p), cap(p), err)
	}
}

// FuzzInflate: any input inflates to at most the limit or fails with
// errBadDeflate or errMessageTooBig, never a panic; and whatever
// appendCompressed writes inflates back to its input.
func FuzzInflate(f *testing.F) {
	f.Add([]byte("hello"))
	f.Add(deflated([]byte(strings.Repeat("ab", 1000))))
	f.Add([]byte{0xff, 0xff, 0xff})
	f.Add([]byte{})
	d := newDeflater(1)
	f.Fuzz(func(t *testing.T, in []byte) {
		p, err := inflate(bytes.Clone(in), 4096)
		if err != nil && !errors.Is(err, errBadDeflate) && !errors.Is(err, errMessageTooBig) {
			t.Fatalf("inflate: unexpected error %v", err)
		}
		if len(p) > 4096 {
			t.Fatalf("inflated %d bytes over the 4096 limit", len(p))
		}
		frame := d.appendCompressed(nil, in)
		hdr, n := wsFrameLen(frame)
		if frame[0] != 0x80|rsv1|opText || hdr+n != len(frame) {
			t.Fatalf("frame header %x, %d+%d of %d bytes", frame[0], hdr, n, len(frame))
		}
		back, err := inflate(frame[hdr:], 0)
		if err != nil || !bytes.Equal(back, in) {
			t.Fatalf("round trip of %d bytes: %d bytes, %v", len(in), len(back), err)
		}
	})
}

// BenchmarkIdleWebsocketHeap is the heap an idle SockJS websocket session
// holds (after a GC, opened and answered "o"), with permessage-deflate
// negotiated and without, on the same clients: no context takeover means
// the same, give or take a pointer. Each op is one session; heap-B/session
// is the figure.
func BenchmarkIdleWebsocketHeap(b *testing.B) {
	for _, on := range []bool{false, true} {
		b.Run(map[bool]string{false: "off", true: "on"}[on], func(b *testing.B) {
			_, hs, _ := deflateServer(b, on)
			addr := strings.TrimPrefix(hs.URL, "http://")
			req := "Host: x\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n" +
				"Sec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Extensions: permessage-deflate\r\n\r\n"
			conns := make([]net.Conn, 0, b.N)
			defer func() {
				for _, c := range conns {
					_ = c.Close()
				}
			}()
			var before, after runtime.MemStats
			runtime.GC()
			runtime.ReadMemStats(&before)
			buf := make([]byte, 4096)
			b.ResetTimer()
			for i := range b.N {
				c, err := net.Dial("tcp", addr)
				if err != nil {
					b.Fatal(err)
				}
				conns = append(conns, c)
				if _, err := fmt.Fprintf(c, "GET /echo/0/i%d/websocket HTTP/1.1\r\n%s", i, req); err != nil {
					b.Fatal(err)
				}
				// The 101 and the "o" frame; they may come in two reads.
				for got := ""; !strings.HasSuffix(got, "\x81\x01o"); {
					_ = c.SetReadDeadline(time.Now().Add(10 * time.Second))
					n, err := c.Read(buf)
					if err != nil {
						b.Fatalf("session %d: %v after %q", i, err, got)
					}
					got += string(buf[:n])
				}
			}
			b.StopTimer()
			runtime.GC()
			runtime.ReadMemStats(&after)
			b.ReportMetric(float64(int64(after.HeapAlloc)-int64(before.HeapAlloc))/float64(b.N), "heap-B/session")
		})
	}
}

// chatFrame is a SockJS frame of one chat event of about 300 bytes.
var chatFrame = func() []byte {
	ev := `{"type":"message","id":"1042","room":"lobby","from":"alice","text":"Are we still on for the release review tomorrow at ten? I pushed the fix for the reconnect loop last night, and the dashboard looks calm since then; Bob wants to walk through the numbers first.","ts":1764800000000}`
	q, _ := json.Marshal([]string{ev})
	return append([]byte("a"), q...)
}()

// BenchmarkDeflateChat is the cost of compressing one chat frame (a cache
// miss: an echo, a reply) and of inflating what a client sends.
func BenchmarkDeflateChat(b *testing.B) {
	b.Run("compress", func(b *testing.B) {
		d := newDeflater(0)
		b.ReportAllocs()
		b.SetBytes(int64(len(chatFrame)))
		var dst []byte
		for range b.N {
			dst = d.appendCompressed(dst[:0], chatFrame)
		}
		b.ReportMetric(float64(len(dst))/float64(len(chatFrame)), "ratio")
	})
	b.Run("cached", func(b *testing.B) {
		d := newDeflater(0)
		b.ReportAllocs()
		var dst []byte
		for range b.N {
			dst = d.appendText(dst[:0], chatFrame)
		}
	})
	b.Run("inflate", func(b *testing.B) {
		z := deflated(chatFrame)
		buf := make([]byte, 0, len(z)+16)
		b.ReportAllocs()
		b.SetBytes(int64(len(chatFrame)))
		for range b.N {
			if _, err := inflate(append(buf[:0], z...), 1<<20); err != nil {
				b.Fatal(err)
			}
		}
	})
}

// FuzzWSReaderDeflate: the frame reader with permessage-deflate
// negotiated, on frames built from the input (final bit, RSV1, opcode,
// payload; a payload marked compressed is deflated first when the next
// input byte is odd, else sent as it is, usually not deflate data): never
// a panic or a hang, never a message over the limit or not UTF-8, and a
// protocol error always answered with a close.
func FuzzWSReaderDeflate(f *testing.F) {
	f.Add([]byte{0xC1, 5, 1, 'h', 'e', 'l', 'l', 'o'}) // compressed "hello"
	f.Add([]byte{0x41, 2, 1, 'a', 'b', 0x80, 1, 0, 'c'})
	f.Add([]byte{0xC1, 3, 0, 0xff, 0xff, 0xff}) // not deflate
	f.Add([]byte{0xC9, 0, 0})                   // compressed ping
	f.Fuzz(func(t *testing.T, in []byte) {
		var stream []byte
		for len(in) >= 3 {
			b0, n, mode := in[0], int(in[1]), in[2]
			in = in[3:]
			n = min(n, len(in))
			p := in[:n]
			in = in[n:]
			if b0&rsv1 != 0 && mode&1 == 1 {
				p = deflated(p)
			}
			fr := clientFrame(b0&0x80 != 0, b0&0x0f, p)
			fr[0] |= b0 & rsv1
			stream = append(stream, fr...)
		}
		c, controls := readerFor(t, stream, 300)
		c.deflate = newDeflater(0)
		var err error
		for range 100 {
			var p []byte
			if p, err = c.ReadText(); err != nil {
				break
			}
			if len(p) > 300 || !utf8.Valid(p) {
				t.Fatalf("message of %d bytes (limit 300), UTF-8 %v", len(p), utf8.Valid(p))
			}
		}
		if got := controls(); errors.Is(err, errWSProtocol) && (len(got) == 0 || !strings.HasPrefix(got[len(got)-1], "close")) {
			t.Fatalf("protocol error %v answered with %q, want a close", err, got)
		}
	})
}
