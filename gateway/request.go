package gateway

import (
	"net/http"

	"github.com/sockgate/sockgate/gateway/auth"
	"github.com/sockgate/sockgate/session"
)

// requestFacts is what r tells services about the client of the session it
// opens: the real address (after trusted proxies), a copy of the headers,
// the query, the host, whether TLS was used, and who c's token proves the
// client is. The token itself is taken out of the query: it is a
// credential, and services get its verified claims in User.
func (srv *Server) requestFacts(r *http.Request, c caller) *session.Request {
	q := r.URL.Query()
	if srv.cfg.Auth != nil {
		q.Del(auth.QueryParam)
	}
	req := &session.Request{
		RemoteAddr: c.addr,
		Header:     r.Header.Clone(),
		Query:      q,
		Host:       srv.proxies.host(r),
		Secure:     srv.proxies.https(r),
	}
	if c.err == nil {
		req.User = c.tok.User
	}
	return req
}
