package rtmp

import (
	"crypto/rc4"
	"fmt"
	"net"
	"sync"
)

// rtmpeChunk bounds how much of one Write is enciphered before it goes to
// the connection, so that the scratch buffer stays small whatever the write.
const rtmpeChunk = 32 << 10

// rtmpeScratch holds the buffers writes are enciphered into between writes:
// the bytes handed to Write may be shared (a live frame's payload goes to
// every player) and are never enciphered in place.
var rtmpeScratch = sync.Pool{New: func() any {
	b := make([]byte, rtmpeChunk)
	return &b
}}

// rtmpeConn is a connection after an RTMPE handshake: it deciphers what it
// reads and enciphers what it writes. It wraps any net.Conn, so RTMPE works
// over a tunnel (RTMPT) as over TCP.
type rtmpeConn struct {
	net.Conn
	read, write *rc4.Cipher
	// werr ends the write direction: see NewRTMPEConn.
	werr error
}

// NewRTMPEConn returns nc with the ciphers of an RTMPE handshake applied to
// everything read and written. A read and a write may run concurrently,
// not two of either. A write that fails or is cut short leaves the
// keystream ahead of what the peer received, so every later write fails
// with the same error; a read deciphers exactly the bytes it returns and
// stays usable. Deadlines and Close are nc's.
func NewRTMPEConn(nc net.Conn, c *Ciphers) net.Conn {
	return &rtmpeConn{Conn: nc, read: c.Read, write: c.Write}
}

// Read implements io.Reader, deciphering in place.
func (c *rtmpeConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.XORKeyStream(p[:n], p[:n])
	return n, err
}

// Write implements io.Writer, enciphering p into a scratch buffer a piece at
// a time.
func (c *rtmpeConn) Write(p []byte) (int, error) {
	if c.werr != nil {
		return 0, c.werr
	}
	bp := rtmpeScratch.Get().(*[]byte)
	defer rtmpeScratch.Put(bp)
	written := 0
	for written < len(p) {
		b := (*bp)[:min(len(p)-written, rtmpeChunk)]
		c.write.XORKeyStream(b, p[written:written+len(b)])
		n, err := c.Conn.Write(b)
		written += n
		if err != nil {
			c.werr = fmt.Errorf("rtmpe: write failed, keystream lost: %w", err)
			return written, err
		}
	}
	return written, nil
}
