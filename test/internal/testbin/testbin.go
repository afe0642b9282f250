// Package testbin gives the end-to-end suites in test/ the real sockgate
// binary and the child processes around it: Build compiles ./cmd/sockgate
// once per suite (or takes SOCKGATE_BIN); Start runs a process (a gateway,
// nginx, HAProxy) that the test's end stops; WaitHTTP waits until it
// answers; Output collects what it writes for a failure report.
package testbin

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// BuildTimeout bounds one build of the gateway.
const BuildTimeout = 5 * time.Minute

// Build returns the sockgate binary to test: $SOCKGATE_BIN when it is set,
// otherwise ./cmd/sockgate compiled into dir, with the race detector when
// race is true (suites pass whether they run with -race themselves).
func Build(dir string, race bool) (string, error) {
	if bin := os.Getenv("SOCKGATE_BIN"); bin != "" {
		return bin, nil
	}
	root, err := ModuleRoot()
	if err != nil {
		return "", err
	}
	bin := filepath.Join(dir, "sockgate")
	args := []string{"build", "-o", bin}
	if race {
		args = append(args, "-race")
	}
	ctx, cancel := context.WithTimeout(context.Background(), BuildTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", append(args, "./cmd/sockgate")...)
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return "", fmt.Errorf("testbin: go build ./cmd/sockgate: %w\n%s", err, out)
	}
	return bin, nil
}

// Main builds the gateway into a temporary directory for a suite's TestMain,
// calls run with the binary's path and returns its exit code (1, with the
// reason on stderr, when the build fails). Use it as
// os.Exit(testbin.Main("proxy", false, func(bin string) int { ...; return m.Run() })).
func Main(suite string, race bool, run func(bin string) int) int {
	dir, err := os.MkdirTemp("", "sockgate-"+suite+"-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, suite+":", err)
		return 1
	}
	defer os.RemoveAll(dir)
	bin, err := Build(dir, race)
	if err != nil {
		fmt.Fprintln(os.Stderr, suite+":", err)
		return 1
	}
	return run(bin)
}

// ModuleRoot is the directory of go.mod above the working directory.
func ModuleRoot() (string, error) {
	dir, err := os.Getwd()
	if err != nil {
		return "", fmt.Errorf("testbin: find the module root: %w", err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir, nil
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			return "", fmt.Errorf("testbin: no go.mod above the working directory")
		}
		dir = parent
	}
}

// Output collects a process's output; safe for concurrent use.
type Output struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

// Write implements io.Writer.
func (o *Output) Write(p []byte) (int, error) {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.Write(p)
}

// String is everything written so far.
func (o *Output) String() string {
	o.mu.Lock()
	defer o.mu.Unlock()
	return o.buf.String()
}

// Tail is the last n bytes written, at most, from a line start.
func (o *Output) Tail(n int) string { return Tail(o.String(), n) }
