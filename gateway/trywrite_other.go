//go:build !unix

package gateway

import (
	"errors"
	"syscall"
)

// nonBlockingWrites tells whether tryWrite works on this platform: not
// here, so every websocket write goes through a goroutine.
const nonBlockingWrites = false

func tryWrite(syscall.RawConn, []byte) (int, error) {
	return 0, errors.New("gateway: no non-blocking writes on this platform")
}
