package session

import (
	"net/http"
	"net/netip"
	"net/url"
)

// Request is what the HTTP request that opened a session told about its
// client. Services read it through Session.Request to authenticate, log or
// route; the gateway fills it once, before the service sees the session, and
// nobody changes it afterwards.
type Request struct {
	// RemoteAddr is the client's address, after the gateway's trusted
	// proxies (X-Forwarded-For, Forwarded) are taken into account.
	RemoteAddr netip.Addr
	// Header is a copy of the opening request's headers (Cookie,
	// User-Agent, Accept-Language, Origin, ...).
	Header http.Header
	// Query is the opening request's query: sockjs-client keeps the query
	// of the SockJS URL on every transport request. When the gateway
	// verifies tokens, the "token" parameter is taken out: it is a
	// credential, and User holds what it proves.
	Query url.Values
	// Host is the host the client asked for (X-Forwarded-Host from a
	// trusted proxy, else Host).
	Host string
	// Secure tells whether the client reached the gateway over TLS (or a
	// trusted proxy says it did).
	Secure bool
	// User is the authenticated identity, from the token the gateway
	// verified; nil when the session is anonymous (no tokens, or an
	// optional token not given). The session closes with CodeTokenExpired
	// when the token expires.
	User *Identity
}

// Identity is who a session's client proved to be, from a verified token.
type Identity struct {
	// Subject is the token's "sub": the user's stable id.
	Subject string
	// Name is the token's optional "name" (the chat nickname).
	Name string
	// Claims holds every claim of the token, as decoded from its JSON.
	Claims map[string]any
}
