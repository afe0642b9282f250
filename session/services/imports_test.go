package services_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServicesSeeOnlySession: the services, products and test-server
// fixtures alike, are written against package session alone; none
// depends on the engine, even indirectly.
func TestServicesSeeOnlySession(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test lists imports with the go command: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-deps", "github.com/sockgate/sockgate/session/services/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	deps := string(out)
	if !strings.Contains(deps, "github.com/sockgate/sockgate/session\n") {
		t.Fatalf("go list -deps does not list package session:\n%s", deps)
	}
	for _, banned := range []string{"github.com/sockgate/sockgate/session/engine", "github.com/sockgate/sockgate/gateway"} {
		if strings.Contains(deps, banned+"\n") {
			t.Errorf("the services depend on %s", banned)
		}
	}
}
