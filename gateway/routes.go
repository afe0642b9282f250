package gateway

import (
	"net/http"
	"strings"

	"github.com/gorilla/mux"
)

// matchKind is how a route matches a path.
type matchKind int

const (
	// matchExact matches the path itself.
	matchExact matchKind = iota
	// matchUnder matches the path and every path under path+"/" (a
	// service prefix).
	matchUnder
	// matchStart matches every path that starts with the path, as
	// gorilla/mux's PathPrefix does.
	matchStart
)

// route is one entry of a route table: the gorilla/mux routers and the
// fast path in front of them are both generated from the tables, so they
// agree on which route owns a path.
type route struct {
	path    string
	kind    matchKind
	label   string       // the metrics' route label; "" when handler sets its own
	handler http.Handler // what the router serves
	// fast, when set, serves the route without the routers (a native
	// service): rest is the path after the route's path. gorilla/mux
	// copies the request twice per router (route and variables into its
	// context), four copies in all, which profiles showed among the
	// largest costs of a poll or a send.
	fast func(w http.ResponseWriter, r *http.Request, rest string)
}

// matches reports whether the route owns path.
func (rt *route) matches(path string) bool {
	switch rt.kind {
	case matchExact:
		return path == rt.path
	case matchUnder:
		return strings.HasPrefix(path, rt.path) && (len(path) == len(rt.path) || path[len(rt.path)] == '/')
	}
	return strings.HasPrefix(path, rt.path)
}

// routeTable is the routes of one router, in the order they match: the
// first route that matches a path owns it.
type routeTable []route

// register adds the table's routes to r, in order. The matchers compare
// strings: gorilla/mux path templates cost a regexp per request, and every
// request passes these routes.
func (t routeTable) register(r *mux.Router) {
	for i := range t {
		rt := &t[i]
		h := rt.handler
		if rt.label != "" {
			h = routeLabel(rt.label, h)
		}
		r.MatcherFunc(func(req *http.Request, _ *mux.RouteMatch) bool { return rt.matches(req.URL.Path) }).Handler(h)
	}
}

// owner returns the first route of the table that matches path, or nil.
func (t routeTable) owner(path string) *route {
	for i := range t {
		if t[i].matches(path) {
			return &t[i]
		}
	}
	return nil
}

// fastPath serves, without going through the routers, every request whose
// path the routers would give to a route with a fast handler; every other
// request goes to next. It asks the same tables, in the same order, as the
// routers: the health routes when they are on this listener, then, under
// the base path, the application's routes.
func (s *Server) fastPath(next http.Handler) http.Handler {
	if len(s.services) == 0 {
		return next
	}
	base := s.cfg.BasePath
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		path := r.URL.Path
		if s.admin == nil && s.healthRoutes.owner(path) != nil {
			next.ServeHTTP(w, r)
			return
		}
		if base != "" {
			if !strings.HasPrefix(path, base+"/") {
				next.ServeHTTP(w, r)
				return
			}
			path = path[len(base):]
		}
		if rt := s.appRoutes.owner(path); rt != nil && rt.fast != nil {
			rt.fast(w, r, path[len(rt.path):])
			return
		}
		next.ServeHTTP(w, r)
	})
}
