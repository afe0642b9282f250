package protocol

import (
	"bytes"
	"flag"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// Where the suite points, resolved once by TestMain.
var (
	// baseURL is the root the test services are mounted at, without a
	// trailing slash, e.g. "http://127.0.0.1:8081".
	baseURL string
	// timedURL is a server with short, known delays for the expiry and
	// heartbeat tests; "" when there is none and those tests skip.
	timedURL string
	// disconnectDelay and heartbeatDelay are timedURL's delays.
	disconnectDelay time.Duration
	heartbeatDelay  time.Duration
)

const (
	// startTimeout bounds how long a spawned gateway may take to answer.
	startTimeout = 30 * time.Second
	// stopTimeout bounds a spawned gateway's graceful shutdown.
	stopTimeout = 5 * time.Second
	// timedDisconnect and timedHeartbeat are the delays of the spawned
	// "timed" gateway: short, so that expiry tests stay fast.
	timedDisconnect = time.Second
	timedHeartbeat  = 500 * time.Millisecond
)

func TestMain(m *testing.M) {
	flag.Parse()
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if u := os.Getenv("SOCKJS_URL"); u != "" {
		return runExternal(m, strings.TrimRight(u, "/"))
	}
	return runSpawned(m)
}

// runExternal runs the suite against a server someone else started.
func runExternal(m *testing.M, u string) int {
	baseURL = u
	dd, hd := os.Getenv("SOCKJS_DISCONNECT_DELAY"), os.Getenv("SOCKJS_HEARTBEAT_DELAY")
	if dd == "" || hd == "" {
		fmt.Println("protocol: SOCKJS_URL is set without SOCKJS_DISCONNECT_DELAY and " +
			"SOCKJS_HEARTBEAT_DELAY: the session-expiry and heartbeat tests will skip")
		return m.Run()
	}
	var err error
	if disconnectDelay, err = time.ParseDuration(dd); err != nil {
		fmt.Fprintln(os.Stderr, "protocol: SOCKJS_DISCONNECT_DELAY:", err)
		return 2
	}
	if heartbeatDelay, err = time.ParseDuration(hd); err != nil {
		fmt.Fprintln(os.Stderr, "protocol: SOCKJS_HEARTBEAT_DELAY:", err)
		return 2
	}
	timedURL = u
	return m.Run()
}

// runSpawned builds cmd/sockgate and runs the suite against two instances
// of it: one with the default delays and one with short ones.
func runSpawned(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sockgate-protocol-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "protocol:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := testbin.Build(dir, raceEnabled)
	if err != nil {
		fmt.Fprintln(os.Stderr, "protocol:", err)
		return 1
	}
	extra := strings.Fields(os.Getenv("SOCKGATE_FLAGS"))
	mainGW, err := startGateway(bin, dir, "main", extra)
	if err != nil {
		fmt.Fprintln(os.Stderr, "protocol:", err)
		return 1
	}
	timedFlags := append([]string{"-disconnect-delay", timedDisconnect.String(),
		"-heartbeat-delay", timedHeartbeat.String()}, extra...)
	timedGW, err := startGateway(bin, dir, "timed", timedFlags)
	if err != nil {
		fmt.Fprintln(os.Stderr, "protocol:", err)
		mainGW.stop()
		return 1
	}
	baseURL, timedURL = mainGW.url, timedGW.url
	disconnectDelay, heartbeatDelay = timedDisconnect, timedHeartbeat

	code := m.Run()
	for _, g := range []*gateway{mainGW, timedGW} {
		if err := g.stop(); err != nil {
			fmt.Fprintln(os.Stderr, "protocol:", err)
			code = 1
		}
		if code != 0 {
			g.dumpLog(40)
		}
	}
	return code
}

// gateway is one spawned sockgate process.
type gateway struct {
	name    string
	url     string
	logPath string
	cmd     *exec.Cmd
	exited  chan struct{} // closed when the process has ended
	waitErr error         // valid after exited is closed
}

// startGateway runs bin -conformance on a free loopback port and waits until
// it answers.
func startGateway(bin, dir, name string, extra []string) (*gateway, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	g := &gateway{name: name, url: "http://" + addr,
		logPath: filepath.Join(dir, name+".log"), exited: make(chan struct{})}
	logFile, err := os.Create(g.logPath)
	if err != nil {
		return nil, err
	}
	args := append([]string{"-conformance", "-addr", addr}, extra...)
	g.cmd = exec.Command(bin, args...)
	g.cmd.Stdout, g.cmd.Stderr = logFile, logFile
	g.cmd.Env = append(os.Environ(), "GORACE=halt_on_error=0")
	if err := g.cmd.Start(); err != nil {
		logFile.Close()
		return nil, fmt.Errorf("start %s gateway: %w", name, err)
	}
	go func() {
		g.waitErr = g.cmd.Wait()
		logFile.Close()
		close(g.exited)
	}()
	if err := g.waitReady(); err != nil {
		g.stop()
		g.dumpLog(40)
		return nil, fmt.Errorf("%s gateway (%s %s): %w", name, bin, strings.Join(args, " "), err)
	}
	return g, nil
}

// freeAddr picks a loopback port that is free right now.
func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls /healthz (or, failing that, the /echo greeting) until the
// gateway answers 200.
func (g *gateway) waitReady() error {
	client := &http.Client{Timeout: time.Second}
	deadline := time.Now().Add(startTimeout)
	for time.Now().Before(deadline) {
		select {
		case <-g.exited:
			return fmt.Errorf("exited before answering: %v", g.waitErr)
		default:
		}
		for _, p := range []string{"/healthz", "/echo"} {
			resp, err := client.Get(g.url + p)
			if err == nil {
				resp.Body.Close()
				if resp.StatusCode == http.StatusOK {
					return nil
				}
			}
		}
		time.Sleep(50 * time.Millisecond)
	}
	return fmt.Errorf("no 200 from /healthz or /echo within %v", startTimeout)
}

// stop ends the process (SIGTERM, then SIGKILL) and reports data races it
// logged.
func (g *gateway) stop() error {
	select {
	case <-g.exited:
	default:
		_ = g.cmd.Process.Signal(syscall.SIGTERM)
		select {
		case <-g.exited:
		case <-time.After(stopTimeout):
			_ = g.cmd.Process.Kill()
			<-g.exited
		}
	}
	log, err := os.ReadFile(g.logPath)
	if err != nil {
		return err
	}
	if bytes.Contains(log, []byte("WARNING: DATA RACE")) {
		fmt.Fprintf(os.Stderr, "--- %s gateway log ---\n%s\n", g.name, log)
		return fmt.Errorf("%s gateway reported a data race", g.name)
	}
	return nil
}

// dumpLog prints the last n lines of the gateway's log to stderr.
func (g *gateway) dumpLog(n int) {
	log, err := os.ReadFile(g.logPath)
	if err != nil || len(log) == 0 {
		return
	}
	lines := strings.Split(strings.TrimRight(string(log), "\n"), "\n")
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	fmt.Fprintf(os.Stderr, "--- %s gateway log (last %d lines) ---\n%s\n",
		g.name, len(lines), strings.Join(lines, "\n"))
}

// needTimed skips t when no server with known short delays is available.
func needTimed(t *testing.T) {
	t.Helper()
	if timedURL == "" {
		t.Skip("SOCKJS_URL is set without SOCKJS_DISCONNECT_DELAY and SOCKJS_HEARTBEAT_DELAY")
	}
}
