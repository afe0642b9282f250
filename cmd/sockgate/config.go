package main

import (
	"errors"
	"flag"
	"fmt"
	"strings"
	"time"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/gateway/upstream"
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
	wsCompress      bool
	wsCompressMin   int
	proxyIdle       time.Duration
	natsURL         string
	nodeID          string
	nodeHeartbeat   time.Duration
	version         bool
	logSessions     bool
	natsAuth        cluster.NATSAuth
	upstreams       upstreamList
	upstreamConnect time.Duration
	upstreamWrite   time.Duration
	upstreamCAFile  string
	upstreamHeaders string
	upstreamClaims  string
	identity        identityFlags
}

// helpError carries -help's text: main prints it to stdout and exits 0.
type helpError struct{ text string }

func (e helpError) Error() string { return e.text }

// parseConfig reads args (without the program name) and the environment.
func parseConfig(args []string, getenv func(string) string) (config, error) {
	return parseConfigFlags(args, getenv, nil)
}

// parseConfigFlags is parseConfig; seen, when set, gets the flag set once
// every flag is defined (the docs test lists them).
func parseConfigFlags(args []string, getenv func(string) string, seen func(*flag.FlagSet)) (config, error) {
	var c config
	fs := flag.NewFlagSet("sockgate", flag.ContinueOnError)
	fs.StringVar(&c.addr, "addr", gateway.DefaultAddr, "listen address")
	fs.StringVar(&c.engine, "engine", "native", "SockJS engine: native or sockjs-go (the compat engine)")
	fs.BoolVar(&c.conformance, "conformance", false, "mount the standard SockJS test-server services at the root instead of /echo and /chat")
	fs.StringVar(&c.logFormat, "log-format", "json", "log format: json or console")
	fs.StringVar(&c.logLevel, "log-level", "info", "log level: debug, info, warn, error")
	fs.DurationVar(&c.heartbeatDelay, "heartbeat-delay", gateway.DefaultHeartbeatDelay, "send a heartbeat frame after this long idle")
	fs.DurationVar(&c.disconnectDelay, "disconnect-delay", gateway.DefaultDisconnectDelay, "close a session nobody polls for this long")
	fs.IntVar(&c.responseLimit, "response-limit", gateway.DefaultResponseLimit, "bytes after which a streaming response ends and the client reconnects")
	fs.BoolVar(&c.disableWS, "disable-websocket", false, "turn off the websocket transports (clients fall back to HTTP)")
	fs.BoolVar(&c.cookieNeeded, "jsessionid", false, "JSESSIONID cookie mode, for cookie-sticky load balancers")
	fs.StringVar(&c.sockjsURL, "sockjs-url", "", "sockjs-client script for iframe pages (default: the embedded pinned build)")
	fs.IntVar(&c.maxMessageBytes, "max-message-bytes", gateway.DefaultMaxMessageBytes, "largest incoming message or send body, in bytes")
	fs.IntVar(&c.maxQueueBytes, "max-queue-bytes", gateway.DefaultMaxQueueBytes, "bytes queued for one client before it is closed as too slow (3008)")
	fs.DurationVar(&c.shutdownTimeout, "drain-timeout", gateway.DefaultShutdownTimeout, "how long a shutdown (SIGTERM) may drain sessions before exiting")
	fs.StringVar(&c.allowedOrigins, "allowed-origins", "", "comma-separated browser origins allowed: https://app.example.com, *.example.com, example.com, null, or * for all (default: the gateway's own host; * with -conformance)")
	fs.StringVar(&c.trustedProxies, "trusted-proxies", "", "comma-separated CIDRs of reverse proxies whose X-Forwarded-For / Forwarded headers are believed")
	fs.StringVar(&c.basePath, "base-path", "", "serve everything but /healthz and /readyz under this sub-path, e.g. /sockgate")
	fs.StringVar(&c.adminAddr, "admin-addr", "", "serve /metrics, /healthz and /readyz on this address instead of -addr")
	fs.BoolVar(&c.pprof, "pprof", false, "serve Go's profiler at /debug/pprof/ beside /metrics (keep it on a private -admin-addr)")
	fs.IntVar(&c.maxSessions, "max-sessions", gateway.DefaultMaxSessions, "open sessions in total before new ones get 503 (0: no bound)")
	fs.IntVar(&c.maxSessionsIP, "max-sessions-per-ip", gateway.DefaultMaxSessionsPerIP, "open sessions per client address before new ones get 503 (0: no bound)")
	fs.IntVar(&c.maxSessionID, "max-session-id-length", gateway.DefaultMaxSessionIDLength, "longest server or session id accepted in a URL")
	fs.IntVar(&c.maxConnsIP, "max-connections-per-ip", 2000, "open TCP connections per client address (IPv6 by /64) before new ones get 503 and are closed; trusted proxies are not counted (0: no bound)")
	fs.DurationVar(&c.bodyTimeout, "body-read-timeout", 10*time.Second, "how long a client may take to send a request body (xhr_send, jsonp_send) before it gets 408 and its connection is closed")
	fs.IntVar(&c.maxMsgRate, "max-messages-per-second", 0, "messages one client may send per second before it is closed with 3009 (0: no bound)")
	fs.BoolVar(&c.wsCompress, "websocket-compression", false, "permessage-deflate on the websocket endpoints for clients that offer it (native engine; no context takeover)")
	fs.IntVar(&c.wsCompressMin, "websocket-compression-min-bytes", gateway.DefaultWebsocketCompressionMinBytes, "with -websocket-compression: smaller websocket messages are sent uncompressed")
	fs.DurationVar(&c.proxyIdle, "proxy-idle-timeout", 0, "idle timeout of the reverse proxy in front; a warning is logged when the heartbeat delay is not shorter")
	fs.StringVar(&c.natsURL, "nats-url", "", "NATS server(s) with JetStream that join this node to others in one chat cluster, e.g. nats://127.0.0.1:4222 (empty: a single node)")
	fs.StringVar(&c.nodeID, "node-id", "", "this node's name in logs and on the cluster bus (default: hostname-pid)")
	fs.DurationVar(&c.nodeHeartbeat, "node-heartbeat", cluster.DefaultHeartbeat, "with -nats-url: how often this node tells the others it is alive; a node silent for 3 periods is taken as crashed and its chat members leave their rooms")
	fs.Var(&c.upstreams, "upstream", "PREFIX=URL: bridge SockJS sessions at PREFIX to the WebSocket backend at URL (ws:// or wss://), e.g. /ws/chat=ws://127.0.0.1:9000/ws/chat; repeatable (comma-separated in SOCKGATE_UPSTREAM)")
	fs.DurationVar(&c.upstreamConnect, "upstream-connect-timeout", upstream.DefaultConnectTimeout, "how long a bridged session's open frame waits for the backend to accept its WebSocket")
	fs.DurationVar(&c.upstreamWrite, "upstream-write-timeout", upstream.DefaultWriteTimeout, "how long one message may wait for a backend that does not read before the session closes with 3013")
	fs.StringVar(&c.upstreamCAFile, "upstream-ca-file", "", "PEM file of CA certificates trusted for wss:// backends, besides the system roots")
	fs.StringVar(&c.upstreamClaims, "upstream-claims", "", "comma-separated token claims passed to backends, each as X-Sockgate-Claim-<Name> (the subject always goes as X-Sockgate-User)")
	fs.StringVar(&c.upstreamHeaders, "upstream-headers", "", "comma-separated client request headers passed to backends besides Origin, Cookie, User-Agent and Accept-Language")
	fs.StringVar(&c.natsAuth.CredsFile, "nats-creds", "", "with -nats-url: NATS credentials file (user JWT and NKey seed, as nsc writes it)")
	fs.StringVar(&c.natsAuth.NkeyFile, "nats-nkey", "", "with -nats-url: file holding this node's NATS NKey user seed (SU...)")
	fs.StringVar(&c.natsAuth.CAFile, "nats-ca-file", "", "with -nats-url: PEM CA certificates that sign the NATS server's; turns TLS on")
	fs.StringVar(&c.natsAuth.CertFile, "nats-cert-file", "", "with -nats-url: PEM client certificate for a NATS server that verifies clients (with -nats-key-file)")
	fs.StringVar(&c.natsAuth.KeyFile, "nats-key-file", "", "with -nats-url: the key of -nats-cert-file")
	fs.BoolVar(&c.logSessions, "log-sessions", true, "log one info line when each session opens and one when it closes (false for very large deployments)")
	fs.BoolVar(&c.version, "version", false, "print the version and the commit it was built from, and exit")
	c.identity.register(fs)
	checkFlags(fs)
	if seen != nil {
		seen(fs)
	}
	if err := applyEnv(fs, getenv); err != nil {
		return c, usageError{err}
	}
	c.upstreams.fromEnv = len(c.upstreams.mounts) > 0
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			var b strings.Builder
			printUsage(&b, fs)
			return c, helpError{b.String()}
		}
		return c, parseError(err)
	}
	if c.allowedOrigins == "" && c.conformance {
		c.allowedOrigins = "*"
	}
	if c.nodeID == "" {
		c.nodeID = cluster.DefaultNodeID()
	}
	if len(c.upstreams.mounts) > 0 && c.upstreamConnect > c.disconnectDelay {
		return c, usageError{fmt.Errorf("-upstream-connect-timeout %v must not exceed -disconnect-delay %v: an HTTP transport's session would expire while its backend is dialled",
			c.upstreamConnect, c.disconnectDelay)}
	}
	if len(c.upstreams.mounts) > 0 && c.engine != "native" {
		return c, usageError{errors.New("-upstream needs -engine native (the open frame must wait for the backend)")}
	}
	if fs.NArg() > 0 {
		return c, usageError{fmt.Errorf("unexpected argument %q: every setting is a -flag (sockgate -help lists them)", fs.Arg(0))}
	}
	if err := c.validate(); err != nil {
		return c, usageError{err}
	}
	return c, nil
}

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
	if c.engine == "sockjs-go" && c.wsCompress {
		return errors.New("-websocket-compression is not supported by -engine sockjs-go: use the native engine or drop the flag")
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
