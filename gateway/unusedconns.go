package gateway

import (
	"net"
	"net/http"
	"sync"
)

// unusedConns tracks the connections that have not sent a request yet
// (http.StateNew), so that a drain can close them: net/http's Shutdown
// would otherwise wait up to 5 s for each to send one. Safe for concurrent
// use; the zero value is ready.
type unusedConns struct {
	mu sync.Mutex
	m  map[net.Conn]struct{}
}

// track is an http.Server.ConnState hook.
func (u *unusedConns) track(c net.Conn, state http.ConnState) {
	u.mu.Lock()
	defer u.mu.Unlock()
	if state == http.StateNew {
		if u.m == nil {
			u.m = make(map[net.Conn]struct{})
		}
		u.m[c] = struct{}{}
		return
	}
	delete(u.m, c)
}

// closeAll closes every connection that has not sent a request yet.
func (u *unusedConns) closeAll() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c := range u.m {
		_ = c.Close()
		delete(u.m, c)
	}
}
