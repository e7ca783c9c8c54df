package egress

import "net"

// Sender is a connection whose writes a SendBatch makes.
type Sender interface {
	// Pending appends the write's segments to dst: what the connection's
	// writer holds for the socket.
	Pending(dst net.Buffers) net.Buffers
	// Sent finishes a write the batch made: written bytes of segs went
	// (the rest is the connection's to keep for later), or err failed it.
	Sent(segs net.Buffers, written int, err error)
	// SendNow writes segs itself, for a write the batch could not make.
	SendNow(segs net.Buffers)
	// LocalAddr and RemoteAddr are the socket's, for errors.
	LocalAddr() net.Addr
	RemoteAddr() net.Addr
}
