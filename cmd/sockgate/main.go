// Command sockgate runs the SockJS gateway: the chat page at /, the echo
// service at /echo and the chat service at /chat, or with -conformance the
// standard SockJS test-server services.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/url"
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
	"github.com/sockgate/sockgate/session/services/testserver"
	"github.com/sockgate/sockgate/static"
)

func main() {
	os.Exit(exitCode(run(os.Args[1:]), os.Stdout, os.Stderr))
}

// exitCode prints how run ended and returns the exit status: 0 after -help
// or a clean stop, 2 for a bad flag or environment value, 1 otherwise
// (a broker that cannot be reached, a port already taken).
func exitCode(err error, stdout, stderr io.Writer) int {
	var help helpError
	var usage usageError
	switch {
	case err == nil:
		return 0
	case errors.As(err, &help):
		fmt.Fprint(stdout, help.text)
		return 0
	case errors.As(err, &usage):
		fmt.Fprintln(stderr, "sockgate:", err)
		return 2
	}
	fmt.Fprintln(stderr, "sockgate:", err)
	return 1
}

func run(args []string) error {
	cfg, err := parseConfig(args, os.Getenv)
	if err != nil {
		return usageError{err}
	}
	if cfg.version {
		fmt.Println(versionLine())
		return nil
	}
	log, err := newLogger(cfg)
	if err != nil {
		return err
	}
	bus, err := newBus(cfg, log)
	if err != nil {
		return err
	}
	logCluster(cfg, log)
	defer func() {
		if err := bus.Close(); err != nil {
			log.Warn().Err(err).Msg("closing the cluster bus")
		}
	}()
	gc := gatewayConfig(cfg, log, bus)
	if gc.Sessions, err = newSessions(cfg, bus); err != nil {
		return err
	}
	if gc.Sessions != nil {
		defer func() { _ = gc.Sessions.Close() }() // after the drain, before the bus
	}
	bridges, err := mountUpstreams(cfg, log, &gc)
	if err != nil {
		return usageError{err}
	}
	if err := cfg.identity.apply(&gc); err != nil {
		return usageError{err}
	}
	ctrl, err := newControl(bus, &gc)
	if err != nil {
		return err
	}
	srv, err := gateway.New(gc)
	if err != nil {
		return usageError{err}
	}
	if ctrl != nil {
		ctrl.Serve(srv)
		defer func() { _ = ctrl.Close() }()
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
	waitCtx, cancel := context.WithTimeout(context.Background(), upstreamCloseWait)
	defer cancel()
	waitUpstreams(waitCtx, bridges, log)
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

// newBus is the cluster bus: NATS with -nats-url, else in-process. It is
// closed after the gateway has drained, so that the leaves of the drained
// sessions still reach the other nodes.
func newBus(cfg config, log zerolog.Logger) (cluster.Bus, error) {
	if cfg.natsURL == "" {
		return cluster.Local(), nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cluster.DefaultConnectTimeout+cluster.DefaultRequestTimeout)
	defer cancel()
	return cluster.NATS(ctx, cfg.natsURL, cluster.NATSOptions{NodeID: cfg.nodeID, Logger: log, Heartbeat: cfg.nodeHeartbeat,
		Auth: cfg.natsAuth})
}

// logCluster says at start-up whether this node is alone or in a cluster.
func logCluster(cfg config, log zerolog.Logger) {
	if cfg.natsURL == "" || cfg.conformance {
		log.Info().Str("node", cfg.nodeID).Msg("single node (no -nats-url)")
		return
	}
	log.Info().Str("node", cfg.nodeID).Str("nats", redactURL(cfg.natsURL)).
		Dur("node_heartbeat", cfg.nodeHeartbeat).Msg("cluster node, joined through NATS")
}

// redactURL drops any user and password from a comma-separated URL list.
func redactURL(list string) string {
	var out []string
	for _, item := range splitList(list) {
		if u, err := url.Parse(item); err == nil && u.User != nil {
			u.User = nil
			item = u.String()
		}
		out = append(out, item)
	}
	return strings.Join(out, ",")
}

// newSessions makes every node's sessions reachable from every other node
// when the bus is NATS and the engine is native, so that no sticky
// balancing is needed; nil otherwise.
func newSessions(cfg config, bus cluster.Bus) (*cluster.Sessions, error) {
	nb, ok := bus.(*cluster.NATSBus)
	if !ok || cfg.engine != gateway.EngineNative {
		return nil, nil
	}
	ctx, cancel := context.WithTimeout(context.Background(), cluster.DefaultRequestTimeout)
	defer cancel()
	return cluster.NewSessions(ctx, nb, cluster.SessionsOptions{})
}

// gatewayConfig wires the command's config to the gateway's.
func gatewayConfig(cfg config, log zerolog.Logger, bus cluster.Bus) gateway.Config {
	base := serviceBase(cfg)
	gc := gateway.Config{
		Addr:                cfg.addr,
		Engine:              cfg.engine,
		Logger:              log,
		ShutdownTimeout:     cfg.shutdownTimeout,
		Static:              static.Handler(),
		AllowedOrigins:      splitList(cfg.allowedOrigins),
		TrustedProxies:      splitList(cfg.trustedProxies),
		BasePath:            cfg.basePath,
		AdminAddr:           cfg.adminAddr,
		Pprof:               cfg.pprof,
		MaxSessions:         orUnlimited(cfg.maxSessions),
		MaxSessionsPerIP:    orUnlimited(cfg.maxSessionsIP),
		MaxSessionIDLength:  cfg.maxSessionID,
		ProxyIdleTimeout:    cfg.proxyIdle,
		QuietSessions:       !cfg.logSessions,
		ClientScript:        static.Client(),
		MaxConnectionsPerIP: cfg.maxConnsIP,
		BodyReadTimeout:     cfg.bodyTimeout,
	}
	if cfg.conformance {
		gc.Services = conformanceServices(base, bus, log)
		return gc
	}
	chat := services.NewChat(services.ChatOptions{Bus: bus, NodeID: cfg.nodeID, Logger: log})
	gc.Chat = chatAPI{chat}
	gc.Services = []gateway.Service{
		withEvents(base, "/echo", services.EchoEvents),
		with(base, "/chat", chat.Handler),
	}
	return gc
}

// conformanceServices are the services of the standard SockJS test server.
// On a NATS bus, /broadcast reaches the members on every node.
func conformanceServices(base gateway.Service, bus cluster.Bus, log zerolog.Logger) []gateway.Service {
	broadcast := testserver.NewBroadcast()
	if nb, ok := bus.(*cluster.NATSBus); ok {
		if _, err := nb.Relay(broadcast.Room()); err != nil {
			log.Warn().Err(err).Msg("/broadcast reaches this node's members only")
		}
	}
	echo := withEvents(base, "/echo", services.EchoEvents)
	echo.ResponseLimit = 4096
	noWS := withEvents(base, "/disabled_websocket_echo", services.EchoEvents)
	noWS.DisableWebsocket = true
	cookie := withEvents(base, "/cookie_needed_echo", services.EchoEvents)
	cookie.CookieNeeded = true
	return []gateway.Service{
		echo, noWS, cookie,
		with(base, "/close", testserver.CloseAtOnce),
		with(base, "/ticker", testserver.Ticker),
		with(base, "/amplify", testserver.Amplify),
		withEvents(base, "/broadcast", broadcast.Events()),
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

// orUnlimited maps a limit flag's 0 ("no bound") to gateway.Unlimited (the
// gateway reads 0 as its default).
func orUnlimited(n int) int {
	if n == 0 {
		return gateway.Unlimited
	}
	return n
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

// upstreamCloseWait bounds the wait for bridged backend connections to
// close after the drain (each gets a close frame and up to a second to
// answer it).
const upstreamCloseWait = 2 * time.Second

// serviceBase is the per-service settings every mounted service shares.
func serviceBase(cfg config) gateway.Service {
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
	base.WebsocketCompression = cfg.wsCompress
	base.WebsocketCompressionMinBytes = cfg.wsCompressMin
	return base
}
