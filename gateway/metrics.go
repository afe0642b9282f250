package gateway

import (
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"

	"github.com/sockgate/sockgate/session"
	"github.com/sockgate/sockgate/session/cluster"
	"github.com/sockgate/sockgate/session/engine"
	"github.com/sockgate/sockgate/session/transport"
)

// Refusal causes, the "cause" label of sockgate_refusals_total.
const (
	refusedOrigin      = "origin"
	refusedTotal       = "session_limit"
	refusedPerIP       = "ip_limit"
	refusedDraining    = "draining"
	refusedSessionID   = "bad_session_id"
	refusedTooLarge    = "too_large"
	refusedRateLimited = "rate_limit"
)

// metrics are the gateway's Prometheus collectors, on a registry of its own
// so that several servers can live in one process (tests).
type metrics struct {
	meters         sync.Map // transport name -> *transportMeter
	requestCounts  sync.Map // routeStatus -> prometheus.Counter
	reg            *prometheus.Registry
	collectors     []prometheus.Collector // every one registered, for the docs test
	sessionsOpen   *prometheus.GaugeVec
	sessionsOpened *prometheus.CounterVec
	sessionsClosed *prometheus.CounterVec
	messagesIn     *prometheus.CounterVec
	messagesOut    *prometheus.CounterVec
	bytesIn        *prometheus.CounterVec
	bytesOut       *prometheus.CounterVec
	slowClients    prometheus.Counter
	refusals       *prometheus.CounterVec
	requests       *prometheus.CounterVec
	heartbeats     prometheus.Counter
	wsCompressed   prometheus.Counter
	draining       prometheus.Gauge
	forward        *forwardMetrics
	cluster        atomic.Pointer[cluster.Sessions] // nil on a single node
}

func newMetrics() *metrics {
	m := &metrics{reg: prometheus.NewRegistry()}
	f := func(c prometheus.Collector) {
		m.reg.MustRegister(c)
		m.collectors = append(m.collectors, c)
	}
	m.sessionsOpen = prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sockgate_sessions_open", Help: "Sessions open now, by transport that opened them."}, []string{"transport"})
	m.sessionsOpened = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_sessions_opened_total", Help: "Sessions opened, by transport."}, []string{"transport"})
	m.sessionsClosed = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_sessions_closed_total", Help: "Sessions closed, by close code and reason."}, []string{"code", "reason"})
	m.messagesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_messages_in_total", Help: "Messages received from clients, by transport."}, []string{"transport"})
	m.messagesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_messages_out_total", Help: "Messages queued for clients, by transport."}, []string{"transport"})
	m.bytesIn = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_message_bytes_in_total", Help: "Message bytes received from clients, by transport."}, []string{"transport"})
	m.bytesOut = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_message_bytes_out_total", Help: "Message bytes queued for clients, by transport."}, []string{"transport"})
	m.slowClients = prometheus.NewCounter(prometheus.CounterOpts{Name: "sockgate_slow_client_closes_total", Help: "Sessions closed because their outgoing queue overflowed (code 3008)."})
	m.refusals = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_refusals_total", Help: "Requests refused, by cause."}, []string{"cause"})
	m.requests = prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_http_requests_total", Help: "HTTP requests, by route and status."}, []string{"route", "status"})
	m.heartbeats = prometheus.NewCounter(prometheus.CounterOpts{Name: "sockgate_heartbeats_total", Help: "Heartbeat frames sent."})
	m.wsCompressed = prometheus.NewCounter(prometheus.CounterOpts{Name: "sockgate_websocket_compressed_total", Help: "Websocket connections (SockJS and raw) that negotiated permessage-deflate."})
	m.draining = prometheus.NewGauge(prometheus.GaugeOpts{Name: "sockgate_draining", Help: "1 while the gateway drains for shutdown."})
	for _, c := range []prometheus.Collector{m.sessionsOpen, m.sessionsOpened, m.sessionsClosed, m.messagesIn,
		m.messagesOut, m.bytesIn, m.bytesOut, m.slowClients, m.refusals, m.requests, m.heartbeats, m.wsCompressed, m.draining,
		collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{})} {
		f(c)
	}
	f(buildInfoGauge())
	m.forward = newForwardMetrics(m.cluster.Load)
	for _, c := range m.forward.collectors() {
		f(c)
	}
	return m
}

func (m *metrics) handler() http.Handler {
	return promhttp.HandlerFor(m.reg, promhttp.HandlerOpts{})
}

// transportMeter is a engine.Meter with its counters resolved once.
type transportMeter struct {
	in, out, bytesIn, bytesOut prometheus.Counter
}

func (t *transportMeter) In(n int)  { t.in.Inc(); t.bytesIn.Add(float64(n)) }
func (t *transportMeter) Out(n int) { t.out.Inc(); t.bytesOut.Add(float64(n)) }

// meter returns the resolved counters of a transport.
// routeStatus keys the request counters.
type routeStatus struct {
	route  string
	status int
}

// request counts one answered request. The counter of each route and
// status is looked up once: WithLabelValues hashes and validates its
// labels (and the status needs formatting) on every call.
func (m *metrics) request(route string, status int) {
	key := routeStatus{route, status}
	c, ok := m.requestCounts.Load(key)
	if !ok {
		c, _ = m.requestCounts.LoadOrStore(key, m.requests.WithLabelValues(route, strconv.Itoa(status)))
	}
	c.(prometheus.Counter).Inc()
}

// meter returns the traffic counters of a transport, one shared value per
// transport (a session holds a pointer, not counters of its own).
func (m *metrics) meter(tr transport.Name) engine.Meter {
	if tm, ok := m.meters.Load(tr); ok {
		return tm.(*transportMeter)
	}
	label := string(tr)
	tm, _ := m.meters.LoadOrStore(tr, &transportMeter{
		in:       m.messagesIn.WithLabelValues(label),
		out:      m.messagesOut.WithLabelValues(label),
		bytesIn:  m.bytesIn.WithLabelValues(label),
		bytesOut: m.bytesOut.WithLabelValues(label),
	})
	return tm.(*transportMeter)
}

func (m *metrics) opened(transport string) {
	m.sessionsOpened.WithLabelValues(transport).Inc()
	m.sessionsOpen.WithLabelValues(transport).Inc()
}

func (m *metrics) closed(transport string, info session.CloseInfo) {
	m.sessionsOpen.WithLabelValues(transport).Dec()
	m.sessionsClosed.WithLabelValues(strconv.Itoa(info.Code), info.Reason).Inc()
	if info.Code == session.CodeSlowClient {
		m.slowClients.Inc()
	}
}

func (m *metrics) refused(cause string) { m.refusals.WithLabelValues(cause).Inc() }
