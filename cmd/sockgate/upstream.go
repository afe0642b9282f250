package main

import (
	"context"
	"fmt"
	"strings"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/upstream"
)

// upstreamMount is one -upstream PREFIX=URL.
type upstreamMount struct {
	prefix, url string
}

// upstreamList is the repeatable -upstream flag. Each value may hold
// several comma-separated mounts (the SOCKGATE_UPSTREAM form); mounts given
// on the command line replace those from the environment.
type upstreamList struct {
	mounts  []upstreamMount
	fromEnv bool
}

// String implements flag.Value.
func (l *upstreamList) String() string {
	if l == nil {
		return ""
	}
	parts := make([]string, len(l.mounts))
	for i, m := range l.mounts {
		parts[i] = m.prefix + "=" + m.url
	}
	return strings.Join(parts, ",")
}

// Set implements flag.Value.
func (l *upstreamList) Set(v string) error {
	if l.fromEnv {
		l.mounts, l.fromEnv = nil, false
	}
	for _, item := range splitList(v) {
		prefix, u, ok := strings.Cut(item, "=")
		prefix, u = strings.TrimSpace(prefix), strings.TrimSpace(u)
		if !ok || prefix == "" || u == "" {
			return fmt.Errorf("want PREFIX=URL (e.g. /ws/chat=ws://127.0.0.1:9000/ws/chat), got %q", item)
		}
		if !strings.HasPrefix(prefix, "/") || prefix == "/" || strings.HasSuffix(prefix, "/") {
			return fmt.Errorf("prefix %q must start with / and not end with it", prefix)
		}
		for _, m := range l.mounts {
			if m.prefix == prefix {
				return fmt.Errorf("prefix %q given twice", prefix)
			}
		}
		l.mounts = append(l.mounts, upstreamMount{prefix: prefix, url: u})
	}
	return nil
}

// mountUpstreams adds a bridge service to gc for each -upstream, all
// counted by one upstream.Metrics served at /metrics. The bridges are
// returned so that the program can wait for their backend connections to
// close after the drain.
func mountUpstreams(cfg config, log zerolog.Logger, gc *gateway.Config) ([]*upstream.Bridge, error) {
	if len(cfg.upstreams.mounts) == 0 {
		return nil, nil
	}
	for _, sc := range gc.Services {
		for _, m := range cfg.upstreams.mounts {
			if sc.Prefix == m.prefix {
				return nil, fmt.Errorf("-upstream %s: the prefix is taken by a built-in service", m.prefix)
			}
		}
	}
	tlsCfg, err := upstream.SystemRootsWith(cfg.upstreamCAFile)
	if err != nil {
		return nil, fmt.Errorf("-upstream-ca-file: %w", err)
	}
	metrics := upstream.NewMetrics()
	gc.Collectors = append(gc.Collectors, metrics)
	base := serviceBase(cfg)
	var bridges []*upstream.Bridge
	for _, m := range cfg.upstreams.mounts {
		b, err := upstream.New(upstream.Config{
			URL:            m.url,
			Name:           m.prefix,
			ConnectTimeout: cfg.upstreamConnect,
			WriteTimeout:   cfg.upstreamWrite,
			HeartbeatDelay: cfg.heartbeatDelay,
			Headers:        splitList(cfg.upstreamHeaders),
			Claims:         splitList(cfg.upstreamClaims),
			TLS:            tlsCfg,
			Metrics:        metrics,
			Logger:         log,
		})
		if err != nil {
			return nil, fmt.Errorf("-upstream %s: %w", m.prefix, err)
		}
		gc.Services = append(gc.Services, b.Service(base, m.prefix))
		bridges = append(bridges, b)
	}
	return bridges, nil
}

// waitUpstreams waits for the bridges' backend connections to close after
// the drain.
func waitUpstreams(ctx context.Context, bridges []*upstream.Bridge, log zerolog.Logger) {
	for _, b := range bridges {
		if err := b.Wait(ctx); err != nil {
			log.Warn().Err(err).Msg("backend connections still open at exit")
		}
	}
}
