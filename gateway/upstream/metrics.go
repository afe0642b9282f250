package upstream

import (
	"github.com/prometheus/client_golang/prometheus"
)

// Dial results, the "result" label of sockgate_upstream_dials_total.
const (
	DialOK         = "ok"
	DialTimeout    = "timeout"
	DialRefused    = "refused"
	DialHTTPStatus = "http_status" // the backend answered the upgrade with an HTTP error
	DialTLS        = "tls"
	DialDNS        = "dns"
	DialOther      = "other"
)

// Directions, the "direction" label of the message counters.
const (
	toBackend   = "to_backend"
	fromBackend = "from_backend"
)

// Metrics are the bridges' Prometheus collectors, labelled by upstream
// (the Config.Name of each bridge). One Metrics serves every bridge of a
// gateway; it is a prometheus.Collector, for gateway.Config.Collectors.
type Metrics struct {
	dials    *prometheus.CounterVec
	open     *prometheus.GaugeVec
	messages *prometheus.CounterVec
	bytes    *prometheus.CounterVec
	binary   *prometheus.CounterVec
	latency  *prometheus.HistogramVec
}

// NewMetrics returns unregistered collectors.
func NewMetrics() *Metrics {
	return &Metrics{
		dials: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_upstream_dials_total",
			Help: "Backend WebSocket dials, by upstream and result (ok, timeout, refused, http_status, tls, dns, other)."},
			[]string{"upstream", "result"}),
		open: prometheus.NewGaugeVec(prometheus.GaugeOpts{Name: "sockgate_upstream_connections_open",
			Help: "Backend WebSocket connections open now, by upstream."}, []string{"upstream"}),
		messages: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_upstream_messages_total",
			Help: "Messages carried between clients and backends, by upstream and direction (to_backend, from_backend)."},
			[]string{"upstream", "direction"}),
		bytes: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_upstream_message_bytes_total",
			Help: "Message bytes carried between clients and backends, by upstream and direction."},
			[]string{"upstream", "direction"}),
		binary: prometheus.NewCounterVec(prometheus.CounterOpts{Name: "sockgate_upstream_binary_dropped_total",
			Help: "Binary frames from backends, dropped since SockJS carries text only, by upstream."},
			[]string{"upstream"}),
		latency: prometheus.NewHistogramVec(prometheus.HistogramOpts{Name: "sockgate_upstream_dial_seconds",
			Help:    "Time to open a backend WebSocket (TCP, TLS and the upgrade), successful dials only, by upstream.",
			Buckets: []float64{.001, .0025, .005, .01, .025, .05, .1, .25, .5, 1, 2.5, 5, 10}},
			[]string{"upstream"}),
	}
}

func (m *Metrics) collectors() []prometheus.Collector {
	return []prometheus.Collector{m.dials, m.open, m.messages, m.bytes, m.binary, m.latency}
}

// Describe implements prometheus.Collector.
func (m *Metrics) Describe(ch chan<- *prometheus.Desc) {
	for _, c := range m.collectors() {
		c.Describe(ch)
	}
}

// Collect implements prometheus.Collector.
func (m *Metrics) Collect(ch chan<- prometheus.Metric) {
	for _, c := range m.collectors() {
		c.Collect(ch)
	}
}

// meters are one bridge's counters, resolved once.
type meters struct {
	dialOK, binary     prometheus.Counter
	open               prometheus.Gauge
	msgsTo, msgsFrom   prometheus.Counter
	bytesTo, bytesFrom prometheus.Counter
	latency            prometheus.Observer
	dials              *prometheus.CounterVec
	name               string
}

func (m *Metrics) forUpstream(name string) *meters {
	return &meters{
		dialOK:    m.dials.WithLabelValues(name, DialOK),
		binary:    m.binary.WithLabelValues(name),
		open:      m.open.WithLabelValues(name),
		msgsTo:    m.messages.WithLabelValues(name, toBackend),
		msgsFrom:  m.messages.WithLabelValues(name, fromBackend),
		bytesTo:   m.bytes.WithLabelValues(name, toBackend),
		bytesFrom: m.bytes.WithLabelValues(name, fromBackend),
		latency:   m.latency.WithLabelValues(name),
		dials:     m.dials,
		name:      name,
	}
}

func (m *meters) dialFailed(cause string) { m.dials.WithLabelValues(m.name, cause).Inc() }
