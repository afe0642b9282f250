package bridge

import (
	"fmt"
	"net/http"
	"os"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/test/internal/testbin"
	"github.com/sockgate/sockgate/test/sockjsclient"
)

// sockgateBin is the gateway binary the drain test runs, built by TestMain.
var sockgateBin string

// TestMain needs the Node backend's packages (npm ci in backend/, which
// `make test-go` runs first): without them it fails, saying so. It builds
// the binary, and fails the package when goroutines outlive the tests.
func TestMain(m *testing.M) {
	if _, err := os.Stat("backend/node_modules/ws/package.json"); err != nil {
		fmt.Fprintln(os.Stderr, "bridge: the Node backend's packages are missing; run `make bridge-deps` "+
			"(npm ci in test/bridge/backend):", err)
		os.Exit(1)
	}
	os.Exit(testbin.Main("bridge", false, func(bin string) int {
		sockgateBin = bin
		code := m.Run()
		if code == 0 {
			sockjsclient.CloseIdleConnections()
			http.DefaultClient.CloseIdleConnections()
			if err := findLeaks(); err != nil {
				fmt.Fprintln(os.Stderr, "goleak:", err)
				code = 1
			}
		}
		return code
	}))
}

// findLeaks repeats goleak.Find until no goroutine is left or 5s passed.
func findLeaks() error {
	deadline := time.Now().Add(5 * time.Second)
	for {
		err := goleak.Find()
		if err == nil || time.Now().After(deadline) {
			return err
		}
	}
}
