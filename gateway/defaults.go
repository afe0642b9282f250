package gateway

import (
	"os"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/session/engine"
)

// Defaults of Config and Service that the sockgate command shares: its
// flags default to these, so a Go program that leaves a field zero gets
// what the binary gets. The other defaults are DefaultResponseLimit,
// DefaultMaxMessageBytes, DefaultSockJSURL, DefaultShutdownTimeout and
// DefaultMaxSessionIDLength, beside the code that applies them.
const (
	// DefaultAddr is where Open listens when Config.Addr is empty.
	DefaultAddr = ":8080"
	// DefaultMaxSessions bounds open sessions when Config.MaxSessions is
	// zero.
	DefaultMaxSessions = 100000
	// DefaultMaxSessionsPerIP bounds open sessions per client address when
	// Config.MaxSessionsPerIP is zero.
	DefaultMaxSessionsPerIP = 1000
	// DefaultHeartbeatDelay is Service.HeartbeatDelay when zero.
	DefaultHeartbeatDelay = engine.DefaultHeartbeatDelay
	// DefaultDisconnectDelay is Service.DisconnectDelay when zero.
	DefaultDisconnectDelay = engine.DefaultDisconnectDelay
	// DefaultMaxQueueBytes is Service.MaxQueueBytes when zero.
	DefaultMaxQueueBytes = engine.DefaultMaxQueueBytes
)

// Unlimited, as Config.MaxSessions or Config.MaxSessionsPerIP, turns that
// bound off (zero means the default).
const Unlimited = -1

// limit resolves a bound: zero is def, Unlimited (any negative) is 0, which
// the limiter reads as no bound.
func limit(n, def int) int {
	switch {
	case n == 0:
		return def
	case n < 0:
		return 0
	}
	return n
}

// loggerOrStderr is log, or, when log discards errors (the zero Logger,
// zerolog.Nop()), a logger that writes errors to stderr, so that a
// handler's panic and its stack are never lost.
func loggerOrStderr(log zerolog.Logger) zerolog.Logger {
	if e := log.Error(); e != nil {
		e.Discard()
		return log
	}
	return zerolog.New(os.Stderr).Level(zerolog.ErrorLevel).With().Timestamp().Str("component", "sockgate").Logger()
}
