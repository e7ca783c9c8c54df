package testtools

import (
	"io"
	"net"
	"testing"
)

// TCPSink dials a loopback listener that copies every byte it receives to
// w. wait closes the connection and returns once the copy is done, after
// which w holds everything; the listener goes with the test.
func TCPSink(t testing.TB, w io.Writer) (c net.Conn, wait func()) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(w, c)
	}()
	c, err = net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c, func() {
		c.Close()
		<-done
	}
}
