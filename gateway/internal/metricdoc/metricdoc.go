// Package metricdoc checks, in tests, that the README documents the
// Prometheus metrics a package registers, with their labels, and names no
// metric that does not exist.
package metricdoc

import (
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/prometheus/client_golang/prometheus"
)

// Check compares the `sockgate_*` metrics the README at readme names
// (those mine accepts) with the metrics described by collectors (likewise
// filtered), both ways; labels must match exactly.
func Check(t *testing.T, readme string, mine func(name string) bool, collectors ...prometheus.Collector) {
	t.Helper()
	text, err := os.ReadFile(readme)
	if err != nil {
		t.Fatal(err)
	}
	registered := map[string][]string{}
	for name, labels := range Described("sockgate_", collectors...) {
		if mine(name) {
			registered[name] = labels
		}
	}
	documented := map[string]bool{}
	for _, tok := range regexp.MustCompile("`(sockgate_[a-z_{},]+)`").FindAllStringSubmatch(string(text), -1) {
		names, labels := Expand(tok[1])
		for _, name := range names {
			if !mine(name) {
				continue
			}
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

// Expand reads a README token: "{a,b}" inside the name means either word;
// a trailing "{l1,l2}" lists the labels (none shown: the metric has none).
func Expand(tok string) (names, labels []string) {
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

// Described maps each metric of collectors whose name starts with prefix
// to its labels, sorted (constant labels included).
func Described(prefix string, collectors ...prometheus.Collector) map[string][]string {
	out := map[string][]string{}
	ch := make(chan *prometheus.Desc, 64)
	go func() {
		for _, c := range collectors {
			c.Describe(ch)
		}
		close(ch)
	}()
	re := regexp.MustCompile(`fqName: "([^"]+)".*constLabels: \{([^}]*)\}, variableLabels: \{([^}]*)\}`)
	for d := range ch {
		sm := re.FindStringSubmatch(d.String())
		if sm == nil || !strings.HasPrefix(sm[1], prefix) {
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
