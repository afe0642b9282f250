package proxy

import (
	"fmt"
	"os"
	"testing"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// sockgateBin is the gateway binary every test runs, built by TestMain.
var sockgateBin string

func TestMain(m *testing.M) {
	os.Exit(runMain(m))
}

func runMain(m *testing.M) int {
	dir, err := os.MkdirTemp("", "sockgate-proxy-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		return 1
	}
	defer os.RemoveAll(dir)
	if sockgateBin, err = testbin.Build(dir, false); err != nil {
		fmt.Fprintln(os.Stderr, "proxy:", err)
		return 1
	}
	return m.Run()
}
