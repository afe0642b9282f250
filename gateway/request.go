package gateway

import (
	"net/http"

	"github.com/sockgate/sockgate/session"
)

// requestFacts is what r tells services about the client of the session it
// opens: the real address (after trusted proxies), a copy of the headers,
// the query, the host and whether TLS was used.
func (srv *Server) requestFacts(r *http.Request) *session.Request {
	return &session.Request{
		RemoteAddr: srv.proxies.clientIP(r),
		Header:     r.Header.Clone(),
		Query:      r.URL.Query(),
		Host:       srv.proxies.host(r),
		Secure:     srv.proxies.https(r),
	}
}
