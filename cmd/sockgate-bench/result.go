package main

import (
	"encoding/json"
	"fmt"
	"io"
	"math"
	"strings"
	"time"
)

// result is one run, printed as one JSON line. Fields a scenario does not
// measure are left out; the errors are always there.
type result struct {
	Scenario  string  `json:"scenario"`
	Server    string  `json:"server"`
	Transport string  `json:"transport"`
	Sessions  int     `json:"sessions"`
	Size      int     `json:"size"`
	Seconds   float64 `json:"seconds"`

	// echo
	RoundTrips    int64   `json:"round_trips,omitempty"`
	RoundTripsSec float64 `json:"round_trips_per_s,omitempty"`
	P50us         float64 `json:"p50_us,omitempty"`
	P99us         float64 `json:"p99_us,omitempty"`

	// broadcast, saturation
	Rate       float64 `json:"rate,omitempty"`   // broadcast: messages/s
	Window     int     `json:"window,omitempty"` // saturation: in flight
	Subscribed int     `json:"subscribed,omitempty"`
	Messages   int     `json:"messages,omitempty"`
	Expected   int64   `json:"expected,omitempty"`
	Delivered  int64   `json:"delivered,omitempty"` // every measured delivery
	// Every subscriber should get every message once, in order: Lost is
	// expected minus the distinct deliveries, Duplicates a message a
	// subscriber got again, OutOfOrder one that came after a later one.
	Lost          int64   `json:"lost,omitempty"`
	Duplicates    int64   `json:"duplicates,omitempty"`
	OutOfOrder    int64   `json:"out_of_order,omitempty"`
	Fraction      float64 `json:"delivered_fraction,omitempty"` // distinct / expected
	DeliveriesSec float64 `json:"deliveries_per_s,omitempty"`   // first send to last delivery
	P50ms         float64 `json:"p50_ms,omitempty"`
	P99ms         float64 `json:"p99_ms,omitempty"`
	DeliverAllMs  float64 `json:"deliver_all_ms,omitempty"` // first send to last delivery
	TailMs        float64 `json:"tail_ms,omitempty"`        // last send to last delivery

	// idle
	Opened          int     `json:"opened,omitempty"`
	Alive           int     `json:"alive,omitempty"`
	RSSBeforeKiB    int64   `json:"rss_before_kib,omitempty"`
	RSSAfterKiB     int64   `json:"rss_after_kib,omitempty"`
	GoroutinesFrom  int64   `json:"goroutines_before,omitempty"`
	GoroutinesTo    int64   `json:"goroutines_after,omitempty"`
	KiBPerSession   float64 `json:"kib_per_session,omitempty"`
	GoroutinesPerSn float64 `json:"goroutines_per_session,omitempty"`
	// From go_memstats_heap_inuse_bytes and go_memstats_stack_inuse_bytes
	// when the server's /metrics has them: where the RSS goes.
	HeapKiBPerSn  float64 `json:"heap_kib_per_session,omitempty"`
	StackKiBPerSn float64 `json:"stack_kib_per_session,omitempty"`

	// CPU time the server and the load tool used while measuring (echo,
	// broadcast), and the server's per operation (a round trip, a
	// delivery). CPU per operation hardly changes when something else on
	// the machine takes CPU time, unlike throughput and latency.
	ServerCPUSec     float64 `json:"server_cpu_s,omitempty"`
	ClientCPUSec     float64 `json:"client_cpu_s,omitempty"`
	ServerCPUusPerOp float64 `json:"server_cpu_us_per_op,omitempty"`
	// OthersCPUSec is how long the server's CPUs were busy with something
	// else (other processes, interrupts) during the run: the noise. -1
	// when unknown (the server is not pinned apart from the load tool).
	OthersCPUSec float64 `json:"others_cpu_s"`
	// WireBytesPerOp is what the tool's websockets read per operation,
	// framing included, as it came over the wire (compressed or not).
	WireBytesPerOp float64 `json:"wire_bytes_per_op,omitempty"`

	Errors       int64             `json:"errors"`
	Spurious2010 int64             `json:"spurious_2010"`
	ErrorKinds   map[string]int64  `json:"error_kinds,omitempty"`
	ErrorSamples map[string]string `json:"error_samples,omitempty"`
}

func newResult(c config) result {
	r := result{Scenario: c.scenario, Server: c.server, Transport: c.transport, Sessions: c.sessions, Size: c.size}
	switch c.scenario {
	case scenarioBroadcast:
		r.Rate = c.rate
	case scenarioSaturation:
		r.Window = c.window
	}
	return r
}

// setCPU sets the CPU figures from what was used during ops operations.
func (r *result) setCPU(u cpuUse, ops int64) {
	r.ServerCPUSec = round(u.server.Seconds(), 3)
	r.ClientCPUSec = round(u.client.Seconds(), 3)
	if ops > 0 && u.server > 0 {
		r.ServerCPUusPerOp = round(float64(u.server)/float64(time.Microsecond)/float64(ops), 2)
	}
	if ops > 0 {
		r.WireBytesPerOp = round(float64(u.wire)/float64(ops), 1)
	}
	r.OthersCPUSec = -1
	if u.others >= 0 {
		r.OthersCPUSec = round(u.others.Seconds(), 3)
	}
}

// toolBusy is the share of one core the load tool used while measuring
// (0 when unknown).
func (r result) toolBusy() float64 {
	if r.Seconds <= 0 {
		return 0
	}
	return r.ClientCPUSec / r.Seconds
}

// saturated reports whether the load tool used nearly a full core: the
// rates of such a run are the tool's limit, not the server's.
func (r result) saturated() bool { return r.toolBusy() >= saturatedBusy }

// toolText describes the load tool's CPU for the summary line.
func (r result) toolText() string {
	if r.saturated() {
		return fmt.Sprintf(" (%.0f%% of a core: SATURATED)", 100*r.toolBusy())
	}
	return fmt.Sprintf(" (%.0f%% of a core)", 100*r.toolBusy())
}

// othersText describes OthersCPUSec for the summary line.
func (r result) othersText() string {
	if r.OthersCPUSec < 0 || r.Seconds <= 0 {
		return ""
	}
	return fmt.Sprintf("; others busy on the server's CPU %.0f%% of the time", 100*r.OthersCPUSec/r.Seconds)
}

// setErrors copies the error counts into r.
func (r *result) setErrors(e *errorCounter) {
	r.Errors = e.total.Load()
	r.Spurious2010 = e.spurious.Load()
	kinds, samples := e.snapshot()
	if len(kinds) > 0 {
		r.ErrorKinds, r.ErrorSamples = kinds, samples
	}
}

func micros(d time.Duration) float64 { return round(float64(d)/float64(time.Microsecond), 1) }
func millis(d time.Duration) float64 { return round(float64(d)/float64(time.Millisecond), 2) }

func round(v float64, digits int) float64 {
	p := math.Pow10(digits)
	return math.Round(v*p) / p
}

// writeJSON prints r as one line.
func (r result) writeJSON(w io.Writer) error {
	b, err := json.Marshal(r)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}

// human is the one-line summary.
func (r result) human() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s %s sessions=%d: ", r.Server, r.Scenario, r.Transport, r.Sessions)
	switch r.Scenario {
	case scenarioEcho:
		fmt.Fprintf(&b, "%.0f round trips/s (%d in %.1fs), p50 %.0fus, p99 %.0fus; CPU: server %.2fs (%.1fus/round trip), load tool %.2fs%s%s",
			r.RoundTripsSec, r.RoundTrips, r.Seconds, r.P50us, r.P99us, r.ServerCPUSec, r.ServerCPUusPerOp, r.ClientCPUSec, r.toolText(), r.othersText())
	case scenarioBroadcast, scenarioSaturation:
		fmt.Fprintf(&b, "%d messages, subscribed %d, delivered %d/%d (%.4f; lost %d, duplicates %d, out of order %d), %.0f deliveries/s, p50 %.1fms, p99 %.1fms, all delivered %.0fms after the first send (%.0fms after the last); CPU: server %.2fs (%.2fus/delivery), load tool %.2fs%s%s",
			r.Messages, r.Subscribed, r.Delivered, r.Expected, r.Fraction, r.Lost, r.Duplicates, r.OutOfOrder, r.DeliveriesSec, r.P50ms, r.P99ms,
			r.DeliverAllMs, r.TailMs, r.ServerCPUSec, r.ServerCPUusPerOp, r.ClientCPUSec, r.toolText(), r.othersText())
	case scenarioIdle:
		fmt.Fprintf(&b, "opened %d, alive %d after %.0fs; RSS %d -> %d KiB (%.2f KiB/session: heap %.2f, stacks %.2f), goroutines %d -> %d (%.2f/session)",
			r.Opened, r.Alive, r.Seconds, r.RSSBeforeKiB, r.RSSAfterKiB, r.KiBPerSession, r.HeapKiBPerSn, r.StackKiBPerSn,
			r.GoroutinesFrom, r.GoroutinesTo, r.GoroutinesPerSn)
	}
	fmt.Fprintf(&b, "; errors %d (spurious 2010: %d)", r.Errors, r.Spurious2010)
	return b.String()
}
