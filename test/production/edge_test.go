package production

import (
	"bufio"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/sockgate/sockgate/gateway"
)

// testBodyTimeout is the body read timeout of the slow-body tests: short,
// so they take well under a second each.
const testBodyTimeout = 300 * time.Millisecond

// slowBodyBound is how long after its headers a slow send may stay open at
// most: the timeout and a margin for a loaded machine.
const slowBodyBound = testBodyTimeout + 3*time.Second

// A send request that declares a body and sends it slowly, or not at all,
// is answered 408 within the body read timeout and its connection closed:
// it can no longer hold a connection and a goroutine for ever (issue 13.2).
func TestSendBodyReadTimeout(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{BodyReadTimeout: testBodyTimeout, Services: []gateway.Service{echoService("/echo")}})
	u := srv.URL() + "/echo/000/slow/"
	do(t, http.MethodPost, u+"xhr", nil, "").want(t, http.StatusOK, "o\n")
	for _, tc := range []struct {
		name, path string
		trickle    bool
	}{
		{"xhr_send, nothing sent", "xhr_send", false},
		{"xhr_send, a byte at a time", "xhr_send", true},
		{"jsonp_send, nothing sent", "jsonp_send", false},
		{"jsonp_send, a byte at a time", "jsonp_send", true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn, err := net.DialTimeout("tcp", srv.Addr().String(), waitTimeout)
			if err != nil {
				t.Fatal(err)
			}
			defer conn.Close()
			_ = conn.SetDeadline(time.Now().Add(waitTimeout))
			start := time.Now()
			head := "POST /echo/000/slow/" + tc.path + " HTTP/1.1\r\nHost: " + srv.Addr().String() +
				"\r\nContent-Type: text/plain\r\nContent-Length: 1000000\r\n\r\n["
			if _, err := io.WriteString(conn, head); err != nil {
				t.Fatal(err)
			}
			if tc.trickle {
				stop := make(chan struct{})
				defer close(stop)
				go trickle(conn, stop)
			}
			br := bufio.NewReader(conn)
			resp, err := http.ReadResponse(br, nil)
			if err != nil {
				t.Fatalf("no answer %v after the headers: %v", time.Since(start).Round(time.Millisecond), err)
			}
			body, _ := io.ReadAll(resp.Body)
			resp.Body.Close()
			if resp.StatusCode != http.StatusRequestTimeout || string(body) != "Request body not received in time." {
				t.Errorf("answer %d %q, want 408", resp.StatusCode, body)
			}
			// The connection is closed after the answer.
			if _, err := br.ReadByte(); err == nil {
				t.Error("the connection carried more after the answer")
			}
			if d := time.Since(start); d > slowBodyBound {
				t.Errorf("connection held %v, want under %v", d, slowBodyBound)
			}
		})
	}
	// The session itself is unharmed: a well-formed send still works.
	do(t, http.MethodPost, u+"xhr_send", nil, `["after"]`).want(t, http.StatusNoContent, "")
	do(t, http.MethodPost, u+"xhr", nil, "").want(t, http.StatusOK, "a[\"after\"]\n")
}

// trickle writes one body byte every 100 ms until stop.
func trickle(conn net.Conn, stop <-chan struct{}) {
	tick := time.NewTicker(100 * time.Millisecond)
	defer tick.Stop()
	for {
		select {
		case <-stop:
			return
		case <-tick.C:
			if _, err := io.WriteString(conn, " "); err != nil {
				return
			}
		}
	}
}

// MaxConnectionsPerIP bounds the open connections of one client address:
// one over it reads a 503 and is closed, another address is unaffected,
// and a closed connection gives its place back.
func TestMaxConnectionsPerIP(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{MaxConnectionsPerIP: 3, Services: []gateway.Service{echoService("/echo")}})
	addr := srv.Addr().String()
	var held []net.Conn
	for range 3 {
		c := dialFrom(t, "127.0.0.1", addr)
		held = append(held, c)
		infoOn(t, c, addr, http.StatusOK)
	}
	over := dialFrom(t, "127.0.0.1", addr)
	_ = over.SetDeadline(time.Now().Add(waitTimeout))
	resp, err := http.ReadResponse(bufio.NewReader(over), nil)
	if err != nil {
		t.Fatalf("fourth connection: %v, want a 503", err)
	}
	body, _ := io.ReadAll(resp.Body)
	if resp.StatusCode != http.StatusServiceUnavailable || string(body) != "Too many connections.\n" || resp.Header.Get("Retry-After") == "" {
		t.Errorf("fourth connection: %d %q %v, want 503 Too many connections. with Retry-After", resp.StatusCode, body, resp.Header)
	}
	over.Close()
	infoOn(t, dialFrom(t, "127.0.0.2", addr), addr, http.StatusOK)
	held[0].Close()
	eventually(t, "a place freed by a closed connection", func() bool {
		c := dialFrom(t, "127.0.0.1", addr)
		defer c.Close()
		return tryInfo(c, addr) == http.StatusOK
	})
	// 127.0.0.1 may still be at its bound: read the metrics from 127.0.0.2.
	c := dialFrom(t, "127.0.0.2", addr)
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	_, _ = io.WriteString(c, "GET /metrics HTTP/1.1\r\nHost: "+addr+"\r\n\r\n")
	resp, err = http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		t.Fatalf("GET /metrics: %v", err)
	}
	exposition, _ := io.ReadAll(resp.Body)
	if got := sampleValue(string(exposition), `sockgate_refusals_total{cause="connections_per_ip"}`); got < 1 {
		t.Errorf("connections_per_ip refusals: %v, want at least 1", got)
	}
}

// Connections from a trusted proxy are not counted: every client behind it
// shares its address, and the per-client limits apply to the forwarded
// address instead.
func TestMaxConnectionsPerIPTrustedProxy(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{
		MaxConnectionsPerIP: 1,
		TrustedProxies:      []string{"127.0.0.1/32"},
		Services:            []gateway.Service{echoService("/echo")},
	})
	addr := srv.Addr().String()
	for range 3 {
		infoOn(t, dialFrom(t, "127.0.0.1", addr), addr, http.StatusOK)
	}
	infoOn(t, dialFrom(t, "127.0.0.2", addr), addr, http.StatusOK)
	over := dialFrom(t, "127.0.0.2", addr)
	if got := tryInfo(over, addr); got != http.StatusServiceUnavailable {
		t.Errorf("second connection from 127.0.0.2 (not a proxy): %d, want 503", got)
	}
}

// dialFrom connects to addr from the local address from (127.0.0.2 is a
// second client); the connection closes with the test.
func dialFrom(t *testing.T, from, addr string) net.Conn {
	t.Helper()
	d := net.Dialer{Timeout: waitTimeout, LocalAddr: &net.TCPAddr{IP: net.ParseIP(from)}}
	c, err := d.Dial("tcp", addr)
	if err != nil {
		t.Fatalf("dial %s from %s: %v", addr, from, err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// infoOn sends GET /echo/info on c and checks its status.
func infoOn(t *testing.T, c net.Conn, addr string, want int) {
	t.Helper()
	if got := tryInfo(c, addr); got != want {
		t.Fatalf("GET /echo/info from %s: %d, want %d", c.LocalAddr(), got, want)
	}
}

// tryInfo sends GET /echo/info on c: its status, 0 when there was no answer.
func tryInfo(c net.Conn, addr string) int {
	_ = c.SetDeadline(time.Now().Add(waitTimeout))
	if _, err := io.WriteString(c, "GET /echo/info HTTP/1.1\r\nHost: "+addr+"\r\n\r\n"); err != nil {
		return 0
	}
	resp, err := http.ReadResponse(bufio.NewReader(c), nil)
	if err != nil {
		return 0
	}
	_, _ = io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	return resp.StatusCode
}

// The per-address session limit counts an IPv6 client by its /64: one host
// holds a whole /64, so addresses within it share one bound (issue 13,
// 10g). Other /64s are other clients.
func TestSessionLimitIPv6By64(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, perIPConfig([]string{"127.0.0.1/32"}))
	u := srv.URL() + "/echo/000/"
	do(t, http.MethodPost, u+"v1/xhr", xff("2001:db8:1:2::1"), "").want(t, http.StatusOK, "o\n")
	wantBusy(t, do(t, http.MethodPost, u+"v2/xhr", xff("2001:db8:1:2:ffff::9"), ""))
	do(t, http.MethodPost, u+"v3/xhr", xff("2001:db8:1:3::1"), "").want(t, http.StatusOK, "o\n")
}

// In own-host mode (no allowed origins) only a web page of the gateway's
// own host may connect: http and https, not foo://host (issue 13, 10c).
func TestOwnHostOriginSchemes(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{Services: []gateway.Service{echoService("/echo")}})
	host := srv.Addr().String()
	for o, want := range map[string]int{
		"http://" + host:                  http.StatusOK,
		"https://" + host:                 http.StatusOK,
		"foo://" + host:                   http.StatusForbidden,
		"chrome-extension://" + host:      http.StatusForbidden,
		"http://evil.example.com":         http.StatusForbidden,
		"HTTP://" + strings.ToUpper(host): http.StatusOK,
	} {
		r := do(t, http.MethodGet, srv.URL()+"/echo/info", origin(o), "")
		if r.status != want {
			t.Errorf("Origin %s: %d, want %d", o, r.status, want)
		}
		if want == http.StatusForbidden {
			r.want(t, http.StatusForbidden, "Origin not allowed.")
			r.wantNoHeader(t, "Access-Control-Allow-Origin")
		}
	}
}

// The GETs of jsonp-polling and htmlfile carry no Origin (a script tag, an
// iframe): Sec-Fetch-Site and Referer refuse a read by a page the policy
// does not allow, while same-origin pages, allowed pages and browsers that
// send neither header still get their frames (issue 13, 10d).
func TestNoOriginTransportsFetchMetadata(t *testing.T) {
	t.Parallel()
	srv := startGateway(t, gateway.Config{
		AllowedOrigins: []string{"https://app.example.com"},
		Services:       []gateway.Service{echoService("/echo")},
	})
	self := srv.URL()
	type hdrs = map[string]string
	cases := []struct {
		name string
		h    hdrs
		ok   bool
	}{
		{"neither header (old browser)", hdrs{}, true},
		{"same-origin", hdrs{"Sec-Fetch-Site": "same-origin", "Referer": self + "/echo/iframe.html"}, true},
		{"typed in", hdrs{"Sec-Fetch-Site": "none"}, true},
		{"allowed page", hdrs{"Sec-Fetch-Site": "cross-site", "Referer": "https://app.example.com/chat"}, true},
		{"allowed page, old browser", hdrs{"Referer": "https://app.example.com/"}, true},
		{"cross-site page", hdrs{"Sec-Fetch-Site": "cross-site", "Referer": "https://evil.example.net/x"}, false},
		{"same-site page not allowed", hdrs{"Sec-Fetch-Site": "same-site", "Referer": "https://other.example.com/"}, false},
		{"cross-site without Referer", hdrs{"Sec-Fetch-Site": "cross-site"}, false},
		{"old browser, page not allowed", hdrs{"Referer": "http://evil.example.net/"}, false},
	}
	for i, tc := range cases {
		for _, tr := range []string{"jsonp?c=cb", "htmlfile?c=cb"} {
			h := http.Header{}
			for k, v := range tc.h {
				h.Set(k, v)
			}
			sid := string(rune('a'+i)) + tr[:1]
			url := self + "/echo/000/fm" + sid + "/" + tr
			if !tc.ok {
				r := do(t, http.MethodGet, url, h, "")
				r.want(t, http.StatusForbidden, "Origin not allowed.")
				continue
			}
			if tr[0] == 'j' {
				r := do(t, http.MethodGet, url, h, "")
				r.want(t, http.StatusOK, "/**/cb(\"o\");\r\n")
				continue
			}
			resp, body := openStream(t, http.MethodGet, url, h, 1060)
			resp.Body.Close()
			if resp.StatusCode != http.StatusOK || !strings.Contains(body, `p("o"`) {
				t.Errorf("%s, htmlfile: %d %q", tc.name, resp.StatusCode, clip(body))
			}
		}
	}
}
