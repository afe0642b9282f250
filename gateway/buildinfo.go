package gateway

import (
	"runtime"
	"runtime/debug"

	"github.com/prometheus/client_golang/prometheus"
)

// BuildInfo names the build of the running program, as the
// sockgate_build_info metric and `sockgate -version` show it.
type BuildInfo struct {
	// Version is the main module's version ("(devel)" for a local build).
	Version string
	// Commit is the VCS revision the binary was built from, with "+dirty"
	// when the tree had uncommitted changes; "unknown" without VCS data.
	Commit string
	// GoVersion is the Go release that built the binary.
	GoVersion string
}

// linkedCommit is the commit `make build` stamps with -ldflags -X, for
// builds where Go's own VCS stamping is off (GOFLAGS=-buildvcs=false).
var linkedCommit string

// ReadBuildInfo reads the running binary's BuildInfo.
func ReadBuildInfo() BuildInfo {
	b := BuildInfo{Version: "(devel)", Commit: "unknown", GoVersion: runtime.Version()}
	if linkedCommit != "" {
		b.Commit = linkedCommit
	}
	info, ok := debug.ReadBuildInfo()
	if !ok {
		return b
	}
	if v := info.Main.Version; v != "" {
		b.Version = v
	}
	var dirty bool
	for _, s := range info.Settings {
		switch s.Key {
		case "vcs.revision":
			b.Commit = s.Value
			if len(b.Commit) > 12 {
				b.Commit = b.Commit[:12]
			}
		case "vcs.modified":
			dirty = s.Value == "true"
		}
	}
	if dirty && b.Commit != "unknown" {
		b.Commit += "+dirty"
	}
	return b
}

// buildInfoGauge is sockgate_build_info: always 1, with the build's
// version, commit and Go version as labels.
func buildInfoGauge() prometheus.Collector {
	b := ReadBuildInfo()
	g := prometheus.NewGauge(prometheus.GaugeOpts{
		Name:        "sockgate_build_info",
		Help:        "Always 1; the labels name the running build.",
		ConstLabels: prometheus.Labels{"version": b.Version, "commit": b.Commit, "goversion": b.GoVersion},
	})
	g.Set(1)
	return g
}
