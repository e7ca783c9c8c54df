package server

import (
	"errors"
	"syscall"
)

// smallReceiveBuffer shrinks a socket's receive buffer so that a client
// that does not read backs up quickly. Windows names sockets by Handle, not
// by the int of Unix file descriptors, hence a file of its own.
func smallReceiveBuffer(network, address string, c syscall.RawConn) error {
	var serr error
	err := c.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(syscall.Handle(fd), syscall.SOL_SOCKET, syscall.SO_RCVBUF, 4096)
	})
	return errors.Join(err, serr)
}
