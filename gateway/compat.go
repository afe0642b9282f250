package gateway

import (
	"net/http"

	"github.com/rs/zerolog"

	"github.com/sockgate/sockgate/gateway/compat"
	"github.com/sockgate/sockgate/session"
)

// newCompatService serves sc with the compat engine (igm/sockjs-go). Options
// it has no equivalent for (message and queue bounds) do not apply there.
func newCompatService(sc Service, log zerolog.Logger) http.Handler {
	url := sc.SockJSURL
	if url == "" {
		url = DefaultSockJSURL
	}
	return compat.New(compat.Options{
		Prefix:             sc.Prefix,
		HeartbeatDelay:     sc.HeartbeatDelay,
		DisconnectDelay:    sc.DisconnectDelay,
		ResponseLimit:      sc.ResponseLimit,
		Websocket:          !sc.DisableWebsocket,
		RawWebsocket:       !sc.DisableWebsocket && !sc.DisableRawWebsocket,
		CookieNeeded:       sc.CookieNeeded,
		DisabledTransports: sc.DisabledTransports,
		SockJSURL:          url,
		Logger:             log.With().Str("service", sc.Prefix).Str("engine", EngineSockJSGo).Logger(),
	}, handlerOf(sc))
}

// handlerOf is the service's code as a session.Handler.
func handlerOf(sc Service) session.Handler {
	if sc.Events != nil {
		return session.EventsHandler(sc.Events)
	}
	return sc.Handler
}
