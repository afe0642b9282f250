package main

import (
	"errors"
	"os"
	"strings"
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
