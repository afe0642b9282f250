package main

import (
	"bytes"
	"strings"
	"testing"
)

func TestSeqTracker(t *testing.T) {
	t.Parallel()
	var counts seqCounts
	tr := newSeqTracker()
	for _, seq := range []int64{0, 1, 3, 2, 2, 70, 5, 200} {
		tr.add(seq, &counts)
	}
	// distinct: 0 1 3 2 70 5 200; 2 again is a duplicate; 2 after 3 and 5
	// after 70 came after a later message.
	if d, dup, ooo := counts.distinct.Load(), counts.duplicates.Load(), counts.outOfOrder.Load(); d != 7 || dup != 1 || ooo != 2 {
		t.Fatalf("distinct %d, duplicates %d, out of order %d; want 7, 1, 2", d, dup, ooo)
	}
	if tr.last != 200 || len(tr.seen) != 4 {
		t.Fatalf("last %d, %d words; want 200 and 4", tr.last, len(tr.seen))
	}
}

func TestParseMeasured(t *testing.T) {
	t.Parallel()
	tests := []struct {
		in  string
		seq int64
		ok  bool
	}{
		{"1700000000000000000:0:xxxx", 0, true},
		{"1700000000000000000:42:", 42, true},
		{"1700000000000000000:42", 0, false},                     // no ':' after the sequence
		{"1700000000000000000", 0, false},                        // no sequence
		{"1700000000000000000:-1:x", 0, false},                   // negative
		{"1700000000000000000:16777216:x", 0, false},             // maxSeq
		{"1700000000000000000:1e3:x", 0, false},                  // not a decimal
		{"yesterday:1:x", 0, false},                              // no send time
		{"0:1:x", 0, false},                                      // zero send time
		{"1700000000000000000:99999999999999999999:x", 0, false}, // overflows
	}
	for _, tt := range tests {
		sent, seq, ok := parseMeasured(tt.in)
		if ok != tt.ok || seq != tt.seq || (ok && sent.UnixNano() != 1700000000000000000) {
			t.Errorf("parseMeasured(%q) = %v, %d, %v; want %d, %v", tt.in, sent, seq, ok, tt.seq, tt.ok)
		}
	}
}

// bcRun is a broadcast or saturation round of server to n subscribers.
func bcRun(scenario, server string, n int, cpuPerDelivery, p99ms, perSec float64) result {
	r := result{Scenario: scenario, Server: server, Transport: "websocket", Sessions: n, Seconds: 2, ClientCPUSec: 0.4,
		Expected: 10000, Delivered: 10000, P99ms: p99ms, DeliveriesSec: perSec, OthersCPUSec: -1}
	r.ServerCPUSec = cpuPerDelivery * 10000 / 1e6
	r.ServerCPUusPerOp = cpuPerDelivery
	return r
}

// oneSession makes r a run of one session.
func oneSession(r result) result { r.Sessions = 1; return r }

func echoTrips(server, transport string, perSec, cpu, p50 float64) result {
	return result{Scenario: scenarioEcho, Server: server, Transport: transport, Sessions: 50, Seconds: 1, ClientCPUSec: 0.5,
		RoundTrips: int64(perSec), RoundTripsSec: perSec, P50us: p50, ServerCPUSec: perSec * cpu / 1e6, ServerCPUusPerOp: cpu, OthersCPUSec: -1}
}

// targetLine returns the line of the targets table that starts with name.
func targetLine(t *testing.T, table, name string) string {
	t.Helper()
	for _, l := range strings.Split(table, "\n") {
		if strings.HasPrefix(l, name) {
			return l
		}
	}
	t.Fatalf("no target %q in:\n%s", name, table)
	return ""
}

func TestTargets(t *testing.T) {
	t.Parallel()
	satNative := bcRun(scenarioSaturation, labelNative, 2000, 5, 40, 160000)
	satNative.ClientCPUSec = 1.9 // 95% of a core: saturated
	satNative.Lost, satNative.OutOfOrder = 3, 1
	deflateOn, deflateOff := bcRun(scenarioBroadcast, labelDeflateOn, 2000, 12, 3, 40000), bcRun(scenarioBroadcast, labelDeflateOff, 2000, 11, 3, 40000)
	deflateOn.WireBytesPerOp, deflateOff.WireBytesPerOp = 230, 330
	results := []result{
		deflateOn, deflateOff,
		bcRun(scenarioBroadcast, labelNative, 2000, 8, 3, 40000), bcRun(scenarioBroadcast, labelPlainWS, 2000, 11, 4, 40000),
		bcRun(scenarioBroadcast, labelNative, 5000, 10, 5, 100000), bcRun(scenarioBroadcast, labelPlainWS, 5000, 11, 4, 100000),
		satNative, bcRun(scenarioSaturation, labelPlainWS, 2000, 7, 30, 100000),
		echoTrips(labelNative, "xhr-polling", 10000, 52, 500), echoTrips(labelPlainHTTP, "xhr-polling", 12000, 45, 400),
		echoTrips(labelNative, "websocket", 30000, 15, 100), echoTrips(labelPlainWS, "websocket", 30000, 14, 100),
		{Scenario: scenarioIdle, Server: labelNative, Transport: "websocket", Sessions: 5000, KiBPerSession: 9, Opened: 5000, Alive: 5000},
		{Scenario: scenarioIdle, Server: labelNative, Transport: "websocket", Sessions: 10000, KiBPerSession: 7.5, Opened: 10000, Alive: 10000},
		{Scenario: scenarioIdle, Server: labelNative, Transport: "websocket", Sessions: 15000, KiBPerSession: 7, Opened: 15000, Alive: 14999},
		echoTrips(labelLocal, "xhr-polling", 10000, 60, 500), echoTrips(labelForwarded, "xhr-polling", 6000, 90, 1200),
		// one session: the added latency is read from these, not the loaded runs
		oneSession(echoTrips(labelLocal, "xhr-polling", 3000, 70, 300)), oneSession(echoTrips(labelForwarded, "xhr-polling", 1500, 95, 1000)),
		oneSession(echoTrips(labelLocal, "xhr-streaming", 3000, 50, 300)), oneSession(echoTrips(labelForwarded, "xhr-streaming", 1500, 95, 1400)),
	}
	var out bytes.Buffer
	if err := writeTargets(&out, issueSizes, results); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, tt := range []struct{ name, want []string }{
		{[]string{"broadcast CPU/delivery, 2,000"}, []string{"0.73x", "met"}},
		{[]string{"broadcast CPU/delivery, 5,000"}, []string{"0.91x", "missed"}},
		{[]string{"broadcast p99 delivery latency, 2,000"}, []string{"0.75x", "met"}},
		{[]string{"broadcast p99 delivery latency, 5,000"}, []string{"1.25x", "missed"}},
		// 1.6x is enough, but native lost and reordered, and the tool was saturated
		{[]string{"saturation deliveries/s, 2,000"}, []string{"1.60x", "missed", "load tool saturated (native)", "lost 3, duplicated 0, out of order 1"}},
		{[]string{"xhr-polling echo CPU/round trip"}, []string{"1.16x", "met"}},
		{[]string{"xhr-streaming echo CPU/round trip"}, []string{"not run"}},
		{[]string{"websocket echo CPU/round trip"}, []string{"1.07x", "met"}},
		// the run closest to 9,000 sessions
		{[]string{"idle memory per websocket session"}, []string{"7.50 KiB at 10000 sessions", "met"}},
		{[]string{"idle memory per xhr-streaming session"}, []string{"not run"}},
		{[]string{"15000 websocket sessions held"}, []string{"15000 opened, 14999 alive", "missed"}},
		{[]string{"forwarded xhr-polling echo round trips/s"}, []string{"0.60x", "met"}},
		// the loaded runs' 500 and 1200 us would say +700
		{[]string{"forwarded xhr-polling echo: added p50"}, []string{"p50 forwarded 1000 us, local 300 us", "met"}},
		// the one-session runs do not count as throughput runs
		{[]string{"forwarded xhr-streaming echo round trips/s"}, []string{"not run"}},
		{[]string{"forwarded xhr-streaming echo: added p50"}, []string{"+1100 us", "missed"}},
		{[]string{"permessage-deflate bytes/delivery, chat JSON, 2,000"}, []string{"0.70x", "met"}},
		{[]string{"permessage-deflate CPU/delivery, chat JSON, 2,000"}, []string{"1.09x", "met"}},
	} {
		line := targetLine(t, table, tt.name[0])
		for _, w := range tt.want {
			if !strings.Contains(line, w) {
				t.Errorf("target %q: %q lacks %q", tt.name[0], line, w)
			}
		}
	}
	if !strings.Contains(table, "targets: 9 met, 5 missed, 3 not run") {
		t.Errorf("summary line:\n%s", table)
	}

	// A reduced run reads its own sizes.
	out.Reset()
	small := []result{bcRun(scenarioBroadcast, labelNative, 200, 8, 3, 4000), bcRun(scenarioBroadcast, labelPlainWS, 200, 8, 3, 4000)}
	if err := writeTargets(&out, targetSizes{broadcast: []int{200}, saturation: 100}, small); err != nil {
		t.Fatal(err)
	}
	if l := targetLine(t, out.String(), "broadcast CPU/delivery, 200 "); !strings.Contains(l, "1.00x") || !strings.Contains(l, "missed") {
		t.Errorf("reduced run: %q", l)
	}
}

func TestCount(t *testing.T) {
	t.Parallel()
	for n, want := range map[int]string{0: "0", 200: "200", 2000: "2,000", 15000: "15,000", 1234567: "1,234,567"} {
		if got := count(n); got != want {
			t.Errorf("count(%d) = %q; want %q", n, got, want)
		}
	}
}

func TestSaturatedMark(t *testing.T) {
	t.Parallel()
	r := result{Seconds: 2, ClientCPUSec: 1.79}
	if r.saturated() || !strings.Contains(r.toolText(), "90% of a core)") {
		t.Errorf("89.5%% of a core: %q; want not saturated", r.toolText())
	}
	r.ClientCPUSec = 1.8
	if !r.saturated() || !strings.Contains(r.toolText(), "SATURATED") {
		t.Errorf("90%% of a core: %q; want saturated", r.toolText())
	}
	if (result{}).saturated() {
		t.Error("no time measured: want not saturated")
	}
}
