package rtmp

import (
	"bytes"
	"crypto/rc4"
	"errors"
	"net"
	"testing"
)

// failConn takes limit bytes, then fails every write.
type failConn struct {
	net.Conn
	got   bytes.Buffer
	limit int
}

var errTestWrite = errors.New("test write failure")

func (c *failConn) Write(p []byte) (int, error) {
	n := min(len(p), c.limit-c.got.Len())
	c.got.Write(p[:n])
	if n < len(p) {
		return n, errTestWrite
	}
	return n, nil
}

// A write cut short leaves the keystream ahead of the peer: the conn must
// refuse every later write rather than send bytes the peer would decipher
// wrongly, and what did go out must be the correct ciphertext.
func TestRTMPEConnWriteFailureIsFinal(t *testing.T) {
	key := []byte("0123456789abcdef")
	read, _ := rc4.NewCipher(key)
	write, _ := rc4.NewCipher(key)
	fc := &failConn{limit: 50000}
	c := NewRTMPEConn(fc, &Ciphers{Read: read, Write: write})
	p := bytes.Repeat([]byte{0x5a}, 100000)
	if n, err := c.Write(p); n != 50000 || !errors.Is(err, errTestWrite) {
		t.Fatalf("Write = %d, %v; want 50000, the conn's error", n, err)
	}
	if n, err := c.Write([]byte("more")); n != 0 || !errors.Is(err, errTestWrite) {
		t.Fatalf("Write after failure = %d, %v; want 0 and the first error", n, err)
	}
	want, _ := rc4.NewCipher(key)
	plain := make([]byte, 50000)
	want.XORKeyStream(plain, fc.got.Bytes())
	if !bytes.Equal(plain, p[:50000]) {
		t.Fatal("the bytes written do not decipher to the input")
	}
	if fc.got.Len() != 50000 {
		t.Fatalf("%d bytes reached the conn, want 50000", fc.got.Len())
	}
}
