package main

import (
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

func TestPlainMessage(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want string
		ok   bool
	}{
		{`a["hello"]`, "hello", true},
		{`a[""]`, "", true},
		{`a["a","b"]`, "", false}, // two messages: the quote is refused
		{`a["x\"y"]`, "", false},
		{`a["\u2028"]`, "", false},
		{"a[\"\xc3\xa9\"]", "", false},
		{`o`, "", false},
		{`c[3000,"Go away!"]`, "", false},
		{`a["x"`, "", false},
	}
	for _, tt := range tests {
		got, ok := plainMessage([]byte(tt.in))
		if got != tt.want || ok != tt.ok {
			t.Errorf("plainMessage(%q) = %q, %v; want %q, %v", tt.in, got, ok, tt.want, tt.ok)
		}
	}
}

func TestPlainMessages(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in   string
		want []string // nil: not plain, left to the JSON decoder
	}{
		{`a["hello"]`, []string{"hello"}},
		{`a["a","b","c"]`, []string{"a", "b", "c"}},
		{`a["","b",""]`, []string{"", "b", ""}},
		{`a["a", "b"]`, nil},           // a space after the comma: not the server's encoding
		{`a["a","b\"c"]`, nil},         // an escape
		{`a["a","b"c"]`, nil},          // a stray quote
		{`a["a",]`, nil},               // a trailing comma
		{`a["a","\u00e9"]`, nil},       // an escape
		{"a[\"a\",\"\xc3\xa9\"]", nil}, // not ASCII
		{`a["a","b"`, nil},
		{`c[3000,"Go away!"]`, nil},
	}
	for _, tt := range tests {
		got, ok := plainMessages([]byte(tt.in), nil)
		if ok != (tt.want != nil) || strings.Join(got, "|") != strings.Join(tt.want, "|") || len(got) != len(tt.want) {
			t.Errorf("plainMessages(%q) = %q, %v; want %q", tt.in, got, ok, tt.want)
		}
	}
	// What the fast path refuses, the JSON decoder still reads.
	var c wsConn
	if err := c.parse([]byte(`a["a", "b\"c"]`)); err != nil || len(c.pending) != 2 || c.pending[1] != `b"c` {
		t.Fatalf("parse: %v %q", err, c.pending)
	}
	if err := c.parse([]byte(`a["x","y"]`)); err != nil || len(c.pending) != 2 || c.pending[0] != "x" {
		t.Fatalf("parse: %v %q", err, c.pending)
	}
}

func TestAppendMessages(t *testing.T) {
	t.Parallel()
	tests := []struct{ in, want string }{
		{"hello", `["hello"]`},
		{"", `[""]`},
		{`q"b\`, `["q\"b\\"]`},
		{"\u2028é", `["\u2028é"]`},
	}
	for _, tt := range tests {
		if got := string(appendMessages(nil, tt.in)); got != tt.want {
			t.Errorf("appendMessages(%q) = %s; want %s", tt.in, got, tt.want)
		}
	}
}

func TestWSConnParse(t *testing.T) {
	t.Parallel()
	var c wsConn
	if err := c.parse([]byte(`a["a","b\"c"]`)); err != nil || len(c.pending) != 2 || c.pending[1] != `b"c` {
		t.Fatalf("parse two messages: %v %q", err, c.pending)
	}
	c.pending = nil
	if err := c.parse([]byte("h")); err != nil || len(c.pending) != 0 {
		t.Fatalf("parse heartbeat: %v %q", err, c.pending)
	}
	err := c.parse([]byte(`c[2010,"Another connection still open"]`))
	var ce *sockjsclient.CloseError
	if !errors.As(err, &ce) || ce.Code != 2010 || classify(err) != "close_2010" {
		t.Fatalf("parse 2010 = %v", err)
	}
	if err := c.parse([]byte("o")); !errors.Is(err, sockjsclient.ErrBadFrame) {
		t.Fatalf("second open frame = %v; want ErrBadFrame", err)
	}
}

func TestErrorCounter(t *testing.T) {
	t.Parallel()
	e := newErrorCounter()
	e.add("echo", &sockjsclient.CloseError{Code: 2010, Reason: "Another connection still open"})
	e.add("echo", &sockjsclient.CloseError{Code: 2010, Reason: "Another connection still open"})
	e.add("dial", &sockjsclient.HTTPError{StatusCode: 503})
	e.add("echo", errMismatch)
	if e.total.Load() != 4 || e.spurious.Load() != 2 {
		t.Fatalf("total %d, spurious %d; want 4, 2", e.total.Load(), e.spurious.Load())
	}
	lines := errorLines(e.snapshot())
	if len(lines) != 3 || !strings.Contains(lines[0], "2 x echo:close_2010") {
		t.Fatalf("lines = %q", lines)
	}
}

func TestParseStatus(t *testing.T) {
	t.Parallel()
	status := "Name:\tsockgate\nVmPeak:\t  123 kB\nVmRSS:\t   97112 kB\nThreads:\t5\n"
	if got, err := parseStatusKiB([]byte(status), "VmRSS:"); err != nil || got != 97112 {
		t.Fatalf("VmRSS = %d, %v; want 97112", got, err)
	}
	if _, err := parseStatusKiB([]byte("Name: x\n"), "VmRSS:"); err == nil {
		t.Fatal("missing VmRSS: want an error")
	}
}

func TestParseMetrics(t *testing.T) {
	t.Parallel()
	page := "# HELP go_goroutines Number of goroutines.\n# TYPE go_goroutines gauge\ngo_goroutines 10009\n" +
		"go_memstats_heap_inuse_bytes 4.3286528e+07\nsockgate_sessions_open{transport=\"websocket\"} 5000\n"
	m, err := parseMetrics(strings.NewReader(page))
	if err != nil {
		t.Fatal(err)
	}
	if m[metricGoroutines] != 10009 || m[metricHeapInuse] != 43286528 {
		t.Fatalf("metrics = %v", m)
	}
	if _, err := parseMetrics(strings.NewReader("x 1\n")); err == nil {
		t.Fatal("no go_goroutines: want an error")
	}
}

func TestParseStatCPU(t *testing.T) {
	t.Parallel()
	stat := "1234 (sock gate) S 1 1234 1234 0 -1 4194560 9000 0 0 0 250 130 0 0 20 0 5 0 100 0 0\n"
	if got, err := parseStatCPU([]byte(stat)); err != nil || got != 3800*time.Millisecond {
		t.Fatalf("parseStatCPU = %v, %v; want 3.8s", got, err)
	}
	if _, err := parseStatCPU([]byte("1234 (x) S 1 2")); err == nil {
		t.Fatal("short line: want an error")
	}
	if d, err := processCPU(os.Getpid()); err != nil || d < 0 {
		t.Fatalf("processCPU(self) = %v, %v", d, err)
	}
}

func TestCPULists(t *testing.T) {
	t.Parallel()
	got, err := parseCPUList("0-2,5")
	if err != nil || len(got) != 4 || got[0] != 0 || got[2] != 2 || got[3] != 5 {
		t.Fatalf("parseCPUList = %v, %v", got, err)
	}
	if _, err := parseCPUList("a"); err == nil {
		t.Fatal("bad list: want an error")
	}
	stat := "cpu  9 9 9 9 9 9 9 9 0 0\ncpu0 10 1 20 500 7 3 4 5 0 0\ncpu1 100 0 0 0 0 0 0 0 0 0\n"
	if d, err := parseCoresBusy([]byte(stat), []int{0}); err != nil || d != 43*clockTick {
		t.Fatalf("parseCoresBusy = %v, %v; want 43 ticks", d, err)
	}
	if _, err := parseCoresBusy([]byte(stat), []int{7}); err == nil {
		t.Fatal("missing cpu: want an error")
	}
}

func TestParseConfig(t *testing.T) {
	t.Parallel()
	c, err := parseConfig([]string{"-scenario", "saturation", "-pid", "12,13", "-pid", "14", "-window", "8",
		"-transport", "xhr-polling", "-url", "http://127.0.0.1:1/echo", "-url2", "http://127.0.0.1:2/echo"}, io.Discard)
	if err != nil {
		t.Fatal(err)
	}
	if len(c.pids) != 3 || c.pids[0] != 12 || c.pids[2] != 14 || c.window != 8 || c.sessions != 1000 {
		t.Fatalf("config = %+v; want pids 12 13 14, window 8, 1000 sessions", c)
	}
	for _, tt := range []struct {
		args []string
		want string // in the error
	}{
		{[]string{"-pid", "12,x"}, `not "x"`},
		{[]string{"-pid", "0"}, `not "0"`},
		{[]string{"-scenario", "storm"}, "want echo, broadcast, saturation or idle"},
		{[]string{"-scenario", "saturation", "-window", "0"}, "-window must be positive"},
		{[]string{"-url2", "http://127.0.0.1:2/echo"}, "want an HTTP transport, not websocket"},
		{[]string{"-transport", "xhr-polling", "-url2", "http://127.0.0.1:2/echo", "extra"}, "unexpected arguments"},
	} {
		if _, err := parseConfig(tt.args, io.Discard); err == nil || !strings.Contains(err.Error(), tt.want) {
			t.Errorf("%q: error %v; want one with %q", tt.args, err, tt.want)
		}
	}
	// -url2 must be -url's service on another host.
	for _, u2 := range []string{"ws://127.0.0.1:2/echo", "http://127.0.0.1:2/other", "127.0.0.1:2"} {
		if _, err := newDialer("http://127.0.0.1:1/echo", u2, "xhr-polling", 1); err == nil || !strings.Contains(err.Error(), "-url2") {
			t.Errorf("-url2 %q: error %v; want a -url2 error", u2, err)
		}
	}
}

// TestAlternating: with -url2, a session's requests go in turn to the two
// hosts, the first to -url's.
func TestAlternating(t *testing.T) {
	t.Parallel()
	var hits [2]atomic.Int64
	var order []int
	var mu sync.Mutex
	servers := make([]*httptest.Server, 2)
	for i := range servers {
		servers[i] = httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
			hits[i].Add(1)
			mu.Lock()
			order = append(order, i)
			mu.Unlock()
			_, _ = io.WriteString(w, r.URL.Path)
		}))
		defer servers[i].Close()
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	host2 := strings.TrimPrefix(servers[1].URL, "http://")
	client := &http.Client{Transport: &alternating{next: tr, host2: host2}}
	for range 5 {
		resp, err := client.Post(servers[0].URL+"/echo/1/s/xhr", "text/plain", strings.NewReader("[]"))
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if string(b) != "/echo/1/s/xhr" {
			t.Fatalf("path %q; want it kept", b)
		}
	}
	if hits[0].Load() != 3 || hits[1].Load() != 2 || order[0] != 0 || order[1] != 1 || order[2] != 0 {
		t.Fatalf("hits %d and %d in order %v; want 3 and 2, alternating from -url", hits[0].Load(), hits[1].Load(), order)
	}
}
