// Command sockgate runs the SockJS gateway: the chat page at /, the echo
// service at /echo and the chat service at /chat, or with -conformance the
// standard SockJS test-server services.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/services"
	"github.com/sockgate/sockgate/static"
)

func main() {
	err := run(os.Args[1:])
	if err != nil && !errors.Is(err, flag.ErrHelp) {
		fmt.Fprintln(os.Stderr, "sockgate:", err)
	}
	os.Exit(exitCode(err))
}

// exitCode is the command's exit status after run returned err: 0 for
// none (or -help), 2 for a command line it refuses, 1 for anything else.
func exitCode(err error) int {
	var usage usageError
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.As(err, &usage):
		return 2
	}
	return 1
}

func run(args []string) error {
	cfg, err := parseConfig(args, os.Getenv)
	if err != nil {
		return usageError{err}
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	bus, err := newBus(cfg, log)
	if err != nil {
		return err
	}
	defer func() {
		if err := bus.Close(); err != nil {
			log.Warn().Err(err).Msg("closing the cluster bus")
		}
	}()
	srv, err := gateway.New(gatewayConfig(cfg, log, bus))
	if err != nil {
		return err
	}
	if err := srv.Open(); err != nil {
		return err
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	<-ctx.Done()
	log.Info().Msg("signal received, draining")
	if err := srv.Close(); err != nil {
		log.Warn().Err(err).Msg("shutdown incomplete")
	}
	log.Info().Msg("stopped")
	return nil
}

func newLogger(cfg config) (zerolog.Logger, error) {
	level, err := zerolog.ParseLevel(cfg.logLevel)
	if err != nil {
		return zerolog.Nop(), fmt.Errorf("-log-level: %w", err)
	}
	var log zerolog.Logger
	switch cfg.logFormat {
	case "json":
		log = zerolog.New(os.Stderr)
	case "console":
		log = zerolog.New(zerolog.ConsoleWriter{Out: os.Stderr, TimeFormat: time.TimeOnly})
	default:
		return zerolog.Nop(), fmt.Errorf("-log-format: want json or console, got %q", cfg.logFormat)
	}
	return log.Level(level).With().Timestamp().Logger(), nil
}

// newBus is the chat's cluster bus: NATS with -nats-url, else in-process.
// It is closed after the gateway has drained, so that the leaves of the
// drained sessions still reach the other nodes.
func newBus(cfg config, log zerolog.Logger) (cluster.Bus, error) {
	if cfg.natsURL == "" || cfg.conformance {
		return cluster.Local(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cluster.DefaultConnectTimeout+cluster.DefaultRequestTimeout)
	defer cancel()
	return cluster.NATS(ctx, cfg.natsURL, cluster.NATSOptions{NodeID: cfg.nodeID, Logger: log, Heartbeat: cfg.nodeHeartbeat})
}

// gatewayConfig wires the command's config to the gateway's.
func gatewayConfig(cfg config, log zerolog.Logger, bus cluster.Bus) gateway.Config {
	base := gateway.Service{
		HeartbeatDelay:       cfg.heartbeatDelay,
		DisconnectDelay:      cfg.disconnectDelay,
		ResponseLimit:        cfg.responseLimit,
		DisableWebsocket:     cfg.disableWS,
		CookieNeeded:         cfg.cookieNeeded,
		SockJSURL:            cfg.sockjsURL,
		MaxMessageBytes:      cfg.maxMessageBytes,
		MaxQueueBytes:        cfg.maxQueueBytes,
		MaxMessagesPerSecond: cfg.maxMsgRate,
	}
	gc := gateway.Config{
		Addr:                cfg.addr,
		Engine:              cfg.engine,
		Logger:              log,
		ShutdownTimeout:     cfg.shutdownTimeout,
		Static:              static.Handler(),
		ClientScript:        static.Client(),
		AllowedOrigins:      splitList(cfg.allowedOrigins),
		TrustedProxies:      splitList(cfg.trustedProxies),
		BasePath:            cfg.basePath,
		AdminAddr:           cfg.adminAddr,
		Pprof:               cfg.pprof,
		MaxSessions:         cfg.maxSessions,
		MaxSessionsPerIP:    cfg.maxSessionsIP,
		MaxSessionIDLength:  cfg.maxSessionID,
		MaxConnectionsPerIP: cfg.maxConnsIP,
		BodyReadTimeout:     cfg.bodyTimeout,
		ProxyIdleTimeout:    cfg.proxyIdle,
	}
	if cfg.conformance {
		gc.Services = conformanceServices(base)
		return gc
	}
	chat := services.NewChat(services.ChatOptions{Bus: bus, NodeID: cfg.nodeID, Logger: log})
	gc.Services = []gateway.Service{
		withEvents(base, "/echo", services.EchoEvents),
		with(base, "/chat", chat.Handler),
	}
	return gc
}

// conformanceServices are the services of the standard SockJS test server.
func conformanceServices(base gateway.Service) []gateway.Service {
	echo := withEvents(base, "/echo", services.EchoEvents)
	echo.ResponseLimit = 4096
	noWS := withEvents(base, "/disabled_websocket_echo", services.EchoEvents)
	noWS.DisableWebsocket = true
	cookie := withEvents(base, "/cookie_needed_echo", services.EchoEvents)
	cookie.CookieNeeded = true
	return []gateway.Service{
		echo, noWS, cookie,
		with(base, "/close", services.CloseAtOnce),
		with(base, "/ticker", services.Ticker),
		with(base, "/amplify", services.Amplify),
		withEvents(base, "/broadcast", services.NewBroadcast().Events()),
	}
}

func with(base gateway.Service, prefix string, h func(context.Context, session.Session)) gateway.Service {
	base.Prefix = prefix
	base.Handler = h
	return base
}

func withEvents(base gateway.Service, prefix string, ev session.Events) gateway.Service {
	base.Prefix = prefix
	base.Events = ev
	return base
}

// splitList splits a comma-separated flag value, dropping empty items.
func splitList(s string) []string {
	var out []string
	for _, item := range strings.Split(s, ",") {
		if item = strings.TrimSpace(item); item != "" {
			out = append(out, item)
		}
	}
	return out
}
