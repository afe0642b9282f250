package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"testing"
)

// The shipped configurations, relative to this package.
var (
	nginxConf        = filepath.Join("..", "..", "deploy", "nginx", "sockgate.conf")
	nginxSubpathConf = filepath.Join("..", "..", "deploy", "nginx", "sockgate-subpath.conf")
	haproxyConf      = filepath.Join("..", "..", "deploy", "haproxy", "sockgate.cfg")
)

// markerPrefix starts the comment lines that delimit a region of a shipped
// file the tests may replace: "# sockgate-test:<name> begin" ... "end".
const markerPrefix = "# sockgate-test:"

// replaceRegions returns text with the lines between each named region's
// begin and end markers replaced by lines (indented like the begin marker).
// A region named in regions but missing from text is an error, so that a
// shipped file that lost its markers fails the tests instead of running
// with example addresses.
func replaceRegions(t *testing.T, name, text string, regions map[string][]string) string {
	t.Helper()
	var out []string
	seen := map[string]bool{}
	current := ""
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		marker, isMarker := strings.CutPrefix(trimmed, markerPrefix)
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
			t.Fatalf("%s: no %q region (%sbegin ... end); the tests replace it", name, region, markerPrefix+region+" ")
		}
	}
	return strings.Join(out, "\n")
}

// regionLines returns the lines inside a region of text, without comments.
func regionLines(t *testing.T, name, text, region string) []string {
	t.Helper()
	begin, end := markerPrefix+region+" begin", markerPrefix+region+" end"
	var lines []string
	inside := false
	for _, line := range strings.Split(text, "\n") {
		trimmed := strings.TrimSpace(line)
		switch {
		case trimmed == begin:
			inside = true
		case trimmed == end:
			return lines
		case inside && trimmed != "" && !strings.HasPrefix(trimmed, "#"):
			lines = append(lines, trimmed)
		}
	}
	t.Fatalf("%s: no complete %q region", name, region)
	return nil
}

var (
	// ipv4Port matches the example node addresses of the shipped files.
	ipv4Port = regexp.MustCompile(`\b\d{1,3}(\.\d{1,3}){3}:\d+\b`)
	// haproxyServerName matches the example HAProxy server names.
	haproxyServerName = regexp.MustCompile(`\bnode\d+\b`)
)

// serverLines makes one upstream line per node address from the first
// shipped upstream line, so that the test nodes get the same parameters
// (max_fails, weights ...) as the shipped ones; only the address (and the
// HAProxy server name) change.
func serverLines(t *testing.T, name, text string, addrs []string) []string {
	t.Helper()
	shipped := regionLines(t, name, text, "upstreams")
	if len(shipped) == 0 || !ipv4Port.MatchString(shipped[0]) {
		t.Fatalf("%s: the upstreams region has no server line with an address: %q", name, shipped)
	}
	var lines []string
	for i, a := range addrs {
		l := ipv4Port.ReplaceAllLiteralString(shipped[0], a)
		l = haproxyServerName.ReplaceAllLiteralString(l, "node"+strconv.Itoa(i+1))
		lines = append(lines, l)
	}
	return lines
}

func readFile(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("read the shipped config: %v", err)
	}
	return string(b)
}

func writeFile(t *testing.T, path, text string) {
	t.Helper()
	if err := os.WriteFile(path, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
}

// nginxBin and haproxyBin find the real proxies, failing the test (never
// skipping it) with an install hint when one is missing.
func nginxBin(t *testing.T) string   { return requireTool(t, "nginx", "/usr/sbin/nginx") }
func haproxyBin(t *testing.T) string { return requireTool(t, "haproxy", "/usr/sbin/haproxy") }

func requireTool(t *testing.T, pkg, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(pkg); err == nil {
		return p
	}
	t.Fatalf("%s is not installed (no %s, none on PATH): the proxy tests run the real %s in front of sockgate. "+
		"Install it: `make deps`, or `apt-get install -y %s` as root", pkg, path, pkg, pkg)
	return ""
}

// TestShippedConfigsParse checks that the shipped files are valid as
// shipped, example addresses and all, for the installed nginx and HAProxy.
func TestShippedConfigsParse(t *testing.T) {
	t.Run("nginx", func(t *testing.T) {
		bin := nginxBin(t)
		for _, conf := range []string{nginxConf, nginxSubpathConf} {
			abs, err := filepath.Abs(conf)
			if err != nil {
				t.Fatal(err)
			}
			dir := t.TempDir()
			wrapper := filepath.Join(dir, "nginx.conf")
			writeFile(t, wrapper, "events {}\nhttp {\n    include "+abs+";\n}\n")
			out, err := exec.Command(bin, "-t", "-q", "-p", dir, "-c", wrapper, "-e", "stderr",
				"-g", "pid "+filepath.Join(dir, "nginx.pid")+";").CombinedOutput()
			if err != nil {
				t.Errorf("nginx -t %s: %v\n%s", conf, err, out)
			}
		}
	})
	t.Run("haproxy", func(t *testing.T) {
		out, err := exec.Command(haproxyBin(t), "-c", "-q", "-f", haproxyConf).CombinedOutput()
		if err != nil {
			t.Errorf("haproxy -c %s: %v\n%s", haproxyConf, err, out)
		}
		if len(strings.TrimSpace(string(out))) > 0 {
			t.Errorf("haproxy -c %s warns:\n%s", haproxyConf, out)
		}
	})
}
