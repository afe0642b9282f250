package main

import (
	"fmt"

	"github.com/sockgate/sockgate/gateway"
)

// versionLine is what -version prints: the module version, the commit the
// binary was built from (with "+dirty" for uncommitted changes) and the Go
// version, all from the binary's build information.
func versionLine() string {
	b := gateway.ReadBuildInfo()
	return fmt.Sprintf("sockgate %s (commit %s, %s)", b.Version, b.Commit, b.GoVersion)
}
