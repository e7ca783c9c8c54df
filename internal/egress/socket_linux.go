package egress

import (
	"io"
	"net"
	"os"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// directWrites: this platform has writev through syscall.RawConn.
const directWrites = true

// iovBatch is how many buffers one writev takes here: more than a live
// write has (a frame's chunk headers and payload slices, a few audio
// messages), few enough for the vector to live on the stack rather than
// in every connection.
const iovBatch = 64

// writev writes bufs with writev(2) without waiting for room and returns
// how many bytes the socket took; a full socket is not an error.
func (s *Socket) writev(bufs [][]byte) (int, error) {
	// Control rather than Write: Write would take the descriptor's write
	// lock and reset its poll state for a wait that never comes (the
	// call returns at once either way); the sender role already makes
	// this the only writer, and Control keeps the descriptor open.
	s.bufs, s.written, s.errno = bufs, 0, 0
	err := s.rc.Control(s.writevFn)
	s.bufs = nil // do not keep the buffers alive
	written, errno := s.written, s.errno
	switch {
	case err != nil:
		return written, err
	case errno == syscall.EAGAIN:
		return written, nil
	case errno != 0:
		return written, os.NewSyscallError("writev", errno)
	}
	return written, nil
}

// writevControl writes s.bufs to fd, iovBatch buffers per call, setting
// s.written and s.errno; it is made a method value once (writevFn) so
// that a write allocates nothing.
func (s *Socket) writevControl(fd uintptr) {
	var iov [iovBatch]unix.Iovec
	bufs := s.bufs
	for len(bufs) > 0 {
		n, want := 0, 0
		for len(bufs) > 0 && n < iovBatch {
			if b := bufs[0]; len(b) > 0 {
				iov[n] = unix.Iovec{Base: &b[0]}
				iov[n].SetLen(len(b))
				want += len(b)
				n++
			}
			bufs = bufs[1:]
		}
		if n == 0 {
			return
		}
		for {
			// Raw: the socket is non-blocking, so the call is short,
			// and the runtime's syscall bookkeeping (handing the P
			// off when a call runs long) costs more than the write
			// on a loopback fan-out of thousands.
			w, _, e := syscall.RawSyscall(unix.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&iov[0])), uintptr(n))
			if e == syscall.EINTR {
				continue
			}
			if e != 0 {
				s.errno = e
				return
			}
			s.written += int(w)
			if int(w) < want {
				return // the socket is full
			}
			break
		}
	}
}

// read reads into p with read(2) through RawConn.Read, which waits for
// input under the read deadline. Raw, like writev, and for one more
// reason: a goroutine entering an ordinary system call wakes the
// runtime's monitor thread (sysmon) from its deep sleep, after which it
// polls every 20 µs again for a while. A publisher read per message did
// that 30 times a second, just before each fan-out, and the monitor's
// polling during the fan-out cost more than the fan-out's own
// bookkeeping. The socket is non-blocking, so the call is short.
func (s *Socket) read(p []byte) (int, error) {
	if len(p) == 0 {
		return 0, nil
	}
	s.rbuf, s.nread, s.rerrno = p, 0, 0
	err := s.rc.Read(s.readFn)
	s.rbuf = nil
	n, errno := s.nread, s.rerrno
	switch {
	case err != nil:
		return 0, err
	case errno != 0:
		return 0, &net.OpError{Op: "read", Net: "tcp", Source: s.nc.LocalAddr(), Addr: s.nc.RemoteAddr(), Err: os.NewSyscallError("read", errno)}
	case n == 0:
		return 0, io.EOF
	}
	return n, nil
}

// readControl is read's RawConn.Read function, made a method value once
// (readFn): false asks the runtime to wait until the socket is readable.
func (s *Socket) readControl(fd uintptr) bool {
	for {
		n, _, e := syscall.RawSyscall(unix.SYS_READ, fd, uintptr(unsafe.Pointer(&s.rbuf[0])), uintptr(len(s.rbuf)))
		switch e {
		case syscall.EINTR:
			continue
		case syscall.EAGAIN:
			return false
		case 0:
			s.nread = int(n)
		default:
			s.rerrno = e
		}
		return true
	}
}

func (s *Socket) queuedInputControl(fd uintptr) { s.inq = InputQueued(fd) }

// InputQueued returns how many received bytes wait in socket fd
// (TIOCINQ), 0 when it cannot tell.
func InputQueued(fd uintptr) int {
	var n int32
	if _, _, e := syscall.RawSyscall(unix.SYS_IOCTL, fd, unix.TIOCINQ, uintptr(unsafe.Pointer(&n))); e != 0 {
		return 0
	}
	return int(n)
}
