//go:build !linux

package gateway

import (
	"net"
	"time"
)

// setPeerTimeout is TCP_USER_TIMEOUT where the system has it (Linux); here
// a peer that vanished is left to TCP keepalive.
func setPeerTimeout(net.Conn, time.Duration) error { return nil }
