package upstream

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/url"
	"os"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"github.com/sockgate/sockgate/session"
)

// Headers the bridge sets itself on every dial.
const (
	HeaderForwardedFor   = "X-Forwarded-For"
	HeaderForwardedProto = "X-Forwarded-Proto"
	HeaderForwardedHost  = "X-Forwarded-Host"
	HeaderSession        = "X-Sockgate-Session"
	HeaderTransport      = "X-Sockgate-Transport"
	HeaderUser           = "X-Sockgate-User"
	// HeaderClaimPrefix starts the header of each claim named in
	// Config.Claims (X-Sockgate-Claim-Email).
	HeaderClaimPrefix = "X-Sockgate-Claim-"
)

// dial opens the backend WebSocket of s, counts and logs the outcome.
func (b *Bridge) dial(s session.Session) (*websocket.Conn, error) {
	ctx, cancel := context.WithTimeout(context.Background(), b.cfg.ConnectTimeout)
	defer cancel()
	start := time.Now()
	conn, resp, err := b.dialer.DialContext(ctx, b.targetFor(s), b.handshakeHeader(s))
	took := time.Since(start)
	if err != nil {
		cause, detail := classify(ctx, err, resp)
		b.m.dialFailed(cause)
		b.log.Warn().Err(err).Str("url", b.URL()).Str("cause", cause).Str("detail", detail).
			Str("session", s.ID()).Str("transport", s.Transport()).Dur("took", took).
			Msg("backend dial failed")
		return nil, fmt.Errorf("dial %s: %w", b.URL(), err)
	}
	b.m.dialOK.Inc()
	b.m.latency.Observe(took.Seconds())
	b.log.Debug().Str("url", b.URL()).Str("session", s.ID()).Str("transport", s.Transport()).
		Dur("took", took).Msg("backend dialled")
	return conn, nil
}

// classify names why a dial failed (a result label) with a detail for the
// log.
func classify(ctx context.Context, err error, resp *http.Response) (cause, detail string) {
	if resp != nil {
		_ = resp.Body.Close()
		return DialHTTPStatus, resp.Status
	}
	var dnsErr *net.DNSError
	var certErr *tls.CertificateVerificationError
	var recordErr tls.RecordHeaderError
	var opErr *net.OpError
	switch {
	case errors.Is(err, context.DeadlineExceeded) || ctx.Err() != nil || isTimeout(err):
		return DialTimeout, ""
	case errors.As(err, &dnsErr):
		return DialDNS, dnsErr.Name
	case errors.As(err, &certErr), errors.As(err, &recordErr), strings.Contains(err.Error(), "tls:"):
		return DialTLS, ""
	case errors.As(err, &opErr) && opErr.Op == "dial":
		return DialRefused, opErr.Addr.String()
	}
	return DialOther, ""
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// targetFor is the backend URL with the client's query appended.
func (b *Bridge) targetFor(s session.Session) string {
	q := clientQuery(s.Request().Query, s.Transport())
	if q == "" {
		return b.URL()
	}
	u := *b.target
	if u.RawQuery == "" {
		u.RawQuery = q
	} else {
		u.RawQuery += "&" + q
	}
	return u.String()
}

// clientQuery encodes the query of the client's SockJS URL, without the
// parameters sockjs-client appends to its own requests: the cache-busting
// t=<milliseconds> of the xhr transports and the callback c=_jp.<id> of
// jsonp and htmlfile (the last value of each, when it has that form).
func clientQuery(q url.Values, transport string) string {
	if len(q) == 0 {
		return ""
	}
	var drop, prefix string
	switch transport {
	case "xhr-streaming", "xhr-polling":
		drop = "t"
	case "jsonp-polling", "htmlfile":
		drop, prefix = "c", "_jp"
	}
	if vs := q[drop]; drop != "" && len(vs) > 0 && added(vs[len(vs)-1], prefix) {
		q = cloneValues(q)
		if len(vs) == 1 {
			delete(q, drop)
		} else {
			q[drop] = vs[:len(vs)-1]
		}
	}
	return q.Encode()
}

// added reports whether v has the form sockjs-client gives the parameter
// it adds: digits for t, "_jp" and more for c.
func added(v, prefix string) bool {
	if prefix != "" {
		return strings.HasPrefix(v, prefix)
	}
	if v == "" {
		return false
	}
	for _, r := range v {
		if r < '0' || r > '9' {
			return false
		}
	}
	return true
}

func cloneValues(q url.Values) url.Values {
	c := make(url.Values, len(q))
	for k, v := range q {
		c[k] = v
	}
	return c
}

// handshakeHeader is what the backend's handshake carries besides the
// WebSocket headers (see the package doc).
func (b *Bridge) handshakeHeader(s session.Session) http.Header {
	req := s.Request()
	h := make(http.Header, len(b.headers)+6)
	for _, name := range b.headers {
		if vs := req.Header.Values(name); len(vs) > 0 {
			h[name] = append([]string(nil), vs...)
		}
	}
	if req.RemoteAddr.IsValid() {
		h.Set(HeaderForwardedFor, req.RemoteAddr.Unmap().String())
	}
	proto := "http"
	if req.Secure {
		proto = "https"
	}
	h.Set(HeaderForwardedProto, proto)
	if req.Host != "" {
		h.Set(HeaderForwardedHost, req.Host)
	}
	h.Set(HeaderSession, s.ID())
	h.Set(HeaderTransport, s.Transport())
	if req.User != nil {
		h.Set(HeaderUser, req.User.Subject)
		for _, name := range b.cfg.Claims {
			if v, ok := claimValue(req.User.Claims[name]); ok {
				h.Set(HeaderClaimPrefix+name, v)
			}
		}
	}
	return h
}

// claimValue is how a claim travels in a header: a string as it is,
// anything else as its JSON; absent (or not encodable, or holding line
// breaks) it is not sent.
func claimValue(v any) (string, bool) {
	if v == nil {
		return "", false
	}
	s, ok := v.(string)
	if !ok {
		b, err := json.Marshal(v)
		if err != nil {
			return "", false
		}
		s = string(b)
	}
	if strings.ContainsAny(s, "\r\n") {
		return "", false
	}
	return s, true
}

// SystemRootsWith returns a TLS config trusting the system roots and the
// PEM certificates in caFile ("" for the system roots alone).
func SystemRootsWith(caFile string) (*tls.Config, error) {
	pool, err := x509.SystemCertPool()
	if err != nil || pool == nil {
		pool = x509.NewCertPool()
	}
	if caFile != "" {
		pem, err := os.ReadFile(caFile)
		if err != nil {
			return nil, fmt.Errorf("upstream: reading CA file: %w", err)
		}
		if !pool.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("upstream: CA file %s: no PEM certificate in it", caFile)
		}
	}
	return &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}, nil
}
