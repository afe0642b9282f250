package embed

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/internal/testbin"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// consumerMain is the smallest complete program that embeds sockgate: the
// one the README's "Embedding in a Go program" shows, with the address
// taken from the command line.
const consumerMain = `package main

import (
	"log"
	"os"
	"os/signal"
	"strings"

	"github.com/sockgate/sockgate/gateway"
	"github.com/sockgate/sockgate/session"
)

func main() {
	shout := session.EventFuncs{
		Message: func(s session.Session, msg string) { _ = s.Send(strings.ToUpper(msg)) },
	}
	srv, err := gateway.New(gateway.Config{
		Addr:     os.Args[1],
		Services: []gateway.Service{{Prefix: "/shout", Events: shout}},
	})
	if err != nil {
		log.Fatal(err)
	}
	if err := srv.Open(); err != nil {
		log.Fatal(err)
	}
	stop := make(chan os.Signal, 1)
	signal.Notify(stop, os.Interrupt)
	<-stop
	_ = srv.Close()
}
`

// TestModuleConsumer builds consumerMain as its own module against a copy
// of sockgate's tracked files and drives every transport through it.
func TestModuleConsumer(t *testing.T) {
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	tmp := t.TempDir()
	lib := filepath.Join(tmp, "sockgate")
	copyTracked(t, root, lib)
	if _, err := os.Stat(filepath.Join(lib, "static", "node_modules")); err == nil {
		t.Fatal("the copy has static/node_modules: it must hold tracked files only")
	}
	app := filepath.Join(tmp, "app")
	writeFile(t, filepath.Join(app, "main.go"), consumerMain)
	writeFile(t, filepath.Join(app, "go.mod"), "module example.com/app\n\ngo 1.26\n\n"+
		"require github.com/sockgate/sockgate v0.0.0\n\nreplace github.com/sockgate/sockgate => ../sockgate\n")
	gosum, err := os.ReadFile(filepath.Join(root, "go.sum"))
	if err != nil {
		t.Fatal(err)
	}
	writeFile(t, filepath.Join(app, "go.sum"), string(gosum))
	bin := filepath.Join(tmp, "app-bin")
	run(t, app, "go", "mod", "tidy")
	run(t, app, "go", "build", "-o", bin, ".")

	addr := testbin.FreeAddr(t)
	p := testbin.Start(t, "consumer", syscall.SIGKILL, bin, addr)
	base := "http://" + addr + "/shout"
	testbin.WaitHTTP(t, p, base+"/info", http.StatusOK)

	for _, tr := range sockjsclient.Transports {
		t.Run(tr, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
			defer cancel()
			c, err := sockjsclient.Dial(ctx, base, sockjsclient.Options{Transport: tr})
			if err != nil {
				t.Fatalf("dial: %v\n%s", err, p.Out.Tail(20))
			}
			defer c.Close()
			if err := c.Send("hello " + tr); err != nil {
				t.Fatal(err)
			}
			got, err := c.Recv(ctx)
			if want := strings.ToUpper("hello " + tr); err != nil || got != want {
				t.Fatalf("got %q, %v; want %q", got, err, want)
			}
		})
	}

	// The iframe transports (iframe-eventsource, iframe-htmlfile,
	// iframe-xhr-polling) load the service's iframe page, which loads the
	// client script: both must be served by the gateway itself, with no
	// Config.Static, and the script must be the pinned build.
	t.Run("iframe", func(t *testing.T) {
		page := get(t, base+"/iframe.html", http.StatusOK)
		m := regexp.MustCompile(`<script src="([^"]+)"></script>`).FindStringSubmatch(page)
		if m == nil {
			t.Fatalf("iframe page has no script tag:\n%s", page)
		}
		src := m[1]
		if strings.HasPrefix(src, "/") {
			src = "http://" + addr + src
		} else if !strings.HasPrefix(src, "http") {
			src = base + "/" + src
		}
		script := get(t, src, http.StatusOK)
		pinned, err := os.ReadFile(filepath.Join(root, "static", "dist", "sockjs.min.js"))
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal([]byte(script), pinned) {
			t.Fatalf("%s serves %d bytes, not the pinned sockjs-client (%d bytes)", src, len(script), len(pinned))
		}
	})
}

// copyTracked copies the files git tracks in root to dst.
func copyTracked(t *testing.T, root, dst string) {
	t.Helper()
	cmd := exec.Command("git", "ls-files", "-z")
	cmd.Dir = root
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("git ls-files: %v", err)
	}
	for _, name := range strings.Split(strings.TrimRight(string(out), "\x00"), "\x00") {
		b, err := os.ReadFile(filepath.Join(root, name))
		if os.IsNotExist(err) {
			continue // deleted in the work tree, not yet committed
		}
		if err != nil {
			t.Fatal(err)
		}
		writeFile(t, filepath.Join(dst, name), string(b))
	}
}

func writeFile(t *testing.T, path, body string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(body), 0o644); err != nil {
		t.Fatal(err)
	}
}

func run(t *testing.T, dir string, argv ...string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), testbin.BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, argv[0], argv[1:]...)
	cmd.Dir = dir
	cmd.Env = append(os.Environ(), "GOFLAGS=-mod=mod")
	if out, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(argv, " "), err, out)
	}
}

func get(t *testing.T, url string, want int) string {
	t.Helper()
	res, err := http.Get(url)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	b, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	if res.StatusCode != want {
		t.Fatalf("GET %s: %d, want %d: %s", url, res.StatusCode, want, b)
	}
	return string(b)
}
