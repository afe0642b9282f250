package cluster_test

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

const (
	// startTimeout bounds how long a node may take to answer /healthz.
	startTimeout = 20 * time.Second
	// stopTimeout is how long a node may take to exit after SIGTERM
	// (its drain is shorter, see drainTimeout) before it is killed.
	stopTimeout = 10 * time.Second
	// drainTimeout is the nodes' -drain-timeout.
	drainTimeout = 3 * time.Second
	// logTail is how much of a node's output a failed test prints.
	logTail = 16 << 10
)

// node is one running sockgate.
type node struct {
	name string
	url  string // "http://127.0.0.1:PORT"
	cmd  *exec.Cmd
	out  *testbin.Output
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, valid after done
}

// startNode runs sockgate on a free port, joined to the NATS server at
// natsURL, and waits until it answers; the test's end stops it.
func startNode(t *testing.T, name, natsURL string) *node {
	t.Helper()
	addr := freeAddr(t)
	n := &node{name: name, url: "http://" + addr, out: &testbin.Output{}, done: make(chan struct{})}
	n.cmd = exec.Command(sockgateBin, "-addr", addr, "-nats-url", natsURL, "-node-id", name,
		"-log-level", "warn", "-drain-timeout", drainTimeout.String())
	n.cmd.Stdout, n.cmd.Stderr = n.out, n.out
	n.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := n.cmd.Start(); err != nil {
		t.Fatalf("start %s: %v", name, err)
	}
	go func() {
		n.err = n.cmd.Wait()
		close(n.done)
	}()
	t.Cleanup(func() { n.stop(t) })
	n.waitReady(t)
	return n
}

func (n *node) waitReady(t *testing.T) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(startTimeout)
	var last error
	for time.Now().Before(deadline) {
		select {
		case <-n.done:
			t.Fatalf("%s exited before answering (%v):\n%s", n.name, n.err, n.out.Tail(logTail))
		default:
		}
		resp, err := client.Get(n.url + "/healthz")
		if err == nil {
			resp.Body.Close()
			if resp.StatusCode == http.StatusOK {
				return
			}
			err = fmt.Errorf("HTTP %d", resp.StatusCode)
		}
		last = err
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s did not answer /healthz within %v (last: %v):\n%s", n.name, startTimeout, last, n.out.Tail(logTail))
}

// terminate sends SIGTERM and waits for the node to exit 0.
func (n *node) terminate(t *testing.T) {
	t.Helper()
	_ = n.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-n.done:
		if n.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM:\n%s", n.name, n.err, n.out.Tail(logTail))
		}
	case <-time.After(stopTimeout):
		t.Fatalf("%s still running %v after SIGTERM:\n%s", n.name, stopTimeout, n.out.Tail(logTail))
	}
}

// kill sends SIGKILL (no drain) and waits for the node to be gone.
func (n *node) kill(t *testing.T) {
	t.Helper()
	_ = n.cmd.Process.Kill()
	select {
	case <-n.done:
	case <-time.After(stopTimeout):
		t.Fatalf("%s still running %v after SIGKILL", n.name, stopTimeout)
	}
}

// stop kills what is still running and shows the output of a failed test.
func (n *node) stop(t *testing.T) {
	t.Helper()
	select {
	case <-n.done:
	default:
		_ = n.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-n.done:
		case <-time.After(stopTimeout):
			_ = n.cmd.Process.Kill()
			<-n.done
		}
	}
	if t.Failed() {
		t.Logf("%s output (%v):\n%s", n.name, n.err, n.out.Tail(logTail))
	}
}

// freeAddr is a 127.0.0.1 address whose port was free a moment ago.
func freeAddr(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
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
