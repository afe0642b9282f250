package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sockgate/sockgate/session/cluster"
)

// config is every setting of the sockgate command, filled from flags and
// their SOCKGATE_* environment equivalents (flags win).
type config struct {
	addr            string
	engine          string
	conformance     bool
	logFormat       string
	logLevel        string
	heartbeatDelay  time.Duration
	disconnectDelay time.Duration
	responseLimit   int
	disableWS       bool
	cookieNeeded    bool
	sockjsURL       string
	maxMessageBytes int
	maxQueueBytes   int
	shutdownTimeout time.Duration
	allowedOrigins  string
	trustedProxies  string
	basePath        string
	adminAddr       string
	pprof           bool
	maxSessions     int
	maxSessionsIP   int
	maxSessionID    int
	maxConnsIP      int
	bodyTimeout     time.Duration
	maxMsgRate      int
	proxyIdle       time.Duration
	natsURL         string
	nodeID          string
	nodeHeartbeat   time.Duration
}

// parseConfig reads args (without the program name) and the environment.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	var c config
	fs := flag.NewFlagSet("sockgate", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", ":8080", "listen address")
	fs.StringVar(&c.engine, "engine", "native", "SockJS engine: native or sockjs-go (the compat engine)")
	fs.BoolVar(&c.conformance, "conformance", false, "mount the standard SockJS test-server services at the root instead of /echo and /chat")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.heartbeatDelay, "heartbeat-delay", 25*time.Second, "send a heartbeat frame after this long idle")
	fs.DurationVar(&c.disconnectDelay, "disconnect-delay", 5*time.Second, "close a session nobody polls for this long")
	fs.IntVar(&c.responseLimit, "response-limit", 128*1024, "bytes after which a streaming response ends and the client reconnects")
	fs.BoolVar(&c.disableWS, "disable-websocket", false, "turn off the websocket transports (clients fall back to HTTP)")
	fs.BoolVar(&c.cookieNeeded, "jsessionid", false, "JSESSIONID cookie mode, for cookie-sticky load balancers")
	fs.StringVar(&c.sockjsURL, "sockjs-url", "", "sockjs-client script for iframe pages (default: the embedded pinned build)")
	fs.IntVar(&c.maxMessageBytes, "max-message-bytes", 1<<20, "largest incoming message or send body, in bytes")
	fs.IntVar(&c.maxQueueBytes, "max-queue-bytes", 1<<20, "bytes queued for one client before it is closed as too slow (3008)")
	fs.DurationVar(&c.shutdownTimeout, "drain-timeout", 10*time.Second, "how long a shutdown (SIGTERM) may drain sessions before exiting")
	fs.StringVar(&c.allowedOrigins, "allowed-origins", "", "comma-separated browser origins allowed: https://app.example.com, *.example.com, example.com, null, or * for all (default: the gateway's own host; * with -conformance)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers are believed")
	fs.StringVar(&c.basePath, "base-path", "", "serve everything but /healthz and /readyz under this sub-path, e.g. /sockgate")
	fs.StringVar(&c.adminAddr, "admin-addr", "", "serve /metrics, /healthz and /readyz on this address instead of -addr")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ beside /metrics (keep it on a private -admin-addr)")
	fs.IntVar(&c.maxSessions, "max-sessions", 100000, "open sessions in total before new ones get 503 (0: no bound)")
	fs.IntVar(&c.maxSessionsIP, "max-sessions-per-ip", 1000, "open sessions per client address before new ones get 503 (0: no bound)")
	fs.IntVar(&c.maxConnsIP, "max-connections-per-ip", 2000, "open TCP connections per client address (IPv6 by /64) before new ones get 503 and are closed; trusted proxies are not counted (0: no bound)")
	fs.DurationVar(&c.bodyTimeout, "body-read-timeout", 10*time.Second, "how long a client may take to send a request body (xhr_send, jsonp_send) before it gets 408 and its connection is closed")
	fs.IntVar(&c.maxSessionID, "max-session-id-length", 128, "longest server or session id accepted in a URL")
	fs.IntVar(&c.maxMsgRate, "max-messages-per-second", 0, "messages one client may send per second before it is closed with 3009 (0: no bound)")
	fs.DurationVar(&c.proxyIdle, "proxy-idle-timeout", 0, "idle timeout of the reverse proxy in front; a warning is logged when the heartbeat delay is not shorter")
	fs.StringVar(&c.natsURL, "nats-url", "", "NATS server(s) with JetStream that join this node to others in one chat cluster, e.g. nats://127.0.0.1:4222 (empty: a single node)")
	fs.StringVar(&c.nodeID, "node-id", "", "this node's name in logs and on the cluster bus (default: hostname-pid)")
	fs.DurationVar(&c.nodeHeartbeat, "node-heartbeat", cluster.DefaultHeartbeat, "with -nats-url: how often this node tells the others it is alive; a node silent for 3 periods is taken as crashed and its chat members leave their rooms")
	if err := applyEnv(fs, getenv); err != nil {
		return c, err
	}
	if err := fs.Parse(args); err != nil {
		return c, err
	}
	if c.allowedOrigins == "" && c.conformance {
		c.allowedOrigins = "*"
	}
	if c.nodeID == "" {
		c.nodeID = cluster.DefaultNodeID()
	}
	if fs.NArg() > 0 {
		return c, fmt.Errorf("unexpected arguments: %v", fs.Args())
	}
	return c, c.validate()
}

// usageError is a command line the gateway refuses to start with: the
// command exits 2 after one line saying why.
type usageError struct{ err error }

func (e usageError) Error() string { return e.err.Error() }
func (e usageError) Unwrap() error { return e.err }

// validate refuses settings that would not do what they say: each error
// is one line naming the flag.
func (c config) validate() error {
	if c.bodyTimeout <= 0 {
		return errors.New("-body-read-timeout must be positive")
	}
	if c.pprof && c.adminAddr == "" {
		return errors.New("-pprof needs -admin-addr: the profiler (and the full command line) must not be served on the public listener")
	}
	if c.engine == "sockjs-go" && c.maxMsgRate > 0 {
		return errors.New("-max-messages-per-second is not supported by -engine sockjs-go: use the native engine or drop the flag")
	}
	return nil
}

// applyEnv sets each flag from SOCKGATE_<NAME> (dashes as underscores)
// when that variable is set.
func applyEnv(fs *flag.FlagSet, getenv func(string) string) error {
	var err error
	fs.VisitAll(func(f *flag.Flag) {
		name := "SOCKGATE_" + strings.ToUpper(strings.ReplaceAll(f.Name, "-", "_"))
		if v := getenv(name); v != "" && err == nil {
			if e := f.Value.Set(v); e != nil {
				err = fmt.Errorf("%s=%q: %w", name, v, e)
			}
		}
	})
	return err
}
