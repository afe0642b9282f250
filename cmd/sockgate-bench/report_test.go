package main

import (
	"bytes"
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
	r.setCPU(time.Duration(trips)*10*time.Microsecond, time.Second, trips)
	return r
}

func TestMergeRuns(t *testing.T) {
	t.Parallel()
	a := echoRun("native", 3000, time.Millisecond)
	b := echoRun("native", 1000, 9*time.Millisecond) // a disturbed round
	c := echoRun("native", 2800, 2*time.Millisecond)
	b.Errors, b.Spurious2010 = 2, 1
	b.ServerCPUSec *= 2
	m := mergeRuns([]result{a, b, c})
	if m.RoundTrips != 6800 || m.Seconds != 3 || m.Errors != 2 || m.Spurious2010 != 1 {
		t.Fatalf("merged counts: %+v", m)
	}
	if m.RoundTripsSec != 2800 || m.P99us != 2000 {
		t.Fatalf("merged rate %v, p99 %v; want the medians 2800 and 2000", m.RoundTripsSec, m.P99us)
	}
	if m.ServerCPUusPerOp != 11.47 { // (30+20+28)ms / 6800
		t.Fatalf("merged CPU per round trip %v; want 11.47", m.ServerCPUusPerOp)
	}
	idle := []result{{KiBPerSession: 9}, {KiBPerSession: 30}, {KiBPerSession: 10}}
	if got := mergeRuns(idle).KiBPerSession; got != 10 {
		t.Fatalf("median KiB/session = %v; want 10", got)
	}
}

func TestReport(t *testing.T) {
	t.Parallel()
	var lines bytes.Buffer
	for _, r := range []result{
		echoRun("native", 150, time.Millisecond), echoRun("compat", 100, time.Millisecond), echoRun("plain", 200, time.Millisecond),
		{Scenario: scenarioIdle, Server: "native", Transport: "websocket", Sessions: 10, Opened: 10, Alive: 10, KiBPerSession: 8},
		{Scenario: scenarioIdle, Server: "compat", Transport: "websocket", Sessions: 10, Opened: 10, Alive: 9, KiBPerSession: 16, Errors: 1},
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
	for _, want := range []string{"round trips/s", "150", "0.75x", "1.50x", "KiB/session (RSS)", "0.50x", "9/10", "1 (0)"} {
		if !strings.Contains(table, want) {
			t.Errorf("table lacks %q:\n%s", want, table)
		}
	}
	if err := report(nil, &out); err == nil {
		t.Error("report without files: want an error")
	}
}
