// Package runcluster checks `make run-cluster`, the one-command local
// cluster of the README: NATS, three sockgate nodes and nginx with the
// shipped deploy/nginx/sockgate.conf. A chat message posted by a member on
// one node reaches a member on another, both connected through the nginx
// the command started; Ctrl-C (SIGINT) stops all of it.
package runcluster

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/internal/testbin"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

func TestRunCluster(t *testing.T) {
	root, err := testbin.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	port := freePort(t)
	nodePorts := []string{freePort(t), freePort(t), freePort(t)}
	cmd := exec.Command("make", "-s", "run-cluster")
	cmd.Dir = root
	cmd.Env = append(cmd.Environ(), "PORT="+port, "NODE_PORTS="+strings.Join(nodePorts, " "),
		"NATS_PORT="+freePort(t), "RUN_DIR="+t.TempDir())
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	stderr := &testbin.Output{} // written by exec's copier while we read it
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatalf("make run-cluster: %v", err)
	}
	exited := make(chan error, 1)
	lines := make(chan string, 100)
	go func() {
		sc := bufio.NewScanner(out)
		for sc.Scan() {
			lines <- sc.Text()
		}
		close(lines)
		exited <- cmd.Wait()
	}()
	t.Cleanup(func() { _ = syscall.Kill(-cmd.Process.Pid, syscall.SIGKILL) })

	var log []string
	ready := time.After(3 * time.Minute) // may build bin/sockgate and nats-server first
	for waiting := true; waiting; {
		select {
		case l, ok := <-lines:
			if !ok {
				t.Fatalf("make run-cluster ended before it was ready:\n%s\n%s", strings.Join(log, "\n"), stderr.String())
			}
			log = append(log, l)
			waiting = !strings.Contains(l, "open http://localhost:"+port+"/")
		case <-ready:
			t.Fatalf("make run-cluster not ready in 3 minutes:\n%s\n%s", strings.Join(log, "\n"), stderr.String())
		}
	}

	// Members through nginx; nginx hashes each session to a node. Find the
	// node of each by the nodes' own session gauges, until two differ.
	base := "http://127.0.0.1:" + port + "/chat"
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	ann := dial(ctx, t, base)
	annNode := nodeWithNewSession(t, nodePorts, nil)
	ann.send(t, map[string]string{"type": "join", "room": "crossing", "nick": "ann"})
	ann.expect(ctx, t, "welcome")
	var bob *member
	var bobNode string
	before := openSessions(t, nodePorts)
	for try := 0; try < 30 && bob == nil; try++ {
		m := dial(ctx, t, base)
		n := nodeWithNewSession(t, nodePorts, before)
		if n != annNode {
			bob, bobNode = m, n
			break
		}
		before = openSessions(t, nodePorts)
		_ = m.c.Close()
	}
	if bob == nil {
		t.Fatalf("30 sessions through nginx all landed on node :%s", annNode)
	}
	bob.send(t, map[string]string{"type": "join", "room": "crossing", "nick": "bob"})
	bob.expect(ctx, t, "welcome")
	bob.send(t, map[string]string{"type": "post", "text": "across nodes"})
	got := ann.expect(ctx, t, "message")
	if got["text"] != "across nodes" || got["nick"] != "bob" {
		t.Fatalf("ann on :%s got %v from bob on :%s", annNode, got, bobNode)
	}
	t.Logf("bob on node :%s reached ann on node :%s through nginx :%s", bobNode, annNode, port)
	_ = ann.c.Close()
	_ = bob.c.Close()

	// Ctrl-C reaches the whole foreground process group.
	if err := syscall.Kill(-cmd.Process.Pid, syscall.SIGINT); err != nil {
		t.Fatal(err)
	}
	select {
	case <-exited:
	case <-time.After(30 * time.Second):
		t.Fatalf("make run-cluster still running 30 s after Ctrl-C:\n%s", stderr.String())
	}
	for _, p := range append([]string{port}, nodePorts...) {
		if _, err := http.Get("http://127.0.0.1:" + p + "/healthz"); err == nil {
			t.Errorf("127.0.0.1:%s still answers after Ctrl-C", p)
		}
	}
}

type member struct{ c *sockjsclient.Conn }

func dial(ctx context.Context, t *testing.T, base string) *member {
	t.Helper()
	c, err := sockjsclient.Dial(ctx, base, sockjsclient.Options{Transport: sockjsclient.TransportXHRStreaming})
	if err != nil {
		t.Fatalf("dial %s: %v", base, err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return &member{c: c}
}

func (m *member) send(t *testing.T, cmd map[string]string) {
	t.Helper()
	b, _ := json.Marshal(cmd)
	if err := m.c.Send(string(b)); err != nil {
		t.Fatal(err)
	}
}

// expect returns the next event of type typ, skipping others.
func (m *member) expect(ctx context.Context, t *testing.T, typ string) map[string]any {
	t.Helper()
	for {
		msg, err := m.c.Recv(ctx)
		if err != nil {
			t.Fatalf("waiting for %s: %v", typ, err)
		}
		var ev map[string]any
		if err := json.Unmarshal([]byte(msg), &ev); err != nil {
			t.Fatalf("event %q: %v", msg, err)
		}
		if ev["type"] == typ {
			return ev
		}
	}
}

var openRe = regexp.MustCompile(`(?m)^sockgate_sessions_opened_total\{transport="xhr-streaming"\} (\d+)`)

// openSessions reads how many xhr-streaming sessions each node has opened
// (a counter: closing a session does not hide the next one).
func openSessions(t *testing.T, ports []string) map[string]int {
	t.Helper()
	out := map[string]int{}
	for _, p := range ports {
		res, err := http.Get("http://127.0.0.1:" + p + "/metrics")
		if err != nil {
			t.Fatal(err)
		}
		b, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if m := openRe.FindSubmatch(b); m != nil {
			out[p], _ = strconv.Atoi(string(m[1]))
		}
	}
	return out
}

// nodeWithNewSession is the node that opened a session since before.
func nodeWithNewSession(t *testing.T, ports []string, before map[string]int) string {
	t.Helper()
	now := openSessions(t, ports)
	for _, p := range ports {
		if now[p] > before[p] {
			return p
		}
	}
	t.Fatalf("no node has a new session: before %v, now %v", before, now)
	return ""
}

func freePort(t *testing.T) string {
	addr := testbin.FreeAddr(t)
	_, port, _ := strings.Cut(addr, ":")
	return fmt.Sprint(port)
}
