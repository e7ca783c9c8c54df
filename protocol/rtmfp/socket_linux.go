//go:build linux && (amd64 || arm64)

package rtmfp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"
)

// Batched datagram I/O with recvmmsg(2) and sendmmsg(2): one system call
// moves up to readBatchSize datagrams in, or a session's whole batch out.
// The calls are made directly rather than through golang.org/x/net's
// ipv4/ipv6 ReadBatch, because that API returns each sender as a freshly
// allocated net.Addr, and the data path here promises no allocation per
// packet. Addresses are decoded straight into netip.AddrPort.

// mmsghdr is struct mmsghdr of the 64-bit Linux ABI.
type mmsghdr struct {
	hdr syscall.Msghdr
	len uint32
	_   [4]byte
}

type batchSocket struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	v6   bool // the socket is AF_INET6: every address is written as IPv6

	// Read state, used by the read loop only.
	rhdrs  [readBatchSize]mmsghdr
	riov   [readBatchSize]syscall.Iovec
	rnames [readBatchSize]syscall.RawSockaddrInet6
	rcount int
	rn     int
	rerr   syscall.Errno
	rfn    func(fd uintptr) bool

	// Write state; sessions write concurrently.
	wmu    sync.Mutex
	whdrs  [maxBatch]mmsghdr
	wiov   [maxBatch]syscall.Iovec
	wnames [maxBatch]syscall.RawSockaddrInet6
	wcount int
	wn     int
	werr   syscall.Errno
	wfn    func(fd uintptr) bool
}

func newSocket(conn net.PacketConn) socket {
	udp, ok := conn.(*net.UDPConn)
	if !ok {
		return newPlainSocket(conn)
	}
	raw, err := udp.SyscallConn()
	if err != nil {
		return newPlainSocket(conn)
	}
	la, _ := udp.LocalAddr().(*net.UDPAddr)
	s := &batchSocket{conn: udp, raw: raw}
	var family int
	_ = raw.Control(func(fd uintptr) {
		if sa, err := syscall.Getsockname(int(fd)); err == nil {
			if _, ok := sa.(*syscall.SockaddrInet6); ok {
				family = syscall.AF_INET6
			}
		}
	})
	s.v6 = family == syscall.AF_INET6 || (la != nil && la.IP.To4() == nil)
	s.rfn = s.doRead
	s.wfn = s.doWrite
	return s
}

func (s *batchSocket) doRead(fd uintptr) bool {
	n, _, e := syscall.Syscall6(sysRECVMMSG, fd, uintptr(unsafe.Pointer(&s.rhdrs[0])), uintptr(s.rcount), 0, 0, 0)
	if e == syscall.EAGAIN || e == syscall.EINTR {
		return false
	}
	s.rn, s.rerr = int(n), e
	return true
}

func (s *batchSocket) readBatch(pkts []*packet) (int, error) {
	count := min(len(pkts), readBatchSize)
	for i := 0; i < count; i++ {
		b := pkts[i].buf[:cap(pkts[i].buf)]
		s.riov[i] = syscall.Iovec{Base: &b[0], Len: uint64(len(b))}
		s.rhdrs[i] = mmsghdr{hdr: syscall.Msghdr{
			Name:    (*byte)(unsafe.Pointer(&s.rnames[i])),
			Namelen: uint32(unsafe.Sizeof(s.rnames[i])),
			Iov:     &s.riov[i],
			Iovlen:  1,
		}}
	}
	s.rcount = count
	if err := s.raw.Read(s.rfn); err != nil {
		return 0, err
	}
	if s.rerr != 0 {
		return 0, &net.OpError{Op: "recvmmsg", Net: "udp", Err: s.rerr}
	}
	for i := 0; i < s.rn; i++ {
		p := pkts[i]
		p.buf = p.buf[:s.rhdrs[i].len]
		p.addr = sockaddrToAddrPort(&s.rnames[i])
	}
	return s.rn, nil
}

func sockaddrToAddrPort(sa *syscall.RawSockaddrInet6) netip.AddrPort {
	raw := (*[28]byte)(unsafe.Pointer(sa))
	port := binary.BigEndian.Uint16(raw[2:4])
	switch sa.Family {
	case syscall.AF_INET:
		return netip.AddrPortFrom(netip.AddrFrom4([4]byte(raw[4:8])), port)
	case syscall.AF_INET6:
		return netip.AddrPortFrom(netip.AddrFrom16(sa.Addr).Unmap(), port)
	}
	return netip.AddrPort{}
}

// putSockaddr encodes a for the socket's family and returns its length.
func (s *batchSocket) putSockaddr(sa *syscall.RawSockaddrInet6, a netip.AddrPort) uint32 {
	*sa = syscall.RawSockaddrInet6{}
	raw := (*[28]byte)(unsafe.Pointer(sa))
	binary.BigEndian.PutUint16(raw[2:4], a.Port())
	if s.v6 {
		sa.Family = syscall.AF_INET6
		sa.Addr = a.Addr().As16()
		return syscall.SizeofSockaddrInet6
	}
	sa.Family = syscall.AF_INET
	ip := a.Addr().Unmap().As4()
	copy(raw[4:8], ip[:])
	return syscall.SizeofSockaddrInet4
}

func (s *batchSocket) doWrite(fd uintptr) bool {
	n, _, e := syscall.Syscall6(sysSENDMMSG, fd, uintptr(unsafe.Pointer(&s.whdrs[s.wn])), uintptr(s.wcount-s.wn), 0, 0, 0)
	switch {
	case e == syscall.EAGAIN || e == syscall.EINTR:
		return false
	case e != 0:
		// The datagram at s.wn failed (for example, no route): skip it,
		// like a lost packet, unless the socket itself is gone.
		if e == syscall.EBADF {
			s.werr = e
			return true
		}
		s.wn++
	default:
		s.wn += int(n)
	}
	return s.wn >= s.wcount
}

func (s *batchSocket) writeBatch(ds []datagram) error {
	s.wmu.Lock()
	defer s.wmu.Unlock()
	for len(ds) > 0 {
		count := min(len(ds), maxBatch)
		for i := 0; i < count; i++ {
			d := &ds[i]
			s.wiov[i] = syscall.Iovec{Base: &d.b[0], Len: uint64(len(d.b))}
			s.whdrs[i] = mmsghdr{hdr: syscall.Msghdr{
				Name:    (*byte)(unsafe.Pointer(&s.wnames[i])),
				Namelen: s.putSockaddr(&s.wnames[i], d.addr),
				Iov:     &s.wiov[i],
				Iovlen:  1,
			}}
		}
		s.wcount, s.wn, s.werr = count, 0, 0
		if err := s.raw.Write(s.wfn); err != nil {
			return err
		}
		if s.werr != 0 {
			return &net.OpError{Op: "sendmmsg", Net: "udp", Err: s.werr}
		}
		ds = ds[count:]
	}
	return nil
}
