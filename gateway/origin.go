package gateway

import (
	"fmt"
	"net/url"
	"strings"
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
	if strings.EqualFold(u.Host, host) {
		return true // same host
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
