// Command sockgate-bench is the load tool of make bench. It speaks the
// client side of SockJS (websocket, xhr-streaming, xhr-polling, eventsource,
// and the raw websocket endpoint) and runs one scenario per invocation:
//
//   - echo: every session sends a message, waits for its echo, repeats;
//     round trips per second and latency.
//   - broadcast: subscribers on a broadcast service, one publisher sending
//     timestamped messages at a fixed rate; delivered fraction and delivery
//     latency.
//   - saturation: a broadcast whose publisher keeps a window of messages in
//     flight, sending the next when one of its own comes back, for a
//     duration; deliveries per second, every delivery counted (lost,
//     duplicated, out of order per subscriber).
//   - idle: sessions opened and held; the server's resident memory
//     (/proc/<pid>/status VmRSS) and goroutines (go_goroutines of /metrics)
//     per session.
//
// Each run prints one JSON line on stdout and a summary on stderr, with
// every error counted by kind (a c[2010,...] close is a "spurious 2010").
// "sockgate-bench report FILE..." turns result lines into the comparison
// table of BENCHMARKS.md.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"runtime/pprof"
	"syscall"
)

func main() {
	if err := run(os.Args[1:], os.Stdout, os.Stderr); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			os.Exit(0)
		}
		fmt.Fprintln(os.Stderr, "sockgate-bench:", err)
		os.Exit(1)
	}
}

func run(args []string, stdout, stderr io.Writer) error {
	if len(args) > 0 && args[0] == "report" {
		return report(args[1:], stdout)
	}
	c, err := parseConfig(args, stderr)
	if err != nil {
		return err
	}
	if err := raiseFileLimit(); err != nil {
		fmt.Fprintln(stderr, "sockgate-bench: warning:", err)
	}
	if c.cpuProfile != "" {
		stop, err := startProfile(c.cpuProfile)
		if err != nil {
			return err
		}
		defer stop()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	r, err := runScenario(ctx, c)
	if err != nil {
		return err
	}
	if err := r.writeJSON(stdout); err != nil {
		return err
	}
	fmt.Fprintln(stderr, r.human())
	for _, l := range errorLines(r.ErrorKinds, r.ErrorSamples) {
		fmt.Fprintln(stderr, "  error", l)
	}
	return ctx.Err()
}

// runScenario runs the configured scenario.
func runScenario(ctx context.Context, c config) (result, error) {
	d, err := newDialer(c.baseURL, c.baseURL2, c.transport, c.sources)
	if err != nil {
		return result{}, err
	}
	var r result
	switch c.scenario {
	case scenarioEcho:
		r = runEcho(ctx, c, d)
	case scenarioBroadcast, scenarioSaturation:
		r = runBroadcast(ctx, c, d)
	default:
		r = runIdle(ctx, c, d)
	}
	return r, nil
}

// raiseFileLimit raises the soft limit of open files to the hard one: every
// session holds at least one connection.
func raiseFileLimit() error {
	var l syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("open files limit: %w", err)
	}
	if l.Cur >= l.Max {
		return nil
	}
	l.Cur = l.Max
	if err := syscall.Setrlimit(syscall.RLIMIT_NOFILE, &l); err != nil {
		return fmt.Errorf("raise the open files limit to %d: %w", l.Max, err)
	}
	return nil
}

func startProfile(path string) (func(), error) {
	f, err := os.Create(path)
	if err != nil {
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		f.Close()
		return nil, fmt.Errorf("-cpuprofile: %w", err)
	}
	return func() {
		pprof.StopCPUProfile()
		f.Close()
	}, nil
}
