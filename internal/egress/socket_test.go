package egress

import (
	"bytes"
	"errors"
	"io"
	"net"
	"os"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// BenchmarkSocketWriterDirect is one player's write of a live frame: a
// chunk header segment and shared chunks in one non-blocking writev. It
// must not allocate (a server makes this call 30 times a second per
// player).
func BenchmarkSocketWriterDirect(b *testing.B) {
	nc, wait := testtools.TCPSink(b, io.Discard)
	s := NewSocket(nc)
	if !s.Direct() {
		b.Skip("no direct writes on this platform")
	}
	s.SetBlocking(false)
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
		flushBlocking(b, s)
	}
	b.StopTimer()
	wait()
}

// flushBlocking writes out, blocking, what a non-blocking write left
// pending, as the connection's sender goroutine would.
func flushBlocking(b *testing.B, s *Socket) {
	if s.Pending() == 0 {
		return
	}
	s.SetBlocking(true)
	if _, err := s.FlushPending(); err != nil {
		b.Fatal(err)
	}
	s.SetBlocking(false)
}

// TestSocketWriterManyBuffers: a vector longer than one writev takes (a
// GOP-cache burst of chunk headers and payload slices) arrives whole and
// in order, what the socket did not take going out from pending.
func TestSocketWriterManyBuffers(t *testing.T) {
	var got bytes.Buffer
	nc, wait := testtools.TCPSink(t, &got)
	s := NewSocket(nc)
	if !s.Direct() {
		t.Skip("no direct writes on this platform")
	}
	s.SetBlocking(false)
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
	s.SetBlocking(true)
	if _, err := s.FlushPending(); err != nil {
		t.Fatal(err)
	}
	if wait(); !bytes.Equal(got.Bytes(), want) {
		t.Fatalf("received %d bytes differing from the %d written", got.Len(), len(want))
	}
}

// tcpPair returns both ends of a loopback TCP connection, closed when the
// test ends.
func tcpPair(t *testing.T) (server, client *net.TCPConn) {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		t.Fatal(err)
	}
	s, err := ln.Accept()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close(); s.Close() })
	return s.(*net.TCPConn), c.(*net.TCPConn)
}

// TestSocketRead: reads through read(2) deliver what the peer wrote, wait
// for input, honour the read deadline, and report the peer's close as
// io.EOF and a local close as net.ErrClosed, as net.Conn.Read does.
func TestSocketRead(t *testing.T) {
	nc, peer := tcpPair(t)
	s := NewSocket(nc)

	// Bytes written before and while the reader waits.
	want := bytes.Repeat([]byte("nimbus"), 2000)
	go func() {
		_, _ = peer.Write(want[:100])
		time.Sleep(20 * time.Millisecond)
		_, _ = peer.Write(want[100:])
	}()
	got := make([]byte, len(want))
	if _, err := io.ReadFull(s, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("read bytes differ from the written ones")
	}

	if n, err := s.Read(nil); n != 0 || err != nil {
		t.Fatalf("empty read = %d, %v", n, err)
	}
	_ = nc.SetReadDeadline(time.Now().Add(30 * time.Millisecond))
	if _, err := s.Read(got); !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Fatalf("read past the deadline: %v, want a deadline error", err)
	}
	_ = nc.SetReadDeadline(time.Time{})

	peer.Close()
	if _, err := s.Read(got); err != io.EOF {
		t.Fatalf("read after the peer closed: %v, want io.EOF", err)
	}
	nc.Close()
	if _, err := s.Read(got); !errors.Is(err, net.ErrClosed) {
		t.Fatalf("read after close: %v, want net.ErrClosed", err)
	}
}
