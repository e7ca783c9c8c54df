//go:build unix

package server

import (
	"errors"
	"syscall"
)

// smallReceiveBuffer shrinks a socket's receive buffer so that a client
// that does not read backs up quickly.
func smallReceiveBuffer(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return errors.Join(err, serr)
}
