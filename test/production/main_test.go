package production

import (
	"fmt"
	"os"
	"testing"

	"go.uber.org/goleak"

	"github.com/sockgate/sockgate/test/sockjsclient"
)

// TestMain runs the tests, then checks that every goroutine the gateways
// and clients started has ended.
func TestMain(m *testing.M) {
	code := m.Run()
	if code == 0 {
		sockjsclient.CloseIdleConnections()
		httpClient.CloseIdleConnections()
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "production: goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}
