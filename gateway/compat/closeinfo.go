package compat

import (
	"net/http"
	"strings"
	"sync"
	"time"

	"github.com/sockgate/sockgate/session"
)

// receivers tracks, per session id, the receiving requests sockjs-go is
// serving, so that a session sockjs-go closed on its own can be told apart:
// closed while a receiving request had been aborted by its client
// (session.CodeInterrupted) or with no receiver for the disconnect delay
// (session.CodeTimeout). sockjs-go itself keeps no close code for either.
// Safe for concurrent use.
type receivers struct {
	mu  sync.Mutex
	ids map[string]*receiverState
}

// receiverState is one session id's receiving requests.
type receiverState struct {
	inFlight []*http.Request // being served now
	aborted  bool            // one ended because its client went away
	session  bool            // an adapter runs for this id
}

func newReceivers() *receivers { return &receivers{ids: make(map[string]*receiverState)} }

// receivingTransports are the path elements of the requests that attach a
// receiver (the send requests do not).
var receivingTransports = map[string]bool{
	"xhr": true, "xhr_streaming": true, "eventsource": true, "htmlfile": true, "jsonp": true,
}

// sessionOf is the session id of a receiving request under prefix
// (/<server>/<session>/<transport>), or "" for any other request.
func sessionOf(prefix, path string) string {
	rest, ok := strings.CutPrefix(path, prefix+"/")
	if !ok {
		return ""
	}
	parts := strings.Split(rest, "/")
	if len(parts) != 3 || !receivingTransports[parts[2]] {
		return ""
	}
	return parts[1]
}

// track wraps next so that every receiving request is recorded while it is
// served.
func (rs *receivers) track(prefix string, next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sid := sessionOf(prefix, r.URL.Path)
		if sid == "" {
			next.ServeHTTP(w, r)
			return
		}
		rs.begin(sid, r)
		defer func() { rs.end(sid, r, r.Context().Err() != nil) }()
		next.ServeHTTP(w, r)
	})
}

func (rs *receivers) state(sid string) *receiverState {
	st := rs.ids[sid]
	if st == nil {
		st = &receiverState{}
		rs.ids[sid] = st
	}
	return st
}

func (rs *receivers) begin(sid string, r *http.Request) {
	rs.mu.Lock()
	st := rs.state(sid)
	st.inFlight = append(st.inFlight, r)
	rs.mu.Unlock()
}

func (rs *receivers) end(sid string, r *http.Request, aborted bool) {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := rs.ids[sid]
	if st == nil {
		return
	}
	for i, q := range st.inFlight {
		if q == r {
			st.inFlight = append(st.inFlight[:i], st.inFlight[i+1:]...)
			break
		}
	}
	st.aborted = st.aborted || aborted
	if len(st.inFlight) != 0 || st.session {
		return
	}
	if !st.aborted {
		delete(rs.ids, sid) // no session (yet): nothing to remember
		return
	}
	// An aborted request whose session's handler has not started yet:
	// sockjs-go sends the open frame first and starts the handler in a
	// goroutine, so a client may read "o" and leave before opened runs.
	// The abort is kept for that handler's closeInfo, and forgotten after
	// abortMemory if no session ever comes.
	time.AfterFunc(abortMemory, func() {
		rs.mu.Lock()
		defer rs.mu.Unlock()
		if rs.ids[sid] == st && len(st.inFlight) == 0 && !st.session {
			delete(rs.ids, sid)
		}
	})
}

// abortMemory is how long an aborted receiving request is remembered for
// a session whose handler has not started.
const abortMemory = 10 * time.Second

// opened marks sid as having a running session.
func (rs *receivers) opened(sid string) {
	rs.mu.Lock()
	rs.state(sid).session = true
	rs.mu.Unlock()
}

// closeInfo says how the session sid ended when sockjs-go ended it, and
// forgets the id.
func (rs *receivers) closeInfo(sid string) session.CloseInfo {
	rs.mu.Lock()
	defer rs.mu.Unlock()
	st := rs.ids[sid]
	delete(rs.ids, sid)
	if st == nil {
		return session.CloseInfo{Code: session.CodeTimeout, Reason: session.ReasonTimeout}
	}
	interrupted := st.aborted
	for _, r := range st.inFlight {
		interrupted = interrupted || r.Context().Err() != nil
	}
	if interrupted {
		return session.CloseInfo{Code: session.CodeInterrupted, Reason: session.ReasonInterrupted}
	}
	return session.CloseInfo{Code: session.CodeTimeout, Reason: session.ReasonTimeout}
}
