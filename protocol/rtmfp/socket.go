package rtmfp

import (
	"errors"
	"net"
	"net/netip"
)

// datagram is one outgoing packet.
type datagram struct {
	b    []byte
	addr netip.AddrPort
}

// socket is the endpoint's view of its UDP socket: batched reads into
// pooled packets and batched writes. newSocket picks a recvmmsg/sendmmsg
// implementation on Linux UDP sockets and a one-datagram-per-call fallback
// elsewhere.
type socket interface {
	// readBatch fills pkts[i].buf and .addr for the returned count.
	readBatch(pkts []*packet) (int, error)
	// writeBatch sends the datagrams; errors for single datagrams (an
	// unreachable peer) are not reported, only socket failures.
	writeBatch(ds []datagram) error
}

// plainSocket is the portable implementation.
type plainSocket struct {
	conn net.PacketConn
	udp  *net.UDPConn // non-nil when conn is a *net.UDPConn (no-allocation calls)
}

func newPlainSocket(conn net.PacketConn) *plainSocket {
	s := &plainSocket{conn: conn}
	s.udp, _ = conn.(*net.UDPConn)
	return s
}

func (s *plainSocket) readBatch(pkts []*packet) (int, error) {
	p := pkts[0]
	b := p.buf[:cap(p.buf)]
	if s.udp != nil {
		n, addr, err := s.udp.ReadFromUDPAddrPort(b)
		if err != nil {
			return 0, err
		}
		p.buf, p.addr = b[:n], addr
		return 1, nil
	}
	n, addr, err := s.conn.ReadFrom(b)
	if err != nil {
		return 0, err
	}
	p.buf, p.addr = b[:n], addrPortOf(addr)
	return 1, nil
}

func (s *plainSocket) writeBatch(ds []datagram) error {
	for _, d := range ds {
		var err error
		if s.udp != nil {
			_, err = s.udp.WriteToUDPAddrPort(d.b, d.addr)
		} else {
			_, err = s.conn.WriteTo(d.b, net.UDPAddrFromAddrPort(d.addr))
		}
		if err != nil && isClosedErr(err) {
			return err
		}
	}
	return nil
}

func addrPortOf(a net.Addr) netip.AddrPort {
	switch a := a.(type) {
	case *net.UDPAddr:
		return a.AddrPort()
	case interface{ AddrPort() netip.AddrPort }:
		return a.AddrPort()
	}
	ap, _ := netip.ParseAddrPort(a.String())
	return ap
}

func isClosedErr(err error) bool { return errors.Is(err, net.ErrClosed) }
