package gateway

import "strings"

// pathKind is what a path under a service prefix addresses.
type pathKind int

const (
	pathNotFound pathKind = iota
	pathGreeting
	pathInfo
	pathIframe
	pathRawWebsocket
	pathSession
)

// sessionPath is a parsed /<server>/<session>/<transport> path.
type sessionPath struct {
	server, session, transport string
}

// parsePath classifies rest, the part of a request path after the service
// prefix, without regular expressions.
func parsePath(rest string) (pathKind, sessionPath) {
	switch rest {
	case "", "/":
		return pathGreeting, sessionPath{}
	case "/info":
		return pathInfo, sessionPath{}
	case "/websocket":
		return pathRawWebsocket, sessionPath{}
	}
	if isIframePath(rest) {
		return pathIframe, sessionPath{}
	}
	if len(rest) < 6 || rest[0] != '/' {
		return pathNotFound, sessionPath{}
	}
	server, tail, ok := strings.Cut(rest[1:], "/")
	if !ok {
		return pathNotFound, sessionPath{}
	}
	sid, transport, ok := strings.Cut(tail, "/")
	if !ok || !validSegment(server) || !validSegment(sid) || transport == "" ||
		strings.IndexByte(transport, '/') >= 0 {
		return pathNotFound, sessionPath{}
	}
	return pathSession, sessionPath{server: server, session: sid, transport: transport}
}

// validSegment reports whether a server or session id is non-empty and has
// no '.' (nor '/', which the caller already split on).
func validSegment(s string) bool {
	return s != "" && strings.IndexByte(s, '.') < 0
}

// isIframePath matches /iframe.html and /iframe-<anything but '/'>.html.
func isIframePath(rest string) bool {
	if rest == "/iframe.html" {
		return true
	}
	const pre, suf = "/iframe-", ".html"
	if len(rest) < len(pre)+len(suf) || !strings.HasPrefix(rest, pre) || !strings.HasSuffix(rest, suf) {
		return false
	}
	return strings.IndexByte(rest[len(pre):len(rest)-len(suf)], '/') < 0
}
