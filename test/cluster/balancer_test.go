package cluster_test

import (
	"bufio"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync/atomic"
	"syscall"
	"testing"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// The shipped round-robin configurations, relative to this package.
var (
	nginxRRConf   = filepath.Join("..", "..", "deploy", "nginx", "sockgate-roundrobin.conf")
	haproxyRRConf = filepath.Join("..", "..", "deploy", "haproxy", "sockgate-roundrobin.cfg")
)

// startNodes starts count nodes joined to the NATS server at natsURL.
func startNodes(t *testing.T, natsURL string, count int, extra ...string) []*node {
	t.Helper()
	var nodes []*node
	for i := range count {
		nodes = append(nodes, startNode(t, fmt.Sprintf("node-%c", 'a'+i), natsURL, extra...))
	}
	return nodes
}

func addrsOf(nodes []*node) []string {
	var out []string
	for _, n := range nodes {
		out = append(out, n.addr)
	}
	return out
}

// startNginxRR runs the real nginx with deploy/nginx/sockgate-roundrobin.conf
// in front of nodes and returns it as a node (its URL is the balancer's).
func startNginxRR(t *testing.T, nodes []*node) *node {
	t.Helper()
	bin := requireTool(t, "nginx", "/usr/sbin/nginx")
	dir := t.TempDir()
	addr := testbin.FreeAddr(t)
	text := readFile(t, nginxRRConf)
	writeFile(t, filepath.Join(dir, "sockgate.conf"), testbin.ReplaceRegions(t, nginxRRConf, text, map[string][]string{
		"listen":    {"listen " + addr + ";"},
		"upstreams": testbin.ServerLines(t, nginxRRConf, text, addrsOf(nodes)),
	}))
	wrapper := filepath.Join(dir, "nginx.conf")
	writeFile(t, wrapper, testbin.NginxConf(dir))
	p := testbin.Start(t, "nginx", syscall.SIGTERM, bin, "-p", dir, "-c", wrapper, "-e", "stderr",
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	lb := &node{Proc: p, name: "nginx", url: "http://" + addr, addr: addr}
	testbin.WaitHTTP(t, p, lb.url+"/echo/info", http.StatusOK)
	return lb
}

// startHAProxyRR runs the real HAProxy with
// deploy/haproxy/sockgate-roundrobin.cfg in front of nodes.
func startHAProxyRR(t *testing.T, nodes []*node) *node {
	t.Helper()
	bin := requireTool(t, "haproxy", "/usr/sbin/haproxy")
	dir := t.TempDir()
	addr := testbin.FreeAddr(t)
	text := readFile(t, haproxyRRConf)
	cfg := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfg, testbin.ReplaceRegions(t, haproxyRRConf, text, map[string][]string{
		"process":   {"log stderr format raw local0 info"},
		"listen":    {"bind " + addr},
		"upstreams": testbin.ServerLines(t, haproxyRRConf, text, addrsOf(nodes)),
	}))
	p := testbin.Start(t, "haproxy", syscall.SIGTERM, bin, "-db", "-f", cfg)
	lb := &node{Proc: p, name: "haproxy", url: "http://" + addr, addr: addr}
	testbin.WaitHTTP(t, p, lb.url+"/echo/info", http.StatusOK)
	return lb
}

func requireTool(t *testing.T, pkg, path string) string {
	t.Helper()
	if _, err := os.Stat(path); err == nil {
		return path
	}
	if p, err := exec.LookPath(pkg); err == nil {
		return p
	}
	t.Fatalf("%s is not installed: the round-robin tests run the real %s in front of sockgate. "+
		"Install it: `make deps`, or `apt-get install -y %s` as root", pkg, pkg, pkg)
	return ""
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

// pinned is an HTTP transport that sends a client's first request to one
// node and every later one to another: a session created on first and
// served through rest[0], so that the test knows which node owns it and
// which one forwards. Once a node of rest refuses connections (it
// stopped), the next one takes its place, as a balancer's would. With
// fallbacks, every request has a connection of its own: a stopping node
// closes idle keep-alive connections, and a POST on one it just closed
// fails with EOF (a real balancer's problem on its upstream connections,
// not the client's).
type pinned struct {
	first string   // host:port
	rest  []string // host:port
	cur   atomic.Int32
	used  atomic.Bool
	base  *http.Transport
}

func newPinned(first *node, rest ...*node) (*http.Client, *pinned) {
	p := &pinned{first: first.addr, base: &http.Transport{MaxIdleConnsPerHost: 8, DisableKeepAlives: len(rest) > 1}}
	for _, n := range rest {
		p.rest = append(p.rest, n.addr)
	}
	return &http.Client{Transport: p}, p
}

func (p *pinned) RoundTrip(r *http.Request) (*http.Response, error) {
	for {
		i := int(p.cur.Load())
		host := p.rest[i]
		if !p.used.Swap(true) {
			host = p.first
		}
		r2 := r.Clone(r.Context())
		if r.GetBody != nil {
			r2.Body, _ = r.GetBody()
		}
		r2.URL.Host, r2.Host = host, host
		resp, err := p.base.RoundTrip(r2)
		if err != nil && errors.Is(err, syscall.ECONNREFUSED) && i+1 < len(p.rest) {
			p.cur.CompareAndSwap(int32(i), int32(i+1))
			continue
		}
		return resp, err
	}
}

// metric sums the samples of a counter on a node's /metrics whose line
// starts with prefix (a name, or a name and the start of its labels).
func metric(t testing.TB, n *node, prefix string) float64 {
	t.Helper()
	resp, err := http.Get(n.url + "/metrics")
	if err != nil {
		t.Fatalf("%s: /metrics: %v", n.name, err)
	}
	defer resp.Body.Close()
	sum := 0.0
	sc := bufio.NewScanner(resp.Body)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		line := sc.Text()
		if !strings.HasPrefix(line, prefix) {
			continue
		}
		f := strings.Fields(line)
		v, err := strconv.ParseFloat(f[len(f)-1], 64)
		if err == nil {
			sum += v
		}
	}
	return sum
}
