package gateway

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// TestREADMEMetricsExist: every sockgate_* metric the README names exists,
// with exactly the labels the README shows, and every sockgate_* metric the
// gateway registers is named in the README.
func TestREADMEMetricsExist(t *testing.T) {
	t.Parallel()
	readme, err := os.ReadFile("../README.md")
	if err != nil {
		t.Fatal(err)
	}
	registered := registeredMetrics(newMetrics())
	documented := map[string]bool{}
	for _, tok := range regexp.MustCompile("`(sockgate_[a-z_{},]+)`").FindAllStringSubmatch(string(readme), -1) {
		names, labels := expandMetric(tok[1])
		for _, name := range names {
			documented[name] = true
			got, ok := registered[name]
			if !ok {
				t.Errorf("README names %s (from `%s`), which /metrics does not have", name, tok[1])
				continue
			}
			if len(got) != len(labels) || !slices.Equal(got, labels) {
				t.Errorf("README shows %s with labels %v; /metrics has %v", name, labels, got)
			}
		}
	}
	for name := range registered {
		if !documented[name] {
			t.Errorf("%s is on /metrics but not in the README", name)
		}
	}
}

// expandMetric reads a README token: "{a,b}" inside the name means either
// word; a trailing "{l1,l2}" lists the labels (none shown: the metric has
// none).
func expandMetric(tok string) (names, labels []string) {
	if strings.HasSuffix(tok, "}") {
		i := strings.LastIndex(tok, "{")
		labels = strings.Split(tok[i+1:len(tok)-1], ",")
		slices.Sort(labels)
		tok = tok[:i]
	}
	names = []string{tok}
	for {
		i := strings.Index(names[0], "{")
		if i < 0 {
			return names, labels
		}
		var next []string
		for _, n := range names {
			j := strings.Index(n, "}")
			for _, alt := range strings.Split(n[i+1:j], ",") {
				next = append(next, n[:i]+alt+n[j+1:])
			}
		}
		names = next
	}
}

// registeredMetrics maps each sockgate_* metric of m to its variable
// labels, sorted (build info's constant labels included).
func registeredMetrics(m *metrics) map[string][]string {
	out := map[string][]string{}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range m.collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	re := regexp.MustCompile(`fqName: "([^"]+)".*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)
	for d := range ch {
		sm := re.FindStringSubmatch(d.String())
		if sm == nil || !strings.HasPrefix(sm[1], "sockgate_") {
			continue
		}
		var labels []string
		for _, part := range []string{sm[2], sm[3]} {
			for _, l := range strings.Split(part, ",") {
				if l, _, _ = strings.Cut(strings.TrimSpace(l), "="); l != "" {
					labels = append(labels, l)
				}
			}
		}
		slices.Sort(labels)
		out[sm[1]] = labels
	}
	return out
}
