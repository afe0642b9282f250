package proxy

import (
	"os"
	"testing"

	"github.com/sockgate/sockgate/test/internal/testbin"
)

// sockgateBin is the gateway binary every test runs, built by TestMain.
var sockgateBin string

func TestMain(m *testing.M) {
	os.Exit(testbin.Main("proxy", false, func(bin string) int {
		sockgateBin = bin
		return m.Run()
	}))
}
