package gateway

import (
	"net"
	"syscall"
	"time"
)

// tcpUserTimeout is TCP_USER_TIMEOUT of linux/tcp.h (the same on every
// architecture); package syscall predates it.
const tcpUserTimeout = 0x12

// setPeerTimeout makes the kernel abort conn when data written to it stays
// unacknowledged for d (TCP_USER_TIMEOUT): a peer that vanished, or one
// whose receive window stays closed because it stopped reading. Reads then
// fail with a timeout. It is the keep-alive of a connection whose protocol
// has no ping (hixie-76), where the heartbeat frames are the data that
// must be acknowledged.
func setPeerTimeout(conn net.Conn, d time.Duration) error {
	sc, ok := conn.(syscall.Conn)
	if !ok {
		return nil
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return err
	}
	var serr error
	err = raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.IPPROTO_TCP, tcpUserTimeout, int(d.Milliseconds()))
	})
	if err != nil {
		return err
	}
	return serr
}
