// Package gateway is sockgate's HTTP side: it mounts SockJS services, serves
// every SockJS transport for them (websocket, xhr-streaming, eventsource,
// htmlfile, xhr-polling, jsonp-polling, the iframe page and the raw
// websocket), and runs the server's lifecycle: origin policy, limits,
// metrics, health checks and the drain on shutdown.
//
// A program builds a Server from a Config with New, then either calls Open
// (the gateway listens on Config.Addr) or mounts Server.Handler in an
// http.ServeMux of its own; Close (or Shutdown) drains it in both cases.
// Each Service names a prefix and the application code behind it, in one
// of the two forms of package session: Events callbacks (no goroutine per
// session) or a Handler running in a goroutine per session.
//
// Zero values in Config and Service mean the defaults of the sockgate
// command (the Default* constants). The gateway serves the pinned
// sockjs-client build that its iframe pages load, so every transport,
// iframe ones included, works without Config.Static; Static only adds a
// page of your own (cmd/sockgate sets the chat page there).
//
// A Server is safe for concurrent use once built.
package gateway
