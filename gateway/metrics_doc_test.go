package gateway

import (
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway/internal/metricdoc"
)

// TestREADMEMetricsExist: every sockgate_* metric of the gateway's own
// that the README names exists with the labels shown, and every one it
// registers is documented. The bridge's sockgate_upstream_* metrics are
// checked beside the bridge (gateway/upstream).
func TestREADMEMetricsExist(t *testing.T) {
	t.Parallel()
	m := newMetrics()
	if n := len(metricdoc.Described("sockgate_", m.collectors...)); n < 10 {
		t.Fatalf("only %d gateway metrics found", n)
	}
	notUpstream := func(name string) bool { return !strings.HasPrefix(name, "sockgate_upstream_") }
	metricdoc.Check(t, "../README.md", notUpstream, m.collectors...)
}
