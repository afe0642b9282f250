package testbin

import (
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
)

// Timing of child processes.
const (
	// StartTimeout bounds how long a started process may take to answer.
	StartTimeout = 20 * time.Second
	// StopTimeout is how long a process may take to exit after a signal
	// before its whole process group is killed.
	StopTimeout = 10 * time.Second
	// LogTail is how much of a process's output a failed test prints.
	LogTail = 16 << 10
)

// Proc is a child process a test started. It runs in a process group of
// its own (nginx forks workers), gets a signal if the test binary dies,
// and has its output kept for failure reports.
type Proc struct {
	Name string
	Cmd  *exec.Cmd
	Out  *Output
	done chan struct{} // closed when the process has exited
	err  error         // of Wait, valid after done
}

// Start starts argv and registers its Stop with t.Cleanup; deathSig is what
// it gets if the test binary dies first.
func Start(t testing.TB, name string, deathSig syscall.Signal, argv ...string) *Proc {
	t.Helper()
	p := &Proc{Name: name, Cmd: exec.Command(argv[0], argv[1:]...), Out: &Output{}, done: make(chan struct{})}
	p.Cmd.Stdout, p.Cmd.Stderr = p.Out, p.Out
	p.Cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: deathSig}
	if err := p.Cmd.Start(); err != nil {
		t.Fatalf("start %s (%s): %v", name, strings.Join(argv, " "), err)
	}
	go func() {
		p.err = p.Cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() { p.Stop(t) })
	return p
}

// Exited reports whether the process has ended.
func (p *Proc) Exited() bool {
	select {
	case <-p.done:
		return true
	default:
		return false
	}
}

// Done is closed when the process has exited.
func (p *Proc) Done() <-chan struct{} { return p.done }

// Err is how the process exited (Cmd.Wait's error); valid once Done is
// closed.
func (p *Proc) Err() error {
	<-p.done
	return p.err
}

// Signal sends sig to the process unless it has ended, without waiting, so
// that several processes can shut down at once.
func (p *Proc) Signal(sig syscall.Signal) {
	if !p.Exited() {
		_ = syscall.Kill(p.Cmd.Process.Pid, sig)
	}
}

// Terminate sends SIGTERM and fails the test unless the process exits 0
// within StopTimeout.
func (p *Proc) Terminate(t testing.TB) {
	t.Helper()
	p.Signal(syscall.SIGTERM)
	select {
	case <-p.done:
		if p.err != nil {
			t.Fatalf("%s exited with %v after SIGTERM:\n%s", p.Name, p.err, p.Out.Tail(LogTail))
		}
	case <-time.After(StopTimeout):
		t.Fatalf("%s still running %v after SIGTERM:\n%s", p.Name, StopTimeout, p.Out.Tail(LogTail))
	}
}

// Kill sends SIGKILL and waits for the process to be gone.
func (p *Proc) Kill(t testing.TB) {
	t.Helper()
	p.Signal(syscall.SIGKILL)
	select {
	case <-p.done:
	case <-time.After(StopTimeout):
		t.Fatalf("%s still running %v after SIGKILL", p.Name, StopTimeout)
	}
}

// Stop ends the process: SIGTERM, then SIGKILL to its process group if it
// does not exit in time (a test error). It prints the output when the test
// failed.
func (p *Proc) Stop(t testing.TB) {
	t.Helper()
	pid := p.Cmd.Process.Pid
	if !p.Exited() {
		_ = syscall.Kill(pid, syscall.SIGTERM)
		select {
		case <-p.done:
		case <-time.After(StopTimeout):
			t.Errorf("%s (pid %d) did not exit %v after SIGTERM; killing its process group", p.Name, pid, StopTimeout)
			_ = syscall.Kill(-pid, syscall.SIGKILL)
			<-p.done
		}
	}
	if t.Failed() {
		t.Logf("%s output (%v):\n%s", p.Name, p.err, p.Out.Tail(LogTail))
	}
}

// WaitHTTP polls url until it answers the status want, failing the test if
// p exits or StartTimeout passes first.
func WaitHTTP(t testing.TB, p *Proc, url string, want int) {
	t.Helper()
	client := &http.Client{Timeout: time.Second}
	defer client.CloseIdleConnections()
	deadline := time.Now().Add(StartTimeout)
	var last string
	for time.Now().Before(deadline) {
		if p.Exited() {
			t.Fatalf("%s exited before answering %s (%v):\n%s", p.Name, url, p.err, p.Out.Tail(LogTail))
		}
		resp, err := client.Get(url)
		if err == nil {
			body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
			_ = resp.Body.Close()
			if resp.StatusCode == want {
				return
			}
			last = fmt.Sprintf("HTTP %d %q", resp.StatusCode, body)
		} else {
			last = err.Error()
		}
		time.Sleep(50 * time.Millisecond)
	}
	t.Fatalf("%s: %s did not answer %d within %v (last: %s):\n%s", p.Name, url, want, StartTimeout, last, p.Out.Tail(LogTail))
}

// FreeAddr is a 127.0.0.1 address whose port was free a moment ago.
func FreeAddr(t testing.TB) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatalf("find a free port: %v", err)
	}
	defer ln.Close()
	return net.JoinHostPort("127.0.0.1", strconv.Itoa(ln.Addr().(*net.TCPAddr).Port))
}

// Tail is the last n bytes of s, from a line start.
func Tail(s string, n int) string {
	if len(s) <= n {
		return s
	}
	s = s[len(s)-n:]
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[i+1:]
	}
	return "...\n" + s
}
