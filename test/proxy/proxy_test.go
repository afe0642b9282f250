package proxy

import (
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// nodeCount is how many gateway nodes sit behind each proxy: two, so that a
// request routed to the wrong node shows (a 404 for a send, a new session
// for a poll).
const nodeCount = 2

// subPath is the -base-path of the sub-path tests, as in the shipped
// sockgate-subpath.conf.
const subPath = "/sockgate"

// TestNginx runs deploy/nginx/sockgate.conf in front of two nodes.
func TestNginx(t *testing.T) {
	nodes := startNodes(t, "")
	runSuite(t, startNginx(t, nginxConf, nodes, ""))
}

// TestNginxSubPath runs deploy/nginx/sockgate-subpath.conf in front of two
// nodes started with -base-path /sockgate.
func TestNginxSubPath(t *testing.T) {
	nodes := startNodes(t, subPath)
	tg := startNginx(t, nginxSubpathConf, nodes, subPath)
	t.Run("outside-the-sub-path", func(t *testing.T) {
		// The placeholder site answers / itself; the bare prefix redirects
		// to the canonical /sockgate/.
		client := &http.Client{CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse }}
		if status, body, err := get(client, tg.url+"/echo/info"); err != nil || status != http.StatusNotFound {
			t.Errorf("GET /echo/info outside the sub-path: HTTP %d %q, %v; want nginx's own 404", status, body, err)
		}
		resp, err := client.Get(tg.url + subPath)
		if err != nil {
			t.Fatal(err)
		}
		resp.Body.Close()
		if loc := resp.Header.Get("Location"); resp.StatusCode != http.StatusMovedPermanently || !strings.HasSuffix(loc, subPath+"/") {
			t.Errorf("GET %s: HTTP %d Location %q; want 301 to %s/", subPath, resp.StatusCode, loc, subPath)
		}
	})
	runSuite(t, tg)
}

// TestHAProxy runs deploy/haproxy/sockgate.cfg in front of two nodes.
func TestHAProxy(t *testing.T) {
	nodes := startNodes(t, "")
	runSuite(t, startHAProxy(t, nodes, ""))
}

// TestHAProxySubPath runs the same deploy/haproxy/sockgate.cfg in front of
// two nodes started with -base-path /sockgate: its routing does not depend
// on the prefix.
func TestHAProxySubPath(t *testing.T) {
	nodes := startNodes(t, subPath)
	runSuite(t, startHAProxy(t, nodes, subPath))
}

// node is one sockgate process.
type node struct {
	name string
	addr string // 127.0.0.1:<port>
	proc *testbin.Proc
}

// target is a proxy in front of the nodes, as the suite sees it.
type target struct {
	name     string // "nginx", "haproxy"
	url      string // the proxy's root, http://127.0.0.1:<port>
	basePath string // the nodes' -base-path, "" at the root
	proxy    *testbin.Proc
	nodes    []*node
	// hixie76 says whether the proxy passes hixie-76 websocket handshakes:
	// nginx does; HAProxy 2.x answers 400 (it parses the eight key bytes
	// after the headers as a second request), see deploy/README.md.
	hixie76 bool
}

// echoURL is the echo service through the proxy.
func (tg *target) echoURL() string { return tg.url + tg.basePath + "/echo" }

// startNodes starts nodeCount gateways on free ports and waits until they
// are ready. -proxy-idle-timeout is the shipped configs' timeout; a short
// -drain-timeout keeps the test's teardown fast.
func startNodes(t *testing.T, basePath string) []*node {
	t.Helper()
	var nodes []*node
	for i := range nodeCount {
		n := &node{name: fmt.Sprintf("sockgate node%d", i+1), addr: testbin.FreeAddr(t)}
		args := []string{sockgateBin, "-addr", n.addr, "-trusted-proxies", "127.0.0.1/32",
			"-heartbeat-delay", "1s", "-log-level", "warn", "-proxy-idle-timeout", "75s", "-drain-timeout", "1s"}
		if basePath != "" {
			args = append(args, "-base-path", basePath)
		}
		n.proc = testbin.Start(t, n.name, syscall.SIGKILL, args...)
		nodes = append(nodes, n)
	}
	// Registered last, so it runs before each node's own stop: the nodes
	// drain at the same time.
	t.Cleanup(func() {
		for _, n := range nodes {
			n.proc.Signal(syscall.SIGTERM)
		}
	})
	for _, n := range nodes {
		testbin.WaitHTTP(t, n.proc, "http://"+n.addr+"/readyz", http.StatusOK)
	}
	return nodes
}

func nodeAddrs(nodes []*node) []string {
	var addrs []string
	for _, n := range nodes {
		addrs = append(addrs, n.addr)
	}
	return addrs
}

// startNginx runs the real nginx with the shipped fragment conf, its listen
// and upstreams regions replaced, in a generated nginx.conf.
func startNginx(t *testing.T, conf string, nodes []*node, basePath string) *target {
	t.Helper()
	bin := nginxBin(t)
	dir := t.TempDir()
	addr := testbin.FreeAddr(t)
	text := readFile(t, conf)
	writeFile(t, filepath.Join(dir, "sockgate.conf"), testbin.ReplaceRegions(t, conf, text, map[string][]string{
		"listen":    {"listen " + addr + ";"},
		"upstreams": testbin.ServerLines(t, conf, text, nodeAddrs(nodes)),
	}))
	wrapper := filepath.Join(dir, "nginx.conf")
	writeFile(t, wrapper, testbin.NginxConf(dir))
	p := testbin.Start(t, "nginx", syscall.SIGTERM, bin, "-p", dir, "-c", wrapper, "-e", "stderr",
		"-g", "daemon off; pid "+filepath.Join(dir, "nginx.pid")+"; error_log stderr;")
	tg := &target{name: "nginx", url: "http://" + addr, basePath: basePath, proxy: p, nodes: nodes, hixie76: true}
	testbin.WaitHTTP(t, p, tg.echoURL()+"/info", http.StatusOK)
	t.Cleanup(func() {
		if t.Failed() {
			b, _ := os.ReadFile(filepath.Join(dir, "access.log"))
			t.Logf("nginx access log:\n%s", testbin.Tail(string(b), 4<<10))
		}
	})
	return tg
}

// startHAProxy runs the real HAProxy with the shipped configuration, its
// process (log target, chroot, user, socket paths), listen and upstreams
// regions replaced.
func startHAProxy(t *testing.T, nodes []*node, basePath string) *target {
	t.Helper()
	bin := haproxyBin(t)
	dir := t.TempDir()
	addr := testbin.FreeAddr(t)
	text := readFile(t, haproxyConf)
	cfg := filepath.Join(dir, "haproxy.cfg")
	writeFile(t, cfg, testbin.ReplaceRegions(t, haproxyConf, text, map[string][]string{
		"process":   {"log stderr format raw local0 info"},
		"listen":    {"bind " + addr},
		"upstreams": testbin.ServerLines(t, haproxyConf, text, nodeAddrs(nodes)),
	}))
	p := testbin.Start(t, "haproxy", syscall.SIGTERM, bin, "-db", "-f", cfg)
	tg := &target{name: "haproxy", url: "http://" + addr, basePath: basePath, proxy: p, nodes: nodes}
	testbin.WaitHTTP(t, p, tg.echoURL()+"/info", http.StatusOK)
	return tg
}
