package main

import (
	"fmt"
	"io"
	"math"
	"strconv"
	"strings"
	"text/tabwriter"
)

// Server labels the targets table reads, as test/bench/run.sh gives them.
const (
	labelNative     = "native"
	labelPlainWS    = "plain"       // test/bench/plainws
	labelPlainHTTP  = "plainhttp"   // test/bench/plainhttp
	labelLocal      = "local"       // one cluster node serves every request
	labelForwarded  = "forwarded"   // requests alternate between two nodes
	labelDeflateOn  = "deflate-on"  // subscribers offer permessage-deflate
	labelDeflateOff = "deflate-off" // the same server, subscribers do not
)

// Target statuses.
const (
	statusMet    = "met"
	statusMissed = "missed"
	statusNotRun = "not run"
)

// selector picks the runs of one server in one group of results.
type selector struct {
	scenario, transport string
	sessions            int // 0: any; -1: more than one
	server              string
}

// manySessions is selector.sessions for runs with more than one session
// (a load, as opposed to the one-session latency runs).
const manySessions = -1

// runs returns the matching results.
func (s selector) runs(results []result) []result {
	var out []result
	for _, r := range results {
		if r.Scenario == s.scenario && r.Transport == s.transport && r.Server == s.server &&
			(s.sessions == 0 || r.Sessions == s.sessions || s.sessions == manySessions && r.Sessions > 1) {
			out = append(out, r)
		}
	}
	return out
}

// outcome is one evaluated target.
type outcome struct {
	measured string // the figures
	value    string // the ratio (or figure) compared with the bound
	status   string
	note     string // a saturated load tool, losses
}

// target is one target of issue 15 or 11.
type target struct {
	name string
	want string
	eval func(results []result) outcome
}

// ratioTarget compares metric m of subject with base's in one group: the
// ratio subject/base must be at most (or, with atLeast, at least) bound.
func ratioTarget(name string, subject, base selector, m metric, bound float64, atLeast bool) target {
	op := "<="
	if atLeast {
		op = ">="
	}
	return target{
		name: name,
		want: fmt.Sprintf("%s %s %.2fx %s", subject.server, op, bound, base.server),
		eval: func(results []result) outcome {
			sr, br := subject.runs(results), base.runs(results)
			if len(sr) == 0 || len(br) == 0 {
				return outcome{status: statusNotRun, measured: "-", value: "-"}
			}
			s, b := figureOf(m, sr), figureOf(m, br)
			o := outcome{measured: fmt.Sprintf("%s %s, %s %s", subject.server, formatNumber(s.value), base.server, formatNumber(b.value))}
			if b.value == 0 || s.value == 0 {
				o.value, o.status = "-", statusMissed
				o.note = "no figure"
				return o
			}
			r := s.value / b.value
			o.value = strconv.FormatFloat(r, 'f', 2, 64) + "x"
			ok := r <= bound
			if atLeast {
				ok = r >= bound
			}
			o.status = verdict(ok)
			o.note = saturationNote(sr, br)
			return o
		},
	}
}

// verdict is met or missed.
func verdict(ok bool) string {
	if ok {
		return statusMet
	}
	return statusMissed
}

// saturationNote names the servers whose runs had a saturated load tool.
func saturationNote(groups ...[]result) string {
	var names []string
	for _, rs := range groups {
		for _, r := range rs {
			if r.saturated() {
				names = append(names, r.Server)
				break
			}
		}
	}
	if len(names) == 0 {
		return ""
	}
	return "load tool saturated (" + strings.Join(names, ", ") + ")"
}

// withOrder adds to a saturation target: the subject must lose, duplicate
// and reorder nothing.
func withOrder(t target, subject selector) target {
	eval := t.eval
	t.want += ", none lost, order kept"
	t.eval = func(results []result) outcome {
		o := eval(results)
		if o.status == statusNotRun {
			return o
		}
		tot := totals(subject.runs(results))
		if tot.Lost+tot.Duplicates+tot.OutOfOrder > 0 {
			o.status = statusMissed
			o.note = strings.TrimPrefix(o.note+"; ", "; ") +
				fmt.Sprintf("%s lost %d, duplicated %d, out of order %d", subject.server, tot.Lost, tot.Duplicates, tot.OutOfOrder)
		}
		return o
	}
	return t
}

// idleTarget: memory per idle session of the native engine at most
// kib, from the run whose session count is closest to the issue's 9,000.
func idleTarget(transport string, kib float64) target {
	return target{
		name: "idle memory per " + transport + " session",
		want: fmt.Sprintf("<= %.1f KiB (RSS)", kib),
		eval: func(results []result) outcome {
			rs := selector{scenarioIdle, transport, 0, labelNative}.runs(results)
			if len(rs) == 0 {
				return outcome{status: statusNotRun, measured: "-", value: "-"}
			}
			best := rs[0]
			for _, r := range rs[1:] {
				if math.Abs(float64(r.Sessions-9000)) < math.Abs(float64(best.Sessions-9000)) {
					best = r
				}
			}
			return outcome{
				measured: fmt.Sprintf("%s KiB at %d sessions", formatNumber(best.KiBPerSession), best.Sessions),
				value:    formatNumber(best.KiBPerSession) + " KiB",
				status:   verdict(best.KiBPerSession > 0 && best.KiBPerSession <= kib),
			}
		},
	}
}

// holdTarget: n websocket sessions opened and all alive at the end of the
// hold (BENCH=full).
func holdTarget(n int) target {
	return target{
		name: fmt.Sprintf("%d websocket sessions held", n),
		want: "all open and alive (BENCH=full)",
		eval: func(results []result) outcome {
			var rs []result
			for _, r := range (selector{scenarioIdle, "websocket", 0, labelNative}).runs(results) {
				if r.Sessions >= n {
					rs = append(rs, r)
				}
			}
			if len(rs) == 0 {
				return outcome{status: statusNotRun, measured: "-", value: "-"}
			}
			t := totals(rs)
			return outcome{
				measured: fmt.Sprintf("%d opened, %d alive of %d", t.Opened, t.Alive, len(rs)*n),
				value:    fmt.Sprintf("%d", t.Alive),
				status:   verdict(t.Opened == len(rs)*n && t.Alive == t.Opened),
			}
		},
	}
}

// addedLatencyTarget: forwarded p50 minus local p50 (best rounds) under
// bound microseconds, from the runs with one session: the latency a
// forwarded request adds, not the queueing of a loaded server (forwarding
// costs more CPU, so under load it also waits longer).
func addedLatencyTarget(transport string, bound float64) target {
	m := metric{value: func(r result) float64 { return r.P50us }}
	return target{
		name: "forwarded " + transport + " echo: added p50 latency, 1 session",
		want: fmt.Sprintf("< %.0f us", bound),
		eval: func(results []result) outcome {
			f := selector{scenarioEcho, transport, 1, labelForwarded}.runs(results)
			l := selector{scenarioEcho, transport, 1, labelLocal}.runs(results)
			if len(f) == 0 || len(l) == 0 {
				return outcome{status: statusNotRun, measured: "-", value: "-"}
			}
			fv, lv := figureOf(m, f).value, figureOf(m, l).value
			added := fv - lv
			return outcome{
				measured: fmt.Sprintf("p50 forwarded %.0f us, local %.0f us", fv, lv),
				value:    fmt.Sprintf("%+.0f us", added),
				status:   verdict(fv > 0 && added < bound),
				note:     saturationNote(f, l),
			}
		},
	}
}

// targetSizes are the session counts the broadcast and saturation targets
// read: the issue's (2,000 and 5,000; 2,000), or a reduced run's.
type targetSizes struct {
	broadcast  []int
	saturation int
}

// issueSizes are issue 15's.
var issueSizes = targetSizes{broadcast: []int{2000, 5000}, saturation: 2000}

// count formats a session count as the issue does: 2,000.
func count(n int) string {
	s := strconv.Itoa(n)
	for i := len(s) - 3; i > 0; i -= 3 {
		s = s[:i] + "," + s[i:]
	}
	return s
}

// issueTargets are the targets of issue 15 (and issue 11's bench), in the
// order of the issues, at sizes. Compression targets go here too.
func issueTargets(sizes targetSizes) []target {
	cpu := metric{value: func(r result) float64 { return r.ServerCPUusPerOp }, total: true}
	p99 := metric{value: func(r result) float64 { return r.P99ms }}
	deliveries := metric{value: func(r result) float64 { return r.DeliveriesSec }, higher: true}
	trips := metric{value: func(r result) float64 { return r.RoundTripsSec }, higher: true}
	bc := func(n int, server string) selector { return selector{scenarioBroadcast, "websocket", n, server} }
	sat := func(server string) selector {
		return selector{scenarioSaturation, "websocket", sizes.saturation, server}
	}
	echo := func(transport, server string) selector {
		return selector{scenarioEcho, transport, manySessions, server}
	}
	wire := metric{value: func(r result) float64 { return r.WireBytesPerOp }}
	var ts []target
	for _, n := range sizes.broadcast {
		ts = append(ts, ratioTarget("broadcast CPU/delivery, "+count(n)+" websocket subscribers", bc(n, labelNative), bc(n, labelPlainWS), cpu, 0.8, false))
	}
	for _, n := range sizes.broadcast {
		ts = append(ts, ratioTarget("broadcast p99 delivery latency, "+count(n)+" subscribers", bc(n, labelNative), bc(n, labelPlainWS), p99, 1, false))
	}
	ts = append(ts,
		withOrder(ratioTarget("saturation deliveries/s, "+count(sizes.saturation)+" websocket subscribers", sat(labelNative), sat(labelPlainWS), deliveries, 1.5, true), sat(labelNative)),
		ratioTarget("xhr-polling echo CPU/round trip", echo("xhr-polling", labelNative), echo("xhr-polling", labelPlainHTTP), cpu, 1.3, false),
		ratioTarget("xhr-streaming echo CPU/round trip", echo("xhr-streaming", labelNative), echo("xhr-streaming", labelPlainHTTP), cpu, 1.3, false),
		ratioTarget("websocket echo CPU/round trip", echo("websocket", labelNative), echo("websocket", labelPlainWS), cpu, 1.15, false),
		idleTarget("websocket", 7.8),
		idleTarget("xhr-streaming", 14.7),
		holdTarget(15000),
		ratioTarget("forwarded xhr-polling echo round trips/s (#11)", echo("xhr-polling", labelForwarded), echo("xhr-polling", labelLocal), trips, 0.5, true),
		addedLatencyTarget("xhr-polling", 1000),
		ratioTarget("forwarded xhr-streaming echo round trips/s (#11)", echo("xhr-streaming", labelForwarded), echo("xhr-streaming", labelLocal), trips, 0.5, true),
		addedLatencyTarget("xhr-streaming", 1000),
	)
	if len(sizes.broadcast) > 0 {
		// permessage-deflate: chat-like JSON broadcast, compressed once for
		// every subscriber. The issue asks for the figures; the bounds are
		// ours: a clear saving on the wire for no more than a fifth more CPU.
		n := sizes.broadcast[0]
		ts = append(ts,
			ratioTarget("permessage-deflate bytes/delivery, chat JSON, "+count(n)+" subscribers", bc(n, labelDeflateOn), bc(n, labelDeflateOff), wire, 0.8, false),
			ratioTarget("permessage-deflate CPU/delivery, chat JSON, "+count(n)+" subscribers", bc(n, labelDeflateOn), bc(n, labelDeflateOff), cpu, 1.2, false),
		)
	}
	return ts
}

// writeTargets prints every target with its measured figures, the ratio
// compared and met / missed / not run.
func writeTargets(w io.Writer, sizes targetSizes, results []result) error {
	return writeTargetList(w, issueTargets(sizes), results)
}

func writeTargetList(w io.Writer, targets []target, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "target\twant\tmeasured\tvalue\tresult\tnote")
	met, missed := 0, 0
	for _, t := range targets {
		o := t.eval(results)
		switch o.status {
		case statusMet:
			met++
		case statusMissed:
			missed++
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", t.name, t.want, o.measured, o.value, o.status, o.note)
	}
	fmt.Fprintf(tw, "targets: %d met, %d missed, %d not run\n", met, missed, len(targets)-met-missed)
	return tw.Flush()
}
