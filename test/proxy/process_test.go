package proxy

import (
	"context"
	"fmt"
	"io"
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
	// startTimeout bounds how long a started process may take to answer.
	startTimeout = 20 * time.Second
	// stopTimeout is how long a process may take to exit after SIGTERM
	// before its whole process group is killed.
	stopTimeout = 5 * time.Second
	// logTail is how much of a process's output a failed test prints.
	logTail = 16 << 10
)

// tail is the last n bytes of s, from a line start.
func tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "...\n" + s
}

// proc is a child process the test started. It runs in a process group of
// its own (nginx forks workers) and gets a signal if the test binary dies.
type proc struct {
	name string
	cmd  *exec.Cmd
	out  *testbin.Output
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, valid after done
}

// startProc starts argv with its output captured and registers its stop
// with t.Cleanup; deathSig is what it gets if the test binary dies first.
func startProc(t *testing.T, name string, deathSig syscall.Signal, argv ...string) *proc {
	t.Helper()
	p := &proc{name: name, cmd: exec.Command(argv[0], argv[1:]...), out: &testbin.Output{}, done: make(chan struct{})}
	p.cmd.Stdout, p.cmd.Stderr = p.out, p.out
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
	if err := p.cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, strings.Join(argv, " "), err)
	}
	go func() {
		p.err = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.stop(t) })
	return p
}

// stop ends the process: SIGTERM, then SIGKILL to its process group (its
// own children, by the group id it got at start) if it does not exit in
// time. It prints the output when the test failed.
func (p *proc) stop(t *testing.T) {
	t.Helper()
	pid := p.cmd.Process.Pid
	select {
	case <-p.done:
	default:
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(stopTimeout):
			t.Errorf("%s (pid %d) did not exit %v after SIGTERM; killing its process group", p.name, pid, stopTimeout)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("%s output (%v):\n%s", p.name, p.err, tail(p.out.String(), logTail))
	}
}

// terminate sends SIGTERM without waiting, so that several processes can
// shut down at once before their stop runs.
func (p *proc) terminate() {
	if !p.exited() {
		_ = syscall.Kill(p.cmd.Process.Pid, syscall.SIGTERM)
	}
}

// exited reports whether the process has ended.
func (p *proc) exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// freePort returns a TCP port on 127.0.0.1 that was free a moment ago.
func freePort(t *testing.T) int {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return ln.Addr().(*net.TCPAddr).Port
}

// hostPort is "127.0.0.1:<port>".
func hostPort(port int) string { return net.JoinHostPort("127.0.0.1", strconv.Itoa(port)) }

// waitHTTP polls url until it answers want, failing the test if p exits or
// startTimeout passes first.
func waitHTTP(t *testing.T, p *proc, url string, want int) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	var last string
	for time.Now().Before(deadline) {
		if p.exited() {
			t.Fatalf("%s exited before answering %s (%v):\n%s", p.name, url, p.err, tail(p.out.String(), logTail))
		}
		status, body, err := get(client, url)
		if err == nil && status == want {
			return
		}
		last = fmt.Sprintf("HTTP %d %q, %v", status, body, err)
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s did not answer %d within %v (last: %s):\n%s", p.name, url, want, startTimeout, last, tail(p.out.String(), logTail))
}

// get fetches url and returns its status and (at most 4 KiB of) body.
func get(client *http.Client, url string) (int, string, error) {
	req, err := http.NewRequestWithContext(context.Background(), http.MethodGet, url, nil)
	if err != nil {
		return 0, "", err
	}
	resp, err := client.Do(req)
	if err != nil {
		return 0, "", err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
	return resp.StatusCode, string(body), err
}
