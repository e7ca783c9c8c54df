package server

import (
	"bytes"
	"io"
	"net"
	"testing"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// BenchmarkSocketWriterDirect is one player's write of a live frame: a
// chunk header segment and shared chunks in one non-blocking writev. It
// must not allocate (a server makes this call 30 times a second per
// player).
func BenchmarkSocketWriterDirect(b *testing.B) {
	nc, wait := testtools.TCPSink(b, io.Discard)
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
	wait()
}

// TestSocketWriterManyBuffers: a vector longer than one writev takes (a
// GOP-cache burst of chunk headers and payload slices) arrives whole and
// in order, what the socket did not take going out from pending.
func TestSocketWriterManyBuffers(t *testing.T) {
	var got bytes.Buffer
	nc, wait := testtools.TCPSink(t, &got)
	s := newSocketWriter(nc)
	if !s.direct() {
		t.Skip("no direct writes on this platform")
	}
	s.blocking = false
	var want []byte
	var vec net.Buffers
	for i := range 3*iovBatch + 5 {
		b := make([]byte, 1+i*97%5000)
		for j := range b {
			b[j] = byte(i + j)
		}
		if i%7 == 3 {
			b = nil // empty segments are skipped
		}
		want = append(want, b...)
		vec = append(vec, b)
	}
	if n, err := s.WriteBuffers(&vec); err != nil || n != int64(len(want)) {
		t.Fatalf("WriteBuffers: %d, %v; want %d", n, err, len(want))
	}
	s.blocking = true
	if _, err := s.flushPending(); err != nil {
		t.Fatal(err)
	}
	if wait(); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("received %d bytes differing from the %d written", got.Len(), len(want))
	}
}
