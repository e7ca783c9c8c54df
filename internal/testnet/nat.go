package testnet

import (
	"errors"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"
)

// NAT simulates a network address translator on loopback for P2P tests,
// with the mapping and filtering behaviours of RFC 4787 §4.1 and §5.
//
// A host behind the NAT is a net.PacketConn (Host) that an RTMFP endpoint
// uses as its socket. Its WriteTo picks a mapping for the destination (an
// "outside" UDP socket whose address is the host's public address toward
// that destination) and sends from it; datagrams reaching an outside
// socket are delivered to the host only if the filtering behaviour
// permits their source. Each host also has a private (LAN) address, a
// socket that only hosts behind the same NAT can reach: that is the
// address a client reports with setPeerInfo, and the path peers on one
// LAN take when the NAT does not hairpin.
type NAT struct {
	cfg NATConfig

	mu     sync.Mutex
	hosts  map[netip.AddrPort]*Host // by LAN address
	maps   map[mapKey]*mapping
	public map[netip.AddrPort]bool // outside addresses
	closed bool
	wg     sync.WaitGroup
}

// Behavior is a NAT mapping or filtering behaviour (RFC 4787).
type Behavior int

// Behaviours: what a mapping is reused for, or what a mapping lets in.
const (
	// EndpointIndependent: one mapping per host (full cone when filtering).
	EndpointIndependent Behavior = iota
	// AddressDependent: per destination address.
	AddressDependent
	// AddressPortDependent: per destination address and port (symmetric
	// when mapping; port-restricted cone when filtering).
	AddressPortDependent
)

// NATConfig chooses the NAT's behaviour.
type NATConfig struct {
	Mapping   Behavior
	Filtering Behavior
	// Hairpin lets a host reach another host's public address on the same
	// NAT; without it such datagrams are dropped.
	Hairpin bool
	// PublicIP is the NAT's outside address, a loopback address so that
	// address-dependent behaviours can tell NATs and servers apart (Linux
	// answers on all of 127/8). Default 127.0.0.1.
	PublicIP netip.Addr
}

type mapKey struct {
	host *Host
	dst  netip.AddrPort // the part of the destination the mapping depends on
}

// mapping is one outside socket of a host with the destinations it sent to.
type mapping struct {
	host    *Host
	conn    *net.UDPConn
	mu      sync.Mutex
	allowed map[netip.AddrPort]bool // filtering key of each destination
}

// NewNAT makes a NAT.
func NewNAT(cfg NATConfig) *NAT {
	if !cfg.PublicIP.IsValid() {
		cfg.PublicIP = netip.AddrFrom4([4]byte{127, 0, 0, 1})
	}
	return &NAT{cfg: cfg, hosts: make(map[netip.AddrPort]*Host), maps: make(map[mapKey]*mapping), public: make(map[netip.AddrPort]bool)}
}

// Host is a host behind a NAT, usable as an RTMFP endpoint's socket.
type Host struct {
	nat    *NAT
	lan    *net.UDPConn
	in     chan inbound
	done   chan struct{}
	closed atomic.Bool
	// Sent and Received count datagrams through the NAT and the LAN.
	Sent, Received atomic.Int64
}

type inbound struct {
	b    []byte
	from netip.AddrPort
}

// Host adds a host behind the NAT with a fresh private address.
func (n *NAT) Host() (*Host, error) {
	lan, err := listenOn(netip.AddrFrom4([4]byte{127, 0, 0, 1}))
	if err != nil {
		return nil, err
	}
	h := &Host{nat: n, lan: lan, in: make(chan inbound, 256), done: make(chan struct{})}
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		lan.Close()
		return nil, net.ErrClosed
	}
	n.hosts[h.LANAddr()] = h
	n.wg.Add(1)
	n.mu.Unlock()
	go n.pumpLAN(h)
	return h, nil
}

// Close closes every host's sockets and waits for the NAT's goroutines.
func (n *NAT) Close() error {
	n.mu.Lock()
	n.closed = true
	var errs []error
	for _, m := range n.maps {
		errs = append(errs, m.conn.Close())
	}
	for _, h := range n.hosts {
		h.shut()
	}
	n.mu.Unlock()
	n.wg.Wait()
	return errors.Join(errs...)
}

func listenOn(ip netip.Addr) (*net.UDPConn, error) {
	return net.ListenUDP("udp4", net.UDPAddrFromAddrPort(netip.AddrPortFrom(ip, 0)))
}

// key reduces an address to what a behaviour depends on.
func key(b Behavior, a netip.AddrPort) netip.AddrPort {
	switch b {
	case EndpointIndependent:
		return netip.AddrPort{}
	case AddressDependent:
		return netip.AddrPortFrom(a.Addr(), 0)
	}
	return a
}

// route sends b from h to dst.
func (n *NAT) route(h *Host, b []byte, dst netip.AddrPort) error {
	n.mu.Lock()
	if n.closed {
		n.mu.Unlock()
		return net.ErrClosed
	}
	if n.hosts[dst] != nil { // LAN path
		n.mu.Unlock()
		_, err := h.lan.WriteToUDPAddrPort(b, dst)
		return err
	}
	if n.public[dst] && !n.cfg.Hairpin {
		n.mu.Unlock()
		return nil
	}
	k := mapKey{host: h, dst: key(n.cfg.Mapping, dst)}
	m := n.maps[k]
	if m == nil {
		conn, err := listenOn(n.cfg.PublicIP)
		if err != nil {
			n.mu.Unlock()
			return err
		}
		m = &mapping{host: h, conn: conn, allowed: make(map[netip.AddrPort]bool)}
		n.maps[k] = m
		n.public[conn.LocalAddr().(*net.UDPAddr).AddrPort()] = true
		n.wg.Add(1)
		go n.pumpOutside(m)
	}
	n.mu.Unlock()
	m.mu.Lock()
	m.allowed[key(n.cfg.Filtering, dst)] = true
	m.mu.Unlock()
	_, err := m.conn.WriteToUDPAddrPort(b, dst)
	return err
}

// pumpOutside delivers what reaches a mapping's public address, filtered.
func (n *NAT) pumpOutside(m *mapping) {
	defer n.wg.Done()
	buf := make([]byte, 2048)
	for {
		k, from, err := m.conn.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		m.mu.Lock()
		ok := m.allowed[key(n.cfg.Filtering, from)]
		m.mu.Unlock()
		if ok {
			m.host.deliver(buf[:k], from)
		}
	}
}

// pumpLAN delivers what reaches a host's private address from hosts on
// the same LAN; the outside world cannot route to a private address.
func (n *NAT) pumpLAN(h *Host) {
	defer n.wg.Done()
	buf := make([]byte, 2048)
	for {
		k, from, err := h.lan.ReadFromUDPAddrPort(buf)
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return
			}
			continue
		}
		n.mu.Lock()
		local := n.hosts[from] != nil
		n.mu.Unlock()
		if local {
			h.deliver(buf[:k], from)
		}
	}
}

func (h *Host) deliver(b []byte, from netip.AddrPort) {
	select {
	case h.in <- inbound{b: append([]byte(nil), b...), from: from}:
		h.Received.Add(1)
	default: // a full queue drops, as a full socket buffer does
	}
}

// LANAddr is the host's private address.
func (h *Host) LANAddr() netip.AddrPort { return h.lan.LocalAddr().(*net.UDPAddr).AddrPort() }

// ReadFrom implements net.PacketConn.
func (h *Host) ReadFrom(b []byte) (int, net.Addr, error) {
	select {
	case d := <-h.in:
		return copy(b, d.b), net.UDPAddrFromAddrPort(d.from), nil
	case <-h.done:
		return 0, nil, net.ErrClosed
	}
}

// WriteTo implements net.PacketConn.
func (h *Host) WriteTo(b []byte, addr net.Addr) (int, error) {
	if h.closed.Load() {
		return 0, net.ErrClosed
	}
	ua, ok := addr.(*net.UDPAddr)
	if !ok {
		return 0, errors.New("testnet: not a UDP address")
	}
	dst := ua.AddrPort()
	dst = netip.AddrPortFrom(dst.Addr().Unmap(), dst.Port())
	h.Sent.Add(1)
	if err := h.nat.route(h, b, dst); err != nil {
		return 0, err
	}
	return len(b), nil
}

// Close implements net.PacketConn: the host leaves the network.
func (h *Host) Close() error {
	h.nat.mu.Lock()
	delete(h.nat.hosts, h.LANAddr())
	for k, m := range h.nat.maps {
		if k.host == h {
			delete(h.nat.maps, k)
			delete(h.nat.public, m.conn.LocalAddr().(*net.UDPAddr).AddrPort())
			m.conn.Close()
		}
	}
	h.nat.mu.Unlock()
	h.shut()
	return nil
}

func (h *Host) shut() {
	if h.closed.CompareAndSwap(false, true) {
		close(h.done)
		h.lan.Close()
	}
}

// LocalAddr implements net.PacketConn: the private address.
func (h *Host) LocalAddr() net.Addr { return h.lan.LocalAddr() }

// SetDeadline implements net.PacketConn; hosts have no deadlines.
func (h *Host) SetDeadline(time.Time) error { return nil }

// SetReadDeadline implements net.PacketConn; hosts have no deadlines.
func (h *Host) SetReadDeadline(time.Time) error { return nil }

// SetWriteDeadline implements net.PacketConn; hosts have no deadlines.
func (h *Host) SetWriteDeadline(time.Time) error { return nil }
