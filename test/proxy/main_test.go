package proxy

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
)

// sockgateBin is the gateway binary every test runs, built by TestMain.
var sockgateBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	if bin := os.Getenv("SOCKGATE_BIN"); bin != "" {
		sockgateBin = bin
		return m.Run()
	}
	dir, err := os.MkdirTemp("", "sockgate-proxy-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	sockgateBin = filepath.Join(dir, "sockgate")
	if err := buildGateway(sockgateBin); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		return 1
	}
	return m.Run()
}

// buildGateway compiles cmd/sockgate into bin.
func buildGateway(bin string) error {
	root, err := filepath.Abs(filepath.Join("..", ".."))
	if err != nil {
		return err
	}
	cmd := exec.Command("go", "build", "-o", bin, "./cmd/sockgate")
	cmd.Dir = root
	if out, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("go build ./cmd/sockgate: %v\n%s", err, out)
	}
	return nil
}
