//go:build unix

package gateway

import (
	"errors"
	"syscall"
)

// nonBlockingWrites tells whether tryWrite works on this platform.
const nonBlockingWrites = true

// tryWrite writes as much of p as the socket takes now, without waiting
// for room: the descriptor is non-blocking, and returning true from the
// callback stops the runtime from parking until it is writable.
func tryWrite(rc syscall.RawConn, p []byte) (int, error) {
	var n int
	var werr error
	err := rc.Write(func(fd uintptr) bool {
		for n < len(p) {
			m, e := syscall.Write(int(fd), p[n:])
			if m > 0 {
				n += m
			}
			switch {
			case e == syscall.EINTR:
				continue
			case e == syscall.EAGAIN:
				return true
			case e != nil:
				werr = e
				return true
			case m == 0:
				werr = errors.New("gateway: socket took no bytes")
				return true
			}
		}
		return true
	})
	if err != nil {
		return n, err
	}
	return n, werr
}
