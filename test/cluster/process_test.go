package cluster_test

import (
	"context"
	"net/http"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// drainTimeout is the nodes' -drain-timeout (shorter than
// testbin.StopTimeout).
const drainTimeout = 3 * time.Second

// node is one running sockgate.
type node struct {
	*testbin.Proc
	name string
	url  string // "http://127.0.0.1:PORT"
	addr string // "127.0.0.1:PORT"
}

// startNode runs sockgate on a free port, joined to the NATS server at
// natsURL, and waits until it answers; the test's end stops it.
func startNode(t testing.TB, name, natsURL string, extra ...string) *node {
	t.Helper()
	addr := testbin.FreeAddr(t)
	n := &node{name: name, url: "http://" + addr, addr: addr}
	args := append([]string{sockgateBin, "-addr", addr, "-nats-url", natsURL,
		"-node-id", name, "-log-level", "warn", "-drain-timeout", drainTimeout.String()}, extra...)
	n.Proc = testbin.Start(t, name, syscall.SIGKILL, args...)
	testbin.WaitHTTP(t, n.Proc, n.url+"/healthz", http.StatusOK)
	return n
}

func ctxT(t *testing.T, d time.Duration) context.Context {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

// abbrev shortens s for a failure message.
func abbrev(s string) string {
	if len(s) > 200 {
		return s[:200] + "..."
	}
	return strings.ReplaceAll(s, "\n", `\n`)
}
