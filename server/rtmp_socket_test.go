package server

import (
	"io"
	"net"
	"testing"
)

// BenchmarkSocketWriterDirect is one player's write of a live frame: a
// chunk header segment and shared chunks in one non-blocking writev. It
// must not allocate (a server makes this call 30 times a second per
// player).
func BenchmarkSocketWriterDirect(b *testing.B) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		b.Fatal(err)
	}
	defer ln.Close()
	done := make(chan struct{})
	go func() {
		defer close(done)
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		_, _ = io.Copy(io.Discard, c)
	}()
	nc, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		b.Fatal(err)
	}
	s := newSocketWriter(nc)
	if !s.direct() {
		b.Skip("no direct writes on this platform")
	}
	s.blocking = false
	hdr, frame := make([]byte, 12), make([]byte, 8<<10)
	base := make(net.Buffers, 0, 2)
	var vec net.Buffers // WriteBuffers consumes it; refilled from base
	b.SetBytes(int64(len(hdr) + len(frame)))
	b.ReportAllocs()
	for b.Loop() {
		vec = append(base[:0], hdr, frame)
		if _, err := s.WriteBuffers(&vec); err != nil {
			b.Fatal(err)
		}
		if len(s.pending) > 0 {
			s.blocking = true
			if _, err := s.flushPending(); err != nil {
				b.Fatal(err)
			}
			s.blocking = false
		}
	}
	b.StopTimer()
	nc.Close()
	<-done
}
