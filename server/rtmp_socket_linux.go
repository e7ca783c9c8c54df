package server

import (
	"os"
	"syscall"
	"unsafe"
)

// directWrites: this platform has writev through syscall.RawConn.
const directWrites = true

// iovMax is Linux's IOV_MAX, the most buffers one writev takes.
const iovMax = 1024

// keptIovecs is the most iovecs a connection keeps room for between writes.
const keptIovecs = 32

// writev writes bufs with writev(2) without waiting for room and returns
// how many bytes the socket took; a full socket is not an error.
func (s *socketWriter) writev(bufs [][]byte) (int, error) {
	s.iov = s.iov[:0]
	for _, b := range bufs {
		if len(b) > 0 {
			iov := syscall.Iovec{Base: &b[0]}
			iov.SetLen(len(b))
			s.iov = append(s.iov, iov)
		}
	}
	defer func() {
		clear(s.iov) // do not keep the buffers alive
		if cap(s.iov) > keptIovecs {
			s.iov = nil // grown for a burst; do not keep it per player
		}
	}()
	// Control rather than Write: Write would take the descriptor's write
	// lock and reset its poll state for a wait that never comes (the
	// call returns at once either way); the sender role already makes
	// this the only writer, and Control keeps the descriptor open.
	s.written, s.errno = 0, 0
	err := s.rc.Control(s.writevFn)
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

// writevControl writes s.iov to fd, setting s.written and s.errno; it is
// made a method value once (writevFn) so that a write allocates nothing.
func (s *socketWriter) writevControl(fd uintptr) {
	for iov := s.iov; len(iov) > 0; {
		batch := iov[:min(len(iov), iovMax)]
		want := 0
		for i := range batch {
			want += int(batch[i].Len)
		}
		// Raw: the socket is non-blocking, so the call is short, and
		// the runtime's syscall bookkeeping (handing the P off when a
		// call runs long) costs more than the write on a loopback
		// fan-out of thousands.
		n, _, e := syscall.RawSyscall(syscall.SYS_WRITEV, fd, uintptr(unsafe.Pointer(&batch[0])), uintptr(len(batch)))
		if e == syscall.EINTR {
			continue
		}
		if e != 0 {
			s.errno = e
			return
		}
		s.written += int(n)
		if int(n) < want {
			return // the socket is full
		}
		iov = iov[len(batch):]
	}
}

func (s *socketWriter) queuedInputControl(fd uintptr) {
	var n int32
	if _, _, e := syscall.RawSyscall(syscall.SYS_IOCTL, fd, syscall.TIOCINQ, uintptr(unsafe.Pointer(&n))); e == 0 {
		s.inq = int(n)
	}
}

// sysIovec is struct iovec.
type sysIovec = syscall.Iovec
