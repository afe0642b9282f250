package upstream

import (
	"context"
	"sync"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
	dto "github.com/prometheus/client_model/go"

	"github.com/sockgate/sockgate/session"
)

// testSession is a session.Session that records its close; it stands for
// the engine's session where only the bridge's own logic is under test.
type testSession struct {
	id, transport string
	req           *session.Request
	done          chan struct{}
	once          sync.Once
	closed        session.CloseInfo
}

func fakeSession(id, transport string, req *session.Request) *testSession {
	if req == nil {
		req = &session.Request{}
	}
	return &testSession{id: id, transport: transport, req: req, done: make(chan struct{})}
}

func (s *testSession) ID() string                           { return s.id }
func (s *testSession) Transport() string                    { return s.transport }
func (s *testSession) Recv(context.Context) (string, error) { return "", session.ErrClosed }
func (s *testSession) Send(string) error                    { return nil }
func (s *testSession) Done() <-chan struct{}                { return s.done }
func (s *testSession) Request() *session.Request            { return s.req }

// CloseInfo implements session.Session.
func (s *testSession) CloseInfo() session.CloseInfo {
	select {
	case <-s.done:
		return s.closed
	default:
		return session.CloseInfo{}
	}
}

func (s *testSession) Close(code int, reason string) error {
	s.once.Do(func() {
		s.closed = session.CloseInfo{Code: code, Reason: reason}
		close(s.done)
	})
	return nil
}

// counterValue sums the series of name in m whose labels include value.
func counterValue(t *testing.T, m *Metrics, name, value string) float64 {
	t.Helper()
	reg := prometheus.NewRegistry()
	reg.MustRegister(m)
	families, err := reg.Gather()
	if err != nil {
		t.Fatal(err)
	}
	var sum float64
	for _, f := range families {
		if f.GetName() != name {
			continue
		}
		for _, metric := range f.GetMetric() {
			if hasLabelValue(metric, value) && metric.GetCounter() != nil {
				sum += metric.GetCounter().GetValue()
			}
		}
	}
	return sum
}

func hasLabelValue(m *dto.Metric, value string) bool {
	for _, l := range m.GetLabel() {
		if l.GetValue() == value {
			return true
		}
	}
	return false
}
