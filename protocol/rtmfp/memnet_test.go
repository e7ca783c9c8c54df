package rtmfp

import (
	"net"
	"net/netip"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
)

// memNet is an in-memory datagram network for tests that run in a
// testing/synctest bubble: a blocked read waits on the bubble's channels
// and timers rather than a socket, so the bubble's fake clock advances
// whenever every goroutine waits, and timers fire exactly on time. Every
// datagram takes the same one-way delay, so none overtakes another, and
// every datagram sent is logged, delivered or not.
type memNet struct {
	delay time.Duration

	mu    sync.Mutex
	conns map[netip.AddrPort]*memConn
	down  bool // drop every datagram
	sent  []memDatagram
}

// memDatagram is the log's record of one datagram.
type memDatagram struct {
	from, to netip.AddrPort
	at       time.Time // when it was sent
	size     int
	lost     bool
}

func newMemNet(delay time.Duration) *memNet {
	return &memNet{delay: delay, conns: make(map[netip.AddrPort]*memConn)}
}

// setDown cuts (true) or restores the network in both directions.
func (n *memNet) setDown(down bool) {
	n.mu.Lock()
	n.down = down
	n.mu.Unlock()
}

// sentBy returns the send times of the datagrams from sent at or after
// since that are at least minSize bytes long.
func (n *memNet) sentBy(from netip.AddrPort, since time.Time, minSize int) []time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	var at []time.Time
	for _, d := range n.sent {
		if d.from == from && !d.at.Before(since) && d.size >= minSize {
			at = append(at, d.at)
		}
	}
	return at
}

// arrivals returns when the datagrams that reached to arrived.
func (n *memNet) arrivals(to netip.AddrPort) []time.Time {
	n.mu.Lock()
	defer n.mu.Unlock()
	var at []time.Time
	for _, d := range n.sent {
		if d.to == to && !d.lost {
			at = append(at, d.at.Add(n.delay))
		}
	}
	return at
}

// listen opens an endpoint at addr on the network; the test's cleanup
// closes it.
func (n *memNet) listen(t *testing.T, addr string, cfg Config) *Endpoint {
	t.Helper()
	c := &memConn{
		n:      n,
		addr:   netip.MustParseAddrPort(addr),
		notify: make(chan struct{}, 1),
		closed: make(chan struct{}),
	}
	n.mu.Lock()
	n.conns[c.addr] = c
	n.mu.Unlock()
	e, err := NewEndpoint(c, cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { e.Close() })
	return e
}

// memConn is one address on a memNet.
type memConn struct {
	n      *memNet
	addr   netip.AddrPort
	notify chan struct{} // a datagram was queued
	closed chan struct{}
	once   sync.Once

	mu sync.Mutex
	q  []memQueued
}

type memQueued struct {
	b    []byte
	from netip.AddrPort
	at   time.Time // when it arrives
}

func (c *memConn) ReadFrom(b []byte) (int, net.Addr, error) {
	for {
		c.mu.Lock()
		if len(c.q) == 0 {
			c.mu.Unlock()
			select {
			case <-c.notify:
				continue
			case <-c.closed:
				return 0, nil, net.ErrClosed
			}
		}
		d := c.q[0]
		if wait := time.Until(d.at); wait > 0 {
			c.mu.Unlock()
			t := time.NewTimer(wait)
			select {
			case <-t.C:
				continue
			case <-c.closed:
				t.Stop()
				return 0, nil, net.ErrClosed
			}
		}
		c.q = c.q[1:]
		c.mu.Unlock()
		return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
	}
}

func (c *memConn) WriteTo(b []byte, addr net.Addr) (int, error) {
	select {
	case <-c.closed:
		return 0, net.ErrClosed
	default:
	}
	to := addrPortOf(addr)
	to = netip.AddrPortFrom(to.Addr().Unmap(), to.Port())
	now := time.Now()
	n := c.n
	n.mu.Lock()
	dst := n.conns[to]
	lost := n.down || dst == nil
	n.sent = append(n.sent, memDatagram{from: c.addr, to: to, at: now, size: len(b), lost: lost})
	n.mu.Unlock()
	if !lost {
		dst.mu.Lock()
		dst.q = append(dst.q, memQueued{b: append([]byte(nil), b...), from: c.addr, at: now.Add(n.delay)})
		dst.mu.Unlock()
		notify(dst.notify)
	}
	return len(b), nil
}

func (c *memConn) Close() error {
	c.once.Do(func() { close(c.closed) })
	return nil
}

func (c *memConn) LocalAddr() net.Addr              { return net.UDPAddrFromAddrPort(c.addr) }
func (c *memConn) SetDeadline(time.Time) error      { return nil }
func (c *memConn) SetReadDeadline(time.Time) error  { return nil }
func (c *memConn) SetWriteDeadline(time.Time) error { return nil }

// memConnect opens a server and a client endpoint on n (serverAddr and
// clientAddr) and a session between them.
func memConnect(t *testing.T, n *memNet, cfg Config) (server, client *Endpoint, ss, cs *Session) {
	t.Helper()
	server = n.listen(t, serverAddr.String(), cfg)
	client = n.listen(t, clientAddr.String(), cfg)
	accepted := make(chan *Session, 1)
	go func() {
		s, _ := server.Accept(t.Context())
		accepted <- s
	}()
	cs, err := client.DialEPD(t.Context(), memEPD, serverAddr)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	if ss = <-accepted; ss == nil {
		t.Fatal("no session accepted")
	}
	return server, client, ss, cs
}

var (
	serverAddr = netip.MustParseAddrPort("10.0.0.1:1935")
	clientAddr = netip.MustParseAddrPort("10.0.0.2:50000")
	memEPD     = flashcrypto.AppendURLEPD(nil, "rtmfp://10.0.0.1/app")
)
