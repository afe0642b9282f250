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
	subject string   // the server measured, e.g. "native"
	limits  []string // the plain baselines, e.g. "plain", "plainhttp": the first with runs in a group
	compat  string   // the engine to beat, e.g. "compat"
	targets bool     // print the targets of issues 15 and 11 instead
	sizes   targetSizes
}

// report prints one table of the result lines in files ("-" is stdin).
func report(args []string, w io.Writer) error {
	var o reportOptions
	fs := flag.NewFlagSet("sockgate-bench report", flag.ContinueOnError)
	fs.StringVar(&o.subject, "subject", "native", "server label whose figures are compared")
	limits := fs.String("limit", "plain,plainhttp", "server labels of the plain baselines (the limit), comma-separated: a group compares with the first that has runs in it")
	fs.StringVar(&o.compat, "compat", "compat", "server label of the compat engine")
	fs.BoolVar(&o.targets, "targets", false, "print the targets table (every target of issues 15 and 11, met or missed) instead of the comparison")
	var issueBC []string
	for _, n := range issueSizes.broadcast {
		issueBC = append(issueBC, strconv.Itoa(n))
	}
	bcSizes := fs.String("broadcast-sessions", strings.Join(issueBC, ","), "-targets: the websocket broadcast sizes the broadcast targets read (the issue's: 2000,5000)")
	fs.IntVar(&o.sizes.saturation, "saturation-sessions", issueSizes.saturation, "-targets: the saturation size the saturation target reads (the issue's: 2000)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	o.limits = nil
	if *limits != "" {
		o.limits = strings.Split(*limits, ",")
	}
	for _, f := range strings.Split(*bcSizes, ",") {
		n, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || n <= 0 {
			return fmt.Errorf("report: -broadcast-sessions %q: want a comma list of session counts", *bcSizes)
		}
		o.sizes.broadcast = append(o.sizes.broadcast, n)
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
	if o.targets {
		return writeTargets(w, o.sizes, results)
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

// group is the runs of one scenario, transport and size, by server.
type group struct {
	scenario, transport string
	sessions            int
	runs                map[string][]result
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
	return groups
}

// totals adds up the counts of several runs (rounds) of one server.
func totals(rs []result) result {
	m := rs[0]
	for _, r := range rs[1:] {
		m.Seconds += r.Seconds
		m.RoundTrips += r.RoundTrips
		m.Expected += r.Expected
		m.Delivered += r.Delivered
		m.Opened += r.Opened
		m.Alive += r.Alive
		m.ClientCPUSec += r.ClientCPUSec
		m.Messages += r.Messages
		m.Lost += r.Lost
		m.Duplicates += r.Duplicates
		m.OutOfOrder += r.OutOfOrder
		m.Errors += r.Errors
		m.Spurious2010 += r.Spurious2010
		m.ServerCPUSec += r.ServerCPUSec
		if m.OthersCPUSec < 0 || r.OthersCPUSec < 0 {
			m.OthersCPUSec = -1 // unknown for one round: unknown
		} else {
			m.OthersCPUSec += r.OthersCPUSec
		}
	}
	if m.Expected > 0 {
		m.Fraction = round(float64(m.Expected-m.Lost)/float64(m.Expected), 4)
	}
	if ops := m.RoundTrips + m.Delivered; ops > 0 && m.ServerCPUSec > 0 {
		m.ServerCPUusPerOp = round(m.ServerCPUSec*1e6/float64(ops), 2)
	}
	return m
}

// metric is one row of a group. A per-round figure (round trips/s, a
// latency) is shown as the best round and, with several rounds, the median
// one; something else running on the machine only ever makes a round
// worse. A total (CPU per operation, delivered fraction) is read from the
// rounds added up. Text rows (counts) are not compared.
type metric struct {
	name   string
	value  func(result) float64
	higher bool // per-round: a higher value is better
	total  bool // read from the rounds added up
	text   func(result) string
	rounds func([]result) string // a text from the rounds themselves
}

func errorsText(r result) string { return fmt.Sprintf("%d (%d)", r.Errors, r.Spurious2010) }

// othersText is how busy the server's CPU was with anything else, in
// percent of the time: the noise in the figures above it.
func othersText(r result) string {
	if r.OthersCPUSec < 0 || r.Seconds <= 0 {
		return "-"
	}
	return strconv.FormatFloat(100*r.OthersCPUSec/r.Seconds, 'f', 1, 64)
}

// toolText is the load tool's CPU in percent of one core over the rounds,
// marked when it was saturated in any of them: then the rates of the
// column are the tool's limit, not the server's.
func toolText(rs []result) string {
	t := totals(rs)
	s := strconv.FormatFloat(100*t.toolBusy(), 'f', 0, 64)
	n := 0
	for _, r := range rs {
		if r.saturated() {
			n++
		}
	}
	if n > 0 {
		s += fmt.Sprintf(" SATURATED(%d/%d)", n, len(rs))
	}
	return s
}

// orderText is lost / duplicated / out-of-order deliveries.
func orderText(r result) string {
	return fmt.Sprintf("%d/%d/%d", r.Lost, r.Duplicates, r.OutOfOrder)
}

func metricsOf(scenario string) []metric {
	errs := metric{name: "errors (spurious 2010)", text: errorsText}
	others := metric{name: "others on server CPU %", text: othersText}
	tool := metric{name: "load tool CPU % of a core", rounds: toolText}
	order := metric{name: "lost/duplicated/out of order", text: orderText}
	cpuPerDelivery := metric{name: "server CPU us/delivery", value: func(r result) float64 { return r.ServerCPUusPerOp }, total: true}
	switch scenario {
	case scenarioEcho:
		return []metric{
			{name: "round trips/s", value: func(r result) float64 { return r.RoundTripsSec }, higher: true},
			{name: "p50 latency us", value: func(r result) float64 { return r.P50us }},
			{name: "p99 latency us", value: func(r result) float64 { return r.P99us }},
			{name: "server CPU us/round trip", value: func(r result) float64 { return r.ServerCPUusPerOp }, total: true},
			tool, others, errs,
		}
	case scenarioBroadcast:
		return []metric{
			{name: "deliveries/s", value: func(r result) float64 { return r.DeliveriesSec }, higher: true},
			{name: "delivered %", value: func(r result) float64 { return 100 * r.Fraction }, total: true},
			order,
			{name: "p50 delivery ms", value: func(r result) float64 { return r.P50ms }},
			{name: "p99 delivery ms", value: func(r result) float64 { return r.P99ms }},
			{name: "all delivered, ms after last send", value: func(r result) float64 { return r.TailMs }},
			cpuPerDelivery, tool, others, errs,
		}
	case scenarioSaturation:
		return []metric{
			{name: "deliveries/s", value: func(r result) float64 { return r.DeliveriesSec }, higher: true},
			{name: "delivered %", value: func(r result) float64 { return 100 * r.Fraction }, total: true},
			order,
			{name: "messages published", text: func(r result) string { return strconv.Itoa(r.Messages) }},
			{name: "p50 delivery ms", value: func(r result) float64 { return r.P50ms }},
			{name: "p99 delivery ms", value: func(r result) float64 { return r.P99ms }},
			cpuPerDelivery, tool, others, errs,
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

// figure is one metric of one server: the value compared, and how it is
// shown.
type figure struct {
	value float64
	shown string
	ok    bool // a number to compare
}

func figureOf(m metric, rs []result) figure {
	switch {
	case len(rs) == 0:
		return figure{shown: "-"}
	case m.rounds != nil:
		return figure{shown: m.rounds(rs)}
	case m.text != nil:
		return figure{shown: m.text(totals(rs))}
	case m.total:
		v := m.value(totals(rs))
		return figure{value: v, shown: formatNumber(v), ok: true}
	}
	vals := make([]float64, len(rs))
	for i, r := range rs {
		vals[i] = m.value(r)
	}
	sort.Float64s(vals)
	best := vals[0]
	if m.higher {
		best = vals[len(vals)-1]
	}
	f := figure{value: best, shown: formatNumber(best), ok: true}
	if len(vals) > 1 {
		f.shown += " (" + formatNumber(median(vals)) + ")"
	}
	return f
}

// median of sorted values.
func median(v []float64) float64 {
	if len(v)%2 == 1 {
		return v[len(v)/2]
	}
	return (v[len(v)/2-1] + v[len(v)/2]) / 2
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

// ratio formats a/b, "-" when either is missing.
func ratio(a, b figure) string {
	if !a.ok || !b.ok || b.value == 0 {
		return "-"
	}
	return strconv.FormatFloat(a.value/b.value, 'f', 2, 64) + "x"
}

// limitOf is the first of the limits with runs in g ("" when none).
func (o reportOptions) limitOf(g *group) string {
	for _, l := range o.limits {
		if len(g.runs[l]) > 0 {
			return l
		}
	}
	return ""
}

func writeTable(w io.Writer, o reportOptions, results []result) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', 0)
	limit := strings.Join(o.limits, "|")
	if limit == "" { // no limit columns
		fmt.Fprintf(tw, "scenario\ttransport\tsessions\trounds\tmetric\t%s\t%s\t%s/%s\n", o.subject, o.compat, o.subject, o.compat)
	} else {
		fmt.Fprintf(tw, "scenario\ttransport\tsessions\trounds\tmetric\t%s\t%s\t%s\t%s/%s\t%s/%s\n",
			o.subject, o.compat, limit, o.subject, limit, o.subject, o.compat)
	}
	for _, g := range groupResults(results) {
		if len(g.runs[o.subject]) == 0 {
			continue // another table's
		}
		lim := o.limitOf(g)
		for i, m := range metricsOf(g.scenario) {
			head := "\t\t\t\t"
			if i == 0 {
				head = fmt.Sprintf("%s\t%s\t%d\t%d\t", g.scenario, g.transport, g.sessions, len(g.runs[o.subject]))
			}
			s := figureOf(m, g.runs[o.subject])
			c := figureOf(m, g.runs[o.compat])
			l := figureOf(m, g.runs[lim])
			if i == 0 && lim != "" && len(o.limits) > 1 {
				l.shown += " [" + lim + "]"
			}
			if limit == "" {
				fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\n", head, m.name, s.shown, c.shown, ratio(s, c))
				continue
			}
			fmt.Fprintf(tw, "%s%s\t%s\t%s\t%s\t%s\t%s\n", head, m.name, s.shown, c.shown, l.shown, ratio(s, l), ratio(s, c))
		}
	}
	return tw.Flush()
}
