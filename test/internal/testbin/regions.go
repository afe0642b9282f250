package testbin

import (
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// RegionMarker starts the comment lines that delimit a region of a shipped
// deploy/ file the tests may replace: "# sockgate-test:<name> begin" ...
// "end".
const RegionMarker = "# sockgate-test:"

// ReplaceRegions returns text (the file name) with the lines between each
// named region's begin and end markers replaced by lines, indented like
// the begin marker. A region missing from text fails the test, so that a
// shipped file that lost its markers is not run with example addresses.
func ReplaceRegions(t testing.TB, name, text string, regions map[string][]string) string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	current := ""
	for _, line := range strings.Split(text, "\n") {
		marker, isMarker := strings.CutPrefix(strings.TrimSpace(line), RegionMarker)
		switch {
		case isMarker && strings.HasSuffix(marker, " begin"):
			region := strings.TrimSuffix(marker, " begin")
			out = append(out, line)
			if lines, ok := regions[region]; ok {
				current, seen[region] = region, true
				indent := line[:len(line)-len(strings.TrimLeft(line, " \t"))]
				for _, l := range lines {
					out = append(out, indent+l)
				}
			}
		case isMarker && strings.HasSuffix(marker, " end"):
			current = ""
			out = append(out, line)
		case current == "":
			out = append(out, line)
		}
	}
	if current != "" {
		t.Fatalf("%s: region %q has no end marker", name, current)
	}
	for region := range regions {
		if !seen[region] {
			t.Fatalf("%s: no %q region; the tests replace it", name, region)
		}
	}
	return strings.Join(out, "\n")
}

var (
	ipv4Port          = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}:\d+\b`)
	haproxyServerName = regexp.MustCompile(`\bnode\d+\b`)
)

// ServerLines makes one upstream line per address from the first line of
// the file's "upstreams" region, keeping its parameters (max_fails,
// checks ...); only the address and the HAProxy server name change.
func ServerLines(t testing.TB, name, text string, addrs []string) []string {
	t.Helper()
	var first string
	inside := false
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == RegionMarker+"upstreams begin":
			inside = true
		case trimmed == RegionMarker+"upstreams end":
			inside = false
		case inside && first == "" && trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			first = trimmed
		}
	}
	if !ipv4Port.MatchString(first) {
		t.Fatalf("%s: the upstreams region has no server line with an address", name)
	}
	var lines []string
	for i, a := range addrs {
		l := ipv4Port.ReplaceAllLiteralString(first, a)
		lines = append(lines, haproxyServerName.ReplaceAllLiteralString(l, "node"+strconv.Itoa(i+1)))
	}
	return lines
}
