//go:build linux && (amd64 || arm64)

package rtmfp

import (
	"encoding/binary"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Batched datagram I/O with recvmmsg(2) and sendmmsg(2): one system call
// moves up to readBatchSize datagrams in, or a session's whole batch out.
// The calls are made directly rather than through golang.org/x/net's
// ipv4/ipv6 ReadBatch, because that API returns each sender as a freshly
// allocated net.Addr, and the data path here promises no allocation per
// packet. Addresses are decoded straight into netip.AddrPort. Writes
// group runs of equal-size datagrams into segmentation offload messages
// (see gsoRun).
//
// Both calls are raw (syscall.RawSyscall6): the socket is non-blocking, so
// they return at once, and an ordinary system call costs more than its
// bookkeeping. Entering one wakes the runtime's monitor thread (sysmon)
// from its deep sleep, after which it polls every 20 µs for as long as any
// goroutine runs; a server that reads a datagram batch, fans a frame out
// and goes idle again, 30 times a second, kept it polling through every
// fan-out.

// mmsghdr is struct mmsghdr of the 64-bit Linux ABI.
type mmsghdr struct {
	hdr unix.Msghdr
	len uint32
	_   [4]byte
}

type batchSocket struct {
	conn *net.UDPConn
	raw  syscall.RawConn
	v6   bool // the socket is AF_INET6: every address is written as IPv6

	// Read state, used by the read loop only.
	rhdrs  [readBatchSize]mmsghdr
	riov   [readBatchSize]unix.Iovec
	rnames [readBatchSize]unix.RawSockaddrInet6
	rcount int
	rn     int
	rerr   syscall.Errno
	rfn    func(fd uintptr) bool

	// Write state; sessions write concurrently.
	wmu    sync.Mutex
	whdrs  [maxBatch]mmsghdr
	wiov   [maxBatch]unix.Iovec
	wnames [maxBatch]unix.RawSockaddrInet6
	wctrl  [maxBatch][gsoControlLen]byte
	wcount int
	wn     int
	werr   syscall.Errno
	wfn    func(fd uintptr) bool
	// noGSO is set once the kernel refused a segmentation offload send.
	noGSO bool
}

// UDP generic segmentation offload (UDP_SEGMENT, Linux 4.18): a run of
// datagrams to one address, all of one size but the last, goes to the
// kernel as one message that it cuts into datagrams below the IP layer. A
// session's burst of full-size data packets then costs one trip through the
// IP and loopback or device path instead of one per packet; the peer
// receives ordinary datagrams.
const (
	solUDP        = 17  // SOL_UDP
	udpSegment    = 103 // UDP_SEGMENT
	gsoMaxSegs    = 64  // UDP_MAX_SEGMENTS
	gsoMaxBytes   = 65000
	gsoControlLen = 24 // CMSG_SPACE(sizeof(uint16)) on 64-bit Linux
)

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
	n, _, e := syscall.RawSyscall6(unix.SYS_RECVMMSG, fd, uintptr(unsafe.Pointer(&s.rhdrs[0])), uintptr(s.rcount), 0, 0, 0)
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
		s.riov[i] = unix.Iovec{Base: &b[0], Len: uint64(len(b))}
		s.rhdrs[i] = mmsghdr{hdr: unix.Msghdr{
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

func sockaddrToAddrPort(sa *unix.RawSockaddrInet6) netip.AddrPort {
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
func (s *batchSocket) putSockaddr(sa *unix.RawSockaddrInet6, a netip.AddrPort) uint32 {
	*sa = unix.RawSockaddrInet6{}
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
	n, _, e := syscall.RawSyscall6(unix.SYS_SENDMMSG, fd, uintptr(unsafe.Pointer(&s.whdrs[s.wn])), uintptr(s.wcount-s.wn), 0, 0, 0)
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
		if s.whdrs[s.wn].hdr.Controllen != 0 && (e == syscall.EIO || e == syscall.EINVAL || e == syscall.ENOPROTOOPT) {
			// No segmentation offload on this path: send runs as
			// single datagrams from now on (these are lost, and
			// retransmitted like any lost packet).
			s.noGSO = true
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
		msgs := 0
		for i := 0; i < count; {
			d := &ds[i]
			run := 1
			if !s.noGSO {
				run = gsoRun(ds[i:count])
			}
			for j := range run {
				b := ds[i+j].b
				s.wiov[i+j] = unix.Iovec{Base: &b[0], Len: uint64(len(b))}
			}
			h := &s.whdrs[msgs]
			*h = mmsghdr{hdr: unix.Msghdr{
				Name:    (*byte)(unsafe.Pointer(&s.wnames[msgs])),
				Namelen: s.putSockaddr(&s.wnames[msgs], d.addr),
				Iov:     &s.wiov[i],
				Iovlen:  uint64(run),
			}}
			if run > 1 {
				c := &s.wctrl[msgs]
				*c = [gsoControlLen]byte{}
				cm := (*syscall.Cmsghdr)(unsafe.Pointer(&c[0]))
				cm.Level, cm.Type = solUDP, udpSegment
				cm.SetLen(syscall.CmsgLen(2))
				binary.NativeEndian.PutUint16(c[syscall.CmsgLen(0):], uint16(len(d.b)))
				h.hdr.Control = &c[0]
				h.hdr.SetControllen(gsoControlLen)
			}
			msgs++
			i += run
		}
		s.wcount, s.wn, s.werr = msgs, 0, 0
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

// gsoRun is how many datagrams from the start of ds can go as one
// segmentation offload message: to one address, all as long as the first
// but the last, which may be shorter.
func gsoRun(ds []datagram) int {
	size := len(ds[0].b)
	n, total := 1, size
	for n < len(ds) && n < gsoMaxSegs {
		d := &ds[n]
		if d.addr != ds[0].addr || len(d.b) > size || total+len(d.b) > gsoMaxBytes {
			break
		}
		n++
		total += len(d.b)
		if len(d.b) < size {
			break // a short one ends the run
		}
	}
	return n
}
