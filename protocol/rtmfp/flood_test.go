package rtmfp

import (
	"net"
	"runtime"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// floodConn is a net.PacketConn that delivers the same startup datagram
// from a different source address on every read, then blocks until closed.
// Writes are counted and discarded.
type floodConn struct {
	datagrams [][]byte
	total     int64
	reads     atomic.Int64
	writes    atomic.Int64
	closed    chan struct{}
}

func (c *floodConn) ReadFrom(b []byte) (int, net.Addr, error) {
	i := c.reads.Load()
	if i >= c.total {
		<-c.closed
		return 0, nil, net.ErrClosed
	}
	c.reads.Add(1)
	n := copy(b, c.datagrams[i%int64(len(c.datagrams))])
	addr := &net.UDPAddr{IP: net.IPv4(10, byte(i>>16), byte(i>>8), byte(i)), Port: 1024 + int(i%50000)}
	return n, addr, nil
}

func (c *floodConn) WriteTo(b []byte, _ net.Addr) (int, error) {
	c.writes.Add(1)
	return len(b), nil
}

func (c *floodConn) Close() error                     { close(c.closed); return nil }
func (c *floodConn) LocalAddr() net.Addr              { return &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1935} }
func (c *floodConn) SetDeadline(time.Time) error      { return nil }
func (c *floodConn) SetReadDeadline(time.Time) error  { return nil }
func (c *floodConn) SetWriteDeadline(time.Time) error { return nil }

func startupDatagram(t testing.TB, fn func([]byte) ([]byte, error)) []byte {
	t.Helper()
	s := flashcrypto.NewDefaultSealer()
	b := appendStartupHeader(make([]byte, 4+s.FrontMargin(), 1500), 1)
	b, err := fn(b)
	if err != nil {
		t.Fatal(err)
	}
	return append([]byte(nil), s.Seal(b, 0)...)
}

// Test 4: a flood of 100,000 IHellos (and forged IIKeyings) from as many
// addresses leaves no per-peer state on the server.
func TestIHelloFloodLeavesNoState(t *testing.T) {
	leakCheck(t)
	ihello := startupDatagram(t, func(b []byte) ([]byte, error) {
		return wire.AppendIHello(b, &wire.IHello{EPD: flashcrypto.AppendURLEPD(nil, "rtmfp://nimbus.example/live"), Tag: make([]byte, 16)})
	})
	forged := startupDatagram(t, func(b []byte) ([]byte, error) {
		return wire.AppendIIKeying(b, &wire.IIKeying{InitiatorSessionID: 7, CookieEcho: make([]byte, cookieLen),
			Certificate: []byte{0x02, 0x15, 0x02}, SKIC: []byte{0x02, 0x1d, 0x02}, Signature: []byte("X")})
	})
	conn := &floodConn{datagrams: [][]byte{ihello, ihello, ihello, forged}, total: 100000, closed: make(chan struct{})}
	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	e, err := NewEndpoint(conn, testConfig())
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(60 * time.Second)
	for conn.reads.Load() < conn.total && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	time.Sleep(50 * time.Millisecond) // let the last datagram be processed
	runtime.GC()
	runtime.ReadMemStats(&after)
	e.mu.RLock()
	state := len(e.sessions) + len(e.byCookie) + len(e.dialing) + len(e.retired)
	e.mu.RUnlock()
	replies := conn.writes.Load()
	e.Close()
	if conn.reads.Load() != conn.total {
		t.Fatalf("only %d of %d datagrams read", conn.reads.Load(), conn.total)
	}
	if state != 0 {
		t.Fatalf("%d entries of per-peer state after the flood", state)
	}
	growth := int64(after.HeapAlloc) - int64(before.HeapAlloc)
	t.Logf("%d IHellos answered with %d RHellos; heap growth %d bytes", conn.total*3/4, replies, growth)
	if growth > 2<<20 {
		t.Fatalf("heap grew by %d bytes during the flood", growth)
	}
	if replies == 0 || replies > conn.total*3/4 {
		t.Fatalf("%d replies to %d IHellos", replies, conn.total*3/4)
	}
}
