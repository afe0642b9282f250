package gateway

import (
	"fmt"
	"net"
	"net/http"
	"net/url"
	"strings"

	"github.com/rs/zerolog"
)

// originPolicy decides which browser origins may use the gateway. With no
// entries only the gateway's own host is allowed; "*" allows every origin.
// Entries are exact origins ("https://app.example.com"), host patterns
// ("*.example.com", matching any scheme and port) or bare hosts
// ("example.com", any scheme and port).
type originPolicy struct {
	any      bool
	exact    map[string]bool // scheme://host[:port], lower case
	hosts    map[string]bool // bare host names
	suffixes []string        // ".example.com" from "*.example.com"
	csp      string          // the frame-ancestors directive
}

func newOriginPolicy(entries []string) (*originPolicy, error) {
	p := &originPolicy{exact: map[string]bool{}, hosts: map[string]bool{}}
	var ancestors []string
	for _, e := range entries {
		e = strings.ToLower(strings.TrimSpace(e))
		switch {
		case e == "":
			continue
		case e == "*":
			p.any = true
		case strings.HasPrefix(e, "*."):
			p.suffixes = append(p.suffixes, e[1:])
			ancestors = append(ancestors, e)
		case strings.Contains(e, "://"):
			u, err := url.Parse(e)
			if err != nil || u.Host == "" || (u.Path != "" && u.Path != "/") {
				return nil, fmt.Errorf("allowed origin %q: want scheme://host[:port]", e)
			}
			p.exact[u.Scheme+"://"+u.Host] = true
			ancestors = append(ancestors, u.Scheme+"://"+u.Host)
		case e == "null":
			p.exact["null"] = true
		default:
			if strings.ContainsAny(e, "/?#") {
				return nil, fmt.Errorf("allowed origin %q: want a host, *.domain or scheme://host", e)
			}
			p.hosts[e] = true
			ancestors = append(ancestors, e)
		}
	}
	switch {
	case p.any:
		p.csp = "frame-ancestors *"
	default:
		p.csp = strings.TrimSpace("frame-ancestors 'self' " + strings.Join(ancestors, " "))
	}
	return p, nil
}

// allowed reports whether a request with this Origin header, for the
// gateway reached as host, may proceed. Requests without an Origin (not
// from a browser page, or same-origin GETs) are allowed.
func (p *originPolicy) allowed(origin, host string) bool {
	if origin == "" || p.any {
		return true
	}
	origin = strings.ToLower(origin)
	if p.exact[origin] {
		return true
	}
	if origin == "null" {
		return false
	}
	u, err := url.Parse(origin)
	if err != nil || u.Host == "" {
		return false
	}
	if strings.EqualFold(u.Host, host) && (u.Scheme == "http" || u.Scheme == "https") {
		return true // same host, from a web page (not foo://host)
	}
	name := u.Hostname()
	if p.hosts[name] {
		return true
	}
	for _, s := range p.suffixes {
		if strings.HasSuffix(name, s) {
			return true
		}
	}
	return false
}

// crossSiteAllowed decides a request that carries no Origin (the GETs of
// jsonp-polling and htmlfile, script tags and iframes) by the Fetch
// Metadata and Referer a browser sends instead, for the gateway reached as
// host. A page the policy does not allow may not read it:
//   - Sec-Fetch-Site same-origin or none (typed in, a bookmark): allowed;
//   - same-site or cross-site: allowed only when the Referer's origin is
//     (without a Referer the reading page is unknown: refused);
//   - no Sec-Fetch-Site (browsers before 2020): the Referer's origin
//     decides when there is one; with neither header, allowed, as before.
//
// It returns the origin it refused, for the log.
func (p *originPolicy) crossSiteAllowed(r *http.Request, host string) (refused string, ok bool) {
	if p.any {
		return "", true
	}
	site := strings.ToLower(r.Header.Get("Sec-Fetch-Site"))
	switch site {
	case "same-origin", "none":
		return "", true
	}
	from := refererOrigin(r.Header.Get("Referer"))
	if from == "" {
		if site == "" {
			return "", true
		}
		return "referer:none", false
	}
	if p.allowed(from, host) {
		return "", true
	}
	return from, false
}

// refererOrigin is the scheme://host[:port] of a Referer, or "" when there
// is none or it is not an absolute http(s) URL.
func refererOrigin(ref string) string {
	if ref == "" {
		return ""
	}
	u, err := url.Parse(ref)
	if err != nil || u.Host == "" || (u.Scheme != "http" && u.Scheme != "https") {
		return ""
	}
	return u.Scheme + "://" + u.Host
}

// refuseOrigin answers 403 to a request from a page the origin policy does
// not allow, counts it and logs it (once per origin per logSampleInterval).
func (s *Server) refuseOrigin(w http.ResponseWriter, r *http.Request, origin string) {
	s.metrics.refused(refusedOrigin)
	s.warnSampled("origin|"+origin, "origin refused", func(e *zerolog.Event) *zerolog.Event {
		return e.Str("origin", origin).Str("path", r.URL.Path).Str("client", s.proxies.clientIP(r).String())
	})
	writeText(w, http.StatusForbidden, "Origin not allowed.")
}

// warnOpenOrigins warns when the gateway listens beyond loopback in
// own-host origin mode: that mode believes the Host header, which a DNS
// rebinding attack controls.
func (s *Server) warnOpenOrigins(addr net.Addr) {
	if len(s.cfg.AllowedOrigins) > 0 {
		return
	}
	tcp, ok := addr.(*net.TCPAddr)
	if ok && tcp.IP.IsLoopback() {
		return
	}
	s.log.Warn().Str("addr", addr.String()).
		Msg("listening beyond loopback without allowed origins: the own-host origin check trusts the Host header (DNS rebinding); set allowed origins")
}
