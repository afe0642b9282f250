package services_test

import (
	"os/exec"
	"strings"
	"testing"
)

// TestServicesSeeOnlySession: the services, products and test-server
// fixtures alike, are written against package session; none imports the
// engine or the gateway.
func TestServicesSeeOnlySession(t *testing.T) {
	t.Parallel()
	gobin, err := exec.LookPath("go")
	if err != nil {
		t.Fatalf("this test lists imports with the go command: %v", err)
	}
	out, err := exec.Command(gobin, "list", "-f", `{{join .Imports "\n"}}`, "github.com/sockgate/sockgate/session/services/...").CombinedOutput()
	if err != nil {
		t.Fatalf("go list: %v\n%s", err, out)
	}
	imports := string(out)
	if !strings.Contains(imports, "github.com/sockgate/sockgate/session\n") {
		t.Fatalf("go list does not list package session among the services' imports:\n%s", imports)
	}
	for _, banned := range []string{"github.com/sockgate/sockgate/session/engine", "github.com/sockgate/sockgate/gateway"} {
		if strings.Contains(imports, banned+"\n") {
			t.Errorf("a service imports %s", banned)
		}
	}
}
