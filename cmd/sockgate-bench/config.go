package main

import (
	"flag"
	"fmt"
	"io"
	"net/url"
	"strconv"
	"strings"
	"time"
)

// Scenarios.
const (
	scenarioEcho      = "echo"
	scenarioBroadcast = "broadcast"
	scenarioIdle      = "idle"
	// scenarioSaturation is a broadcast whose publisher keeps -window
	// messages in flight for -duration: as fast as the server delivers.
	scenarioSaturation = "saturation"
)

// saturatedBusy is the share of one core above which the load tool counts
// as saturated: its figures then measure the tool as much as the server.
const saturatedBusy = 0.9

// config is one run of the load tool.
type config struct {
	scenario    string
	baseURL     string // the service, e.g. http://127.0.0.1:8080/echo
	baseURL2    string // another node's same service: HTTP requests alternate
	transport   string
	server      string // a label copied into the result
	sessions    int
	size        int
	duration    time.Duration // echo, saturation
	messages    int           // broadcast
	rate        float64       // broadcast, messages per second
	window      int           // saturation, messages in flight
	hold        time.Duration // idle
	pids        []int         // the server's processes, for their CPU time; the first's VmRSS
	metricsURL  string        // go_goroutines
	timeout     time.Duration // bounds every wait
	sources     int           // source addresses; 0 picks by session count
	concurrency int           // dials in flight
	cpuProfile  string
}

func parseConfig(args []string, stderr io.Writer) (config, error) {
	var c config
	fs := flag.NewFlagSet("sockgate-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintln(stderr, "usage: sockgate-bench [flags]          run one scenario, print a JSON line (stdout) and a summary (stderr)")
		fmt.Fprintln(stderr, "       sockgate-bench report FILE...  print the comparison table of result lines")
		fs.PrintDefaults()
	}
	fs.StringVar(&c.scenario, "scenario", scenarioEcho, "echo, broadcast, saturation or idle")
	fs.StringVar(&c.baseURL, "url", "http://127.0.0.1:8080/echo", "service URL (echo and idle: an echo service; broadcast, saturation: a broadcast service)")
	fs.StringVar(&c.baseURL2, "url2", "", "the same service on a second node: each session's HTTP requests alternate between -url and -url2 (the session opens on -url), so that half are forwarded")
	fs.StringVar(&c.transport, "transport", "websocket", "websocket, raw-websocket, xhr-streaming, xhr-polling, eventsource, htmlfile or jsonp-polling")
	fs.StringVar(&c.server, "server", "server", "label of the server under test, copied into the result (native, compat, plain)")
	fs.IntVar(&c.sessions, "sessions", 0, "sessions (default: echo 50; broadcast 5000 on websockets, 1000 otherwise; idle 10000)")
	fs.IntVar(&c.size, "size", 64, "message size in bytes")
	fs.DurationVar(&c.duration, "duration", 10*time.Second, "echo: how long to run; saturation: how long to publish")
	fs.IntVar(&c.messages, "messages", 0, "broadcast: messages to publish (default: 10 seconds' worth at -rate)")
	fs.Float64Var(&c.rate, "rate", 10, "broadcast: messages published per second")
	fs.IntVar(&c.window, "window", 8, "saturation: messages in flight; the publisher, also a subscriber, sends the next when one of its own comes back")
	fs.DurationVar(&c.hold, "hold", 5*time.Second, "idle: how long to hold the sessions open before measuring")
	fs.Func("pid", "the server's process id: its CPU time (echo, broadcast) and VmRSS (idle) are read from /proc/<pid>; repeat it (or give a comma list) for a server of several processes, whose CPU times are added up", func(v string) error {
		pids, err := parsePIDs(v)
		c.pids = append(c.pids, pids...)
		return err
	})
	fs.StringVar(&c.metricsURL, "metrics-url", "", "idle: where go_goroutines is read (default: /metrics on the -url host)")
	fs.DurationVar(&c.timeout, "timeout", 10*time.Second, "bound of every wait: a dial, an echo, a send, the last broadcast deliveries")
	fs.IntVar(&c.sources, "sources", 0, "source addresses 127.0.0.1, .2, ... to spread connections over, for a loopback server (default: 1 + sessions/10,000)")
	fs.IntVar(&c.concurrency, "dial-concurrency", 200, "sessions being opened at once")
	fs.StringVar(&c.cpuProfile, "cpuprofile", "", "write the load tool's CPU profile to this file")
	wsFlags(fs)
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.resolve()
}

// resolve fills the defaults that depend on other settings and checks.
func (c *config) resolve() error {
	switch c.scenario {
	case scenarioEcho, scenarioBroadcast, scenarioSaturation, scenarioIdle:
	default:
		return fmt.Errorf("-scenario %q: want echo, broadcast, saturation or idle", c.scenario)
	}
	if c.baseURL2 != "" && (c.transport == "websocket" || c.transport == "raw-websocket") {
		return fmt.Errorf("-url2: a websocket is one connection to one node; want an HTTP transport, not %s", c.transport)
	}
	if c.window < 1 {
		return fmt.Errorf("-window must be positive, not %d", c.window)
	}
	if c.sessions <= 0 {
		c.sessions = defaultSessions(c.scenario, c.transport)
	}
	if c.rate <= 0 || c.size < 1 || c.timeout <= 0 || c.concurrency < 1 {
		return fmt.Errorf("-rate, -size, -timeout and -dial-concurrency must be positive")
	}
	if c.messages <= 0 {
		c.messages = int(10 * c.rate)
	}
	if c.sources <= 0 {
		c.sources = 1 + c.sessions/10000
	}
	if c.metricsURL == "" {
		u, err := url.Parse(c.baseURL)
		if err != nil {
			return fmt.Errorf("-url: %w", err)
		}
		c.metricsURL = u.Scheme + "://" + u.Host + "/metrics"
	}
	return nil
}

func defaultSessions(scenario, transport string) int {
	switch scenario {
	case scenarioBroadcast, scenarioSaturation:
		if transport == "websocket" || transport == "raw-websocket" {
			return 5000
		}
		return 1000
	case scenarioIdle:
		return 10000
	}
	return 50
}

// parsePIDs reads a comma list of process ids.
func parsePIDs(v string) ([]int, error) {
	var pids []int
	for _, f := range strings.Split(v, ",") {
		pid, err := strconv.Atoi(strings.TrimSpace(f))
		if err != nil || pid <= 0 {
			return nil, fmt.Errorf("want a positive process id, not %q", f)
		}
		pids = append(pids, pid)
	}
	return pids, nil
}
