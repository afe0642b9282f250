package main

import (
	"bytes"
	"math"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// echoRun is a one-second echo result whose round trips all took d and
// cost the server 10us of CPU each.
func echoRun(server string, trips int64, d time.Duration) result {
	r := result{Scenario: scenarioEcho, Server: server, Transport: "websocket", Sessions: 50, Seconds: 1, RoundTrips: trips}
	r.RoundTripsSec = float64(trips)
	r.P50us, r.P99us = micros(d), micros(d)
	r.setCPU(cpuUse{server: time.Duration(trips) * 10 * time.Microsecond, client: time.Second, others: 100 * time.Millisecond}, trips)
	return r
}

func TestRounds(t *testing.T) {
	t.Parallel()
	a := echoRun("native", 3000, time.Millisecond)
	b := echoRun("native", 1000, 9*time.Millisecond) // a disturbed round
	c := echoRun("native", 2800, 2*time.Millisecond)
	b.Errors, b.Spurious2010 = 2, 1
	b.ServerCPUSec *= 2
	rs := []result{a, b, c}
	tot := totals(rs)
	if tot.RoundTrips != 6800 || tot.Seconds != 3 || tot.Errors != 2 || tot.Spurious2010 != 1 || math.Abs(tot.OthersCPUSec-0.3) > 1e-9 {
		t.Fatalf("totals: %+v", tot)
	}
	if tot.ServerCPUusPerOp != 11.47 { // (30+20+28)ms / 6800
		t.Fatalf("CPU per round trip %v; want 11.47", tot.ServerCPUusPerOp)
	}
	m := metricsOf(scenarioEcho)
	if f := figureOf(m[0], rs); f.value != 3000 || f.shown != "3000 (2800)" {
		t.Fatalf("round trips/s: %+v; want the best 3000, median 2800", f)
	}
	if f := figureOf(m[2], rs); f.value != 1000 || f.shown != "1000 (2000)" {
		t.Fatalf("p99: %+v; want the best 1000, median 2000", f)
	}
	if f := figureOf(m[3], rs); f.shown != "11.47" {
		t.Fatalf("CPU per round trip: %+v", f)
	}
	if f := figureOf(m[4], rs); f.shown != "100 SATURATED(3/3)" {
		t.Fatalf("load tool CPU: %+v; want a full core, saturated in every round", f)
	}
	b.ClientCPUSec = 0.5
	if f := figureOf(m[4], []result{b}); f.shown != "50" {
		t.Fatalf("load tool CPU: %+v; want half a core, not saturated", f)
	}
	if f := figureOf(m[5], rs); f.shown != "10.0" {
		t.Fatalf("others on server CPU: %+v; want 10%%", f)
	}
	if f := figureOf(m[0], nil); f.ok || f.shown != "-" {
		t.Fatalf("no runs: %+v", f)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	var lines bytes.Buffer
	for _, r := range []result{
		echoRun("native", 150, time.Millisecond), echoRun("compat", 100, time.Millisecond), echoRun("plain", 200, time.Millisecond),
		{Scenario: scenarioIdle, Server: "native", Transport: "websocket", Sessions: 10, Opened: 10, Alive: 10, KiBPerSession: 8},
		{Scenario: scenarioIdle, Server: "compat", Transport: "websocket", Sessions: 10, Opened: 10, Alive: 9, KiBPerSession: 16, Errors: 1},
		echoTrips("native", "xhr-polling", 1000, 52, 500), echoTrips("plainhttp", "xhr-polling", 1000, 40, 500),
		echoTrips("local", "xhr-polling", 1000, 60, 500), echoTrips("forwarded", "xhr-polling", 500, 120, 1500),
	} {
		if err := r.writeJSON(&lines); err != nil {
			t.Fatal(err)
		}
	}
	lines.WriteString("not a result line\n")
	file := filepath.Join(t.TempDir(), "results.jsonl")
	if err := os.WriteFile(file, lines.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
	var out bytes.Buffer
	if err := report([]string{file}, &out); err != nil {
		t.Fatal(err)
	}
	table := out.String()
	for _, want := range []string{"round trips/s", "150", "0.75x", "1.50x", "KiB/session (RSS)", "0.50x", "9/10", "1 (0)",
		"plain|plainhttp", "200.0 [plain]", "1000 [plainhttp]", "1.30x", "100 SATURATED(1/1)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if strings.Contains(table, "forwarded") || strings.Contains(table, "120.0") {
		t.Errorf("the native table shows the cluster's runs:\n%s", table)
	}
	out.Reset()
	if err := report([]string{"-subject", "forwarded", "-compat", "local", "-limit", "", file}, &out); err != nil {
		t.Fatal(err)
	}
	if cl := out.String(); !strings.Contains(cl, "forwarded/local") || strings.Contains(cl, "plain") ||
		!strings.Contains(cl, "0.50x") || !strings.Contains(cl, "2.00x") || strings.Count(cl, "\n") != 8 {
		t.Errorf("cluster table (forwarded against local, no limit columns):\n%s", cl)
	}
	out.Reset()
	if err := report([]string{"-targets", "-broadcast-sessions", "10", file}, &out); err != nil {
		t.Fatal(err)
	}
	if tg := out.String(); !strings.Contains(tg, "xhr-polling echo CPU/round trip") || !strings.Contains(tg, "1.30x") {
		t.Errorf("targets:\n%s", tg)
	}
	if err := report([]string{"-targets", "-broadcast-sessions", "10,x", file}, &out); err == nil {
		t.Error("-broadcast-sessions 10,x: want an error")
	}
	if err := report(nil, &out); err == nil {
		t.Error("report without files: want an error")
	}
}
