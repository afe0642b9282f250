package gateway

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"

	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/engine"
)

// This file is the front side of a cluster without sticky sessions
// (Config.Sessions): a request for a session that lives on another node is
// served here by forwarding it to that node (see cluster.Sessions).

// forwardReceive serves a receiving request for a session that is not
// local, through its owner, and reports whether it did. It returns false
// when the session is (or is to be created) here: the caller serves it.
func (svc *service) forwardReceive(w http.ResponseWriter, r *http.Request, sid string, rv receiving) bool {
	c := svc.srv.cfg.Sessions
	if c == nil {
		return false
	}
	// The owner looks the session up by its registry key, so a client
	// another node serves is held to the session's binding as it would be
	// on the owner itself: another address or subject finds no session.
	key := svc.srv.bindKey(sid, svc.srv.identify(r))
	if svc.reg.Get(key) != nil {
		return false
	}
	ctx := r.Context()
	for range 2 {
		// A draining node creates no session, so claims none.
		owner, mine, err := c.Owner(ctx, svc.prefix, sid, !svc.srv.draining.Load())
		if err != nil {
			svc.clusterUnavailable(w, err)
			return true
		}
		if mine || owner == "" {
			return false
		}
		pull := c.Pull
		if !rv.streaming {
			pull = c.Poll
		}
		rr, err := pull(ctx, owner, svc.prefix, key)
		switch {
		case errors.Is(err, cluster.ErrNoSession):
			svc.log.Debug().Str("session", sid).Str("owner", owner).Msg("owner has no such session: record dropped")
			continue // its record was stale and is gone: claim the id
		case errors.Is(err, cluster.ErrNodeGone):
			svc.nodeGone(rv)
			return true
		case ctx.Err() != nil:
			return true
		case errors.Is(err, engine.ErrReceiverAttached):
			svc.refuseReceiver(w, rv, err) // 2010
			return true
		case err != nil:
			svc.log.Warn().Err(err).Str("session", sid).Str("owner", owner).Msg("forwarded receive failed")
			svc.refuseReceiver(w, rv, err)
			return true
		}
		svc.serveRemote(w, r, rv, rr)
		return true
	}
	return false
}

// serveRemote passes the frames of a receiver held on the owner node to the
// client, as receive does with a local one. Each frame is acknowledged
// (by the next pull, or Done) only once it was written and flushed.
func (svc *service) serveRemote(w http.ResponseWriter, r *http.Request, rv receiving, rr *cluster.RemoteReceiver) {
	if err := rv.start(); err != nil {
		rr.Abort()
		return
	}
	ctx := r.Context()
	// A node that stops ends the forwarded requests it serves, cleanly: the
	// session lives on elsewhere, and the client's next request reaches
	// another node.
	pull, stop := context.WithCancel(ctx)
	defer stop()
	defer context.AfterFunc(svc.srv.stopping.context(), stop)()
	rc := http.NewResponseController(w)
	written := 0
	for {
		frame, last, err := rr.Next(pull)
		switch {
		case err == nil:
		case ctx.Err() != nil:
			rr.Abort()
			return
		case pull.Err() != nil:
			if written == 0 && !rv.streaming {
				_, _ = rv.fw.writeFrame(engine.HeartbeatFrame) // a poll must answer: poll again
			}
			rr.Done() // the frame not written goes back to the session
			return
		case errors.Is(err, cluster.ErrNodeGone):
			_, _ = rv.fw.writeFrame(nodeGoneFrame)
			rr.Done()
			return
		default:
			rr.Done()
			return
		}
		n, err := rv.fw.writeFrame(frame)
		if err == nil && !rv.streaming {
			err = rc.Flush() // a poll's frame is acknowledged once it is out
		}
		if err != nil {
			rr.Abort()
			return
		}
		written += n
		if len(frame) == 1 && frame[0] == 'h' {
			svc.srv.metrics.heartbeats.Inc()
		}
		if last || !rv.streaming || written >= svc.cfg.ResponseLimit {
			rr.DoneAsync() // the client has the response already
			return
		}
	}
}

// stopSignal is closed once, when the server stops listening.
type stopSignal struct {
	once sync.Once
	ctx  context.Context
	stop context.CancelFunc
	mu   sync.Mutex
}

func (s *stopSignal) context() context.Context {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.ctx == nil {
		s.ctx, s.stop = context.WithCancel(context.Background())
	}
	return s.ctx
}

func (s *stopSignal) fire() {
	s.context()
	s.once.Do(s.stop)
}

// nodeGoneFrame closes a session whose node crashed.
var nodeGoneFrame = engine.CloseFrame(cluster.CodeNodeGone, cluster.ReasonNodeGone)

// nodeGone answers a receiving request for a session whose node crashed
// with its close frame.
func (svc *service) nodeGone(rv receiving) {
	if rv.start() == nil {
		_, _ = rv.fw.writeFrame(nodeGoneFrame)
	}
}

// forwardSend delivers a send request's messages to the session's owner
// when the session is not local, and reports whether it had to: false
// means the session is nowhere (404). ok says whether the caller should
// answer success; the errors are answered here.
func (svc *service) forwardSend(w http.ResponseWriter, r *http.Request, sid, key string, form bool) (forwarded, ok bool) {
	c := svc.srv.cfg.Sessions
	if c == nil {
		return false, false
	}
	ctx := r.Context()
	owner, mine, err := c.Owner(ctx, svc.prefix, sid, false)
	if err != nil {
		svc.clusterUnavailable(w, err)
		return true, false
	}
	if owner == "" || mine {
		return false, false
	}
	body, ok := svc.readPayload(w, r, form)
	if !ok {
		return true, false
	}
	if _, err := engine.DecodeMessages(body); err != nil {
		writeText(w, http.StatusInternalServerError, decodeErrorText(err))
		return true, false
	}
	switch err := c.Send(ctx, owner, svc.prefix, key, body); {
	case err == nil:
		return true, true
	case errors.Is(err, cluster.ErrNoSession), errors.Is(err, cluster.ErrNodeGone):
		writeText(w, http.StatusNotFound, "Session not found.")
	case ctx.Err() != nil:
	default:
		svc.log.Warn().Err(err).Str("session", sid).Msg("forwarded send failed")
		writeText(w, http.StatusServiceUnavailable, "Could not deliver the messages.")
	}
	return true, false
}

// clusterUnavailable answers a request that needs the cluster while NATS
// cannot be reached.
func (svc *service) clusterUnavailable(w http.ResponseWriter, err error) {
	svc.log.Warn().Err(err).Msg("session lookup failed")
	w.Header().Set("Retry-After", "1")
	writeText(w, http.StatusServiceUnavailable, "Cluster unavailable, try again later.")
}

// releaseOwnership gives up the cluster's record of a local session that
// is gone for good.
func (svc *service) releaseOwnership(s *engine.SockJS) {
	if c := svc.srv.cfg.Sessions; c != nil {
		c.Release(svc.prefix, s.ID())
	}
}

// releaseStale releases a receiver held for another node that no longer
// serves it, so that a local receiver can attach (see
// cluster.Sessions.ReleaseStale).
func (svc *service) releaseStale(id string) bool {
	c := svc.srv.cfg.Sessions
	return c != nil && c.ReleaseStale(svc.prefix, id)
}

// LocalSession implements cluster.LocalSessions: the owner's side of
// forwarded requests, which name a session by its registry key (the id
// and, with session binding, the client it is bound to: see bindKey).
func (s *Server) LocalSession(prefix, id string) *engine.SockJS {
	for _, svc := range s.services {
		if svc.prefix == prefix {
			return svc.reg.Get(id)
		}
	}
	return nil
}

// forwardMetrics are the cluster's collectors: always registered (zero on
// a single node) so that /metrics has one shape.
type forwardMetrics struct {
	requests  *prometheus.CounterVec
	latency   *prometheus.HistogramVec
	sessions  func() *cluster.Sessions
	receivers prometheus.GaugeFunc
	conflicts prometheus.CounterFunc
}

func newForwardMetrics(sessions func() *cluster.Sessions) *forwardMetrics {
	fm := &forwardMetrics{sessions: sessions}
	fm.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_forwarded_requests_total",
		Help: "Requests forwarded to the node that owns the session, by kind (send, pull, abort, alive; acks: poll acknowledgements that found no request to ride on)."}, []string{"kind"})
	fm.latency = prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sockgate_forward_seconds",
		Help:    "Round trip of a forwarded request to the owning node, by kind (a pull's wait for a frame not included).",
		Buckets: []float64{.0001, .00025, .0005, .001, .0025, .005, .01, .025, .1, 1}}, []string{"kind"})
	fm.receivers = prometheus.NewGaugeFunc(prometheus.GaugeOpts{Name: "sockgate_remote_receivers",
		Help: "Receivers this node holds for requests that other nodes serve."}, func() float64 {
		if c := fm.sessions(); c != nil {
			return float64(c.RemoteReceivers())
		}
		return 0
	})
	fm.conflicts = prometheus.NewCounterFunc(prometheus.CounterOpts{Name: "sockgate_ownership_conflicts_total",
		Help: "New sessions another node created first."}, func() float64 {
		if c := fm.sessions(); c != nil {
			return float64(c.Conflicts())
		}
		return 0
	})
	return fm
}

func (fm *forwardMetrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{fm.requests, fm.latency, fm.receivers, fm.conflicts}
}

// observe is the cluster.Observer of the gateway.
func (fm *forwardMetrics) observe(kind string, took time.Duration, timed bool, _ error) {
	fm.requests.WithLabelValues(kind).Inc()
	if timed {
		fm.latency.WithLabelValues(kind).Observe(took.Seconds())
	}
}
