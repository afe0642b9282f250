package main

import (
	"bufio"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strconv"
	"strings"
	"text/tabwriter"
)

// reportOptions name the servers the table compares.
type reportOptions struct {
	subject string // the server measured, e.g. "native"
	limit   string // the plain baseline, e.g. "plain"
	compat  string // the engine to beat, e.g. "compat"
}

// report prints one table of the result lines in files ("-" is stdin).
func report(args []string, w io.Writer) error {
	var o reportOptions
	fs := flag.NewFlagSet("sockgate-bench report", flag.ContinueOnError)
	fs.StringVar(&o.subject, "subject", "native", "server label whose figures are compared")
	fs.StringVar(&o.limit, "limit", "plain", "server label of the plain baseline (the limit)")
	fs.StringVar(&o.compat, "compat", "compat", "server label of the compat engine")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if fs.NArg() == 0 {
		return fmt.Errorf("report: name at least one file of result lines (- for stdin)")
	}
	var results []result
	for _, name := range fs.Args() {
		rs, err := readResults(name)
		if err != nil {
			return err
		}
		results = append(results, rs...)
	}
	return writeTable(w, o, results)
}

func readResults(name string) ([]result, error) {
	var r io.Reader = os.Stdin
	if name != "-" {
		f, err := os.Open(name)
		if err != nil {
			return nil, fmt.Errorf("report: %w", err)
		}
		defer f.Close()
		r = f
	}
	var out []result
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 16<<20)
	for n := 1; sc.Scan(); n++ {
		line := strings.TrimSpace(sc.Text())
		if !strings.HasPrefix(line, "{") {
			continue
		}
		var res result
		if err := json.Unmarshal([]byte(line), &res); err != nil {
			return nil, fmt.Errorf("report: %s:%d: %w", name, n, err)
		}
		out = append(out, res)
	}
	return out, sc.Err()
}

// group is the runs of one scenario, transport and size, merged by server.
type group struct {
	scenario, transport string
	sessions            int
	runs                map[string][]result
	by                  map[string]result
}

func groupResults(results []result) []*group {
	var groups []*group
	index := map[string]*group{}
	for _, r := range results {
		key := r.Scenario + "/" + r.Transport + "/" + strconv.Itoa(r.Sessions)
		g := index[key]
		if g == nil {
			g = &group{scenario: r.Scenario, transport: r.Transport, sessions: r.Sessions, runs: map[string][]result{}}
			index[key] = g
			groups = append(groups, g)
		}
		g.runs[r.Server] = append(g.runs[r.Server], r)
	}
	for _, g := range groups {
		g.by = make(map[string]result, len(g.runs))
		for server, rs := range g.runs {
			g.by[server] = mergeRuns(rs)
		}
	}
	return groups
}

// mergeRuns combines the runs (rounds) of one server in one group: counts
// add up, CPU per operation is total CPU over total operations, and every
// other figure is the median of the rounds, so that a round disturbed by
// something else on the machine does not weigh.
func mergeRuns(rs []result) result {
	if len(rs) == 1 {
		return rs[0]
	}
	m := rs[0]
	for _, r := range rs[1:] {
		m.Seconds += r.Seconds
		m.RoundTrips += r.RoundTrips
		m.Expected += r.Expected
		m.Delivered += r.Delivered
		m.Subscribed += r.Subscribed
		m.Opened += r.Opened
		m.Alive += r.Alive
		m.Errors += r.Errors
		m.Spurious2010 += r.Spurious2010
		m.ServerCPUSec += r.ServerCPUSec
		m.ClientCPUSec += r.ClientCPUSec
	}
	if m.Expected > 0 {
		m.Fraction = round(float64(m.Delivered)/float64(m.Expected), 4)
	}
	if ops := m.RoundTrips + m.Delivered; ops > 0 && m.ServerCPUSec > 0 {
		m.ServerCPUusPerOp = round(m.ServerCPUSec*1e6/float64(ops), 2)
	}
	for _, f := range []func(*result) *float64{
		func(r *result) *float64 { return &r.RoundTripsSec },
		func(r *result) *float64 { return &r.P50us },
		func(r *result) *float64 { return &r.P99us },
		func(r *result) *float64 { return &r.P50ms },
		func(r *result) *float64 { return &r.P99ms },
		func(r *result) *float64 { return &r.TailMs },
		func(r *result) *float64 { return &r.DeliverAllMs },
		func(r *result) *float64 { return &r.KiBPerSession },
		func(r *result) *float64 { return &r.GoroutinesPerSn },
		func(r *result) *float64 { return &r.HeapKiBPerSn },
		func(r *result) *float64 { return &r.StackKiBPerSn },
	} {
		*f(&m) = median(rs, func(r result) float64 { return *f(&r) })
	}
	return m
}

func median(rs []result, f func(result) float64) float64 {
	v := make([]float64, len(rs))
	for i, r := range rs {
		v[i] = f(r)
	}
	sort.Float64s(v)
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
}

// metric is one row of a group: a number read from a result, compared
// across servers, or a text (counts) that is not.
type metric struct {
	name  string
	value func(result) float64
	text  func(result) string
}

func errorsText(r result) string { return fmt.Sprintf("%d (%d)", r.Errors, r.Spurious2010) }

func metricsOf(scenario string) []metric {
	errs := metric{name: "errors (spurious 2010)", text: errorsText}
	switch scenario {
	case scenarioEcho:
		return []metric{
			{name: "round trips/s", value: func(r result) float64 { return r.RoundTripsSec }},
			{name: "p50 latency us", value: func(r result) float64 { return r.P50us }},
			{name: "p99 latency us", value: func(r result) float64 { return r.P99us }},
			{name: "server CPU us/round trip", value: func(r result) float64 { return r.ServerCPUusPerOp }},
			errs,
		}
	case scenarioBroadcast:
		return []metric{
			{name: "delivered %", value: func(r result) float64 { return 100 * r.Fraction }},
			{name: "p50 delivery ms", value: func(r result) float64 { return r.P50ms }},
			{name: "p99 delivery ms", value: func(r result) float64 { return r.P99ms }},
			{name: "all delivered, ms after last send", value: func(r result) float64 { return r.TailMs }},
			{name: "server CPU us/delivery", value: func(r result) float64 { return r.ServerCPUusPerOp }},
			errs,
		}
	}
	return []metric{
		{name: "KiB/session (RSS)", value: func(r result) float64 { return r.KiBPerSession }},
		{name: "heap in use KiB/session", value: func(r result) float64 { return r.HeapKiBPerSn }},
		{name: "stacks KiB/session", value: func(r result) float64 { return r.StackKiBPerSn }},
		{name: "goroutines/session", value: func(r result) float64 { return r.GoroutinesPerSn }},
		{name: "alive/opened", text: func(r result) string { return fmt.Sprintf("%d/%d", r.Alive, r.Opened) }},
		errs,
	}
}

// cell formats one metric of one server's merged runs.
func cell(m metric, r result, ok bool) string {
	switch {
	case !ok:
		return "-"
	case m.text != nil:
		return m.text(r)
	}
	return formatNumber(m.value(r))
}

func formatNumber(v float64) string {
	switch {
	case v >= 1000:
		return strconv.FormatFloat(v, 'f', 0, 64)
	case v >= 100:
		return strconv.FormatFloat(v, 'f', 1, 64)
	}
	return strconv.FormatFloat(v, 'f', 2, 64)
}

// ratio formats subject/other for a metric, "-" when either is missing.
func ratio(m metric, subject, other result, okS, okO bool) string {
	if m.value == nil || !okS || !okO || m.value(other) == 0 {
		return "-"
	}
	return strconv.FormatFloat(m.value(subject)/m.value(other), 'f', 2, 64) + "x"
}

func writeTable(w io.Writer, o reportOptions, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	fmt.Fprintf(tw, "scenario\ttransport\tsessions\truns\tmetric\t%s\t%s\t%s\t%s/%s\t%s/%s\n",
		o.subject, o.compat, o.limit, o.subject, o.limit, o.subject, o.compat)
	for _, g := range groupResults(results) {
		s, okS := g.by[o.subject]
		c, okC := g.by[o.compat]
		l, okL := g.by[o.limit]
		for i, m := range metricsOf(g.scenario) {
			head := "\t\t\t\t"
			if i == 0 {
				head = fmt.Sprintf("%s\t%s\t%d\t%d\t", g.scenario, g.transport, g.sessions, len(g.runs[o.subject]))
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\n", head, m.name,
				cell(m, s, okS), cell(m, c, okC), cell(m, l, okL),
				ratio(m, s, l, okS, okL), ratio(m, s, c, okS, okC))
		}
	}
	return tw.Flush()
}
