package proxy

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// The shipped configurations, relative to this package.
var (
	nginxConf        = filepath.Join("..", "..", "deploy", "nginx", "sockgate.conf")
	nginxSubpathConf = filepath.Join("..", "..", "deploy", "nginx", "sockgate-subpath.conf")
	haproxyConf      = filepath.Join("..", "..", "deploy", "haproxy", "sockgate.cfg")
)

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
