//go:build !(linux && (amd64 || arm64))

package rtmfp

import "net"

func newSocket(conn net.PacketConn) socket { return newPlainSocket(conn) }
