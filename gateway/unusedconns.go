package gateway

import (
	"context"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"time"
)

// unusedGrace is how long a connection may have been open without a
// request before a drain closes it: one opened just now is most likely
// carrying a request that has not arrived yet, and is left to net/http.
const unusedGrace = time.Second

// unusedConns tracks the connections that have not sent a request yet
// (http.StateNew), so that a drain can close those that have sat unused:
// net/http's Shutdown would otherwise wait up to 5 s for each (clients keep
// spare connections). Safe for concurrent use; the zero value is ready.
type unusedConns struct {
	mu sync.Mutex
	m  map[net.Conn]time.Time // when it was accepted
	n  atomic.Int64           // len(m), read without the lock
}

// track is an http.Server.ConnState hook. It runs on every state change of
// every connection (twice per request on a kept-alive one), so the common
// case takes no lock: a connection leaves StateNew only for StateActive or
// StateClosed, and the map is usually empty once connections are reused.
// StateNew is set on the accepting goroutine before the connection's own
// starts, so a connection's entry is always seen by its later changes.
func (u *unusedConns) track(c net.Conn, state http.ConnState) {
	switch state {
	case http.StateNew:
	case http.StateActive, http.StateClosed:
		if u.n.Load() == 0 {
			return
		}
	default:
		return // StateIdle and StateHijacked follow StateActive
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	if state == http.StateNew {
		if u.m == nil {
			u.m = make(map[net.Conn]time.Time)
		}
		u.m[c] = time.Now()
	} else {
		delete(u.m, c)
	}
	u.n.Store(int64(len(u.m)))
}

// closeStale closes every connection that has sent no request in the
// unusedGrace since it was accepted.
func (u *unusedConns) closeStale() {
	u.mu.Lock()
	defer u.mu.Unlock()
	for c, since := range u.m {
		if time.Since(since) >= unusedGrace {
			_ = c.Close()
			delete(u.m, c)
		}
	}
	u.n.Store(int64(len(u.m)))
}

// settle waits until every connection accepted in the last unusedGrace has
// sent its request (or ctx ends): once net/http's Shutdown has begun, it
// drops a request it reads by closing the connection.
func (u *unusedConns) settle(ctx context.Context) {
	t := time.NewTicker(settlePoll)
	defer t.Stop()
	for u.recent() {
		select {
		case <-t.C:
		case <-ctx.Done():
			return
		}
	}
}

// settlePoll is how often settle looks.
const settlePoll = 5 * time.Millisecond

// recent reports whether a connection accepted less than unusedGrace ago
// has sent no request yet.
func (u *unusedConns) recent() bool {
	if u.n.Load() == 0 {
		return false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	for _, since := range u.m {
		if time.Since(since) < unusedGrace {
			return true
		}
	}
	return false
}
