package upstream

import (
	"strings"
	"testing"

	"github.com/sockgate/sockgate/gateway/internal/metricdoc"
)

// TestREADMEMetricsExist: the README documents the bridge's metrics as
// they are, labels included, and no others under sockgate_upstream_.
func TestREADMEMetricsExist(t *testing.T) {
	t.Parallel()
	upstreamOnly := func(name string) bool { return strings.HasPrefix(name, "sockgate_upstream_") }
	metricdoc.Check(t, "../../README.md", upstreamOnly, NewMetrics())
}
