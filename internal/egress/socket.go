package egress

import (
	"net"
	"syscall"
)

// Socket is a stream connection's socket as a chunk reader and writer use
// it. Writes: in blocking mode they go through the connection itself
// (writev through the net package, waiting for room under the write
// deadline); in non-blocking mode they take what the socket takes at once,
// never park the calling goroutine, and keep a copy of the rest (Pending);
// the connection then hands the rest to a goroutine of its own. Only the
// connection's current sender writes. Reads go through read(2) directly
// where the platform allows (read); only the connection's reader
// goroutine reads.
type Socket struct {
	nc net.Conn
	// rc reads and writes without the net package's poll bookkeeping;
	// nil when the connection cannot (TLS, or a platform without direct
	// calls here).
	rc syscall.RawConn
	// fd is the socket's descriptor, for writes that a batch makes
	// (SendBatch); it also closes the socket (Close). Without rc it only
	// closes.
	fd       *SharedFD
	blocking bool
	pending  []byte
	one      [1][]byte // a one-buffer vector, so that Write and FlushPending do not allocate
	// inq is the result of queuedInputFn, a method value made once so
	// that asking costs no allocation.
	inq           int
	queuedInputFn func(fd uintptr)
	// bufs is writevFn's argument, written and errno its results,
	// fields for the same reason.
	writevFn func(fd uintptr)
	bufs     [][]byte
	written  int
	errno    syscall.Errno
	// readFn reads into rbuf, setting nread and rerrno (read).
	readFn func(fd uintptr) bool
	rbuf   []byte
	nread  int
	rerrno syscall.Errno
}

// NewSocket wraps nc, in blocking mode. A TCP connection on a platform
// with direct system calls is written and read without the net package.
func NewSocket(nc net.Conn) *Socket { return NewSocketClosedBy(nc, nc.Close) }

// NewSocketClosedBy is NewSocket for a connection that close closes
// rather than nc.Close: a TCP connection its owner holds wrapped, whose
// Close also frees an admission slot (the wrapper's writes would lose
// writev, which the net package makes only for its own types), or a TLS
// connection that is to be closed under a blocked write, which
// tls.Conn.Close would wait for.
func NewSocketClosedBy(nc net.Conn, close func() error) *Socket {
	s := &Socket{nc: nc, blocking: true}
	fd := int32(-1)
	if tc, ok := nc.(*net.TCPConn); ok && directWrites {
		if rc, err := tc.SyscallConn(); err == nil && rc.Control(func(f uintptr) { fd = int32(f) }) == nil {
			s.rc = rc
			s.queuedInputFn = s.queuedInputControl
			s.writevFn = s.writevControl
			s.readFn = s.readControl
		}
	}
	s.fd = NewSharedFD(fd, close)
	return s
}

// Close closes the socket, or leaves it to the batch writing to it
// (SharedFD).
func (s *Socket) Close() error { return s.fd.Close() }

// FD is the socket's descriptor for a batch's writes.
func (s *Socket) FD() *SharedFD { return s.fd }

// RawConn is the socket's raw connection, nil unless Direct.
func (s *Socket) RawConn() syscall.RawConn { return s.rc }

// Blocking reports the write mode.
func (s *Socket) Blocking() bool { return s.blocking }

// SetBlocking sets the write mode; the caller sets or clears the write
// deadline to match.
func (s *Socket) SetBlocking(b bool) { s.blocking = b }

// Pending is how many bytes of earlier non-blocking writes wait for room.
func (s *Socket) Pending() int { return len(s.pending) }

// QueuedInput returns how many received bytes wait in the socket (0 when
// the platform cannot tell). Only the reader goroutine calls it.
func (s *Socket) QueuedInput() int {
	if s.rc == nil {
		return 0
	}
	s.inq = 0
	_ = s.rc.Control(s.queuedInputFn)
	return s.inq
}

// Read implements io.Reader, with read(2) called directly on platforms
// that write directly (Socket.read), through the connection elsewhere.
func (s *Socket) Read(p []byte) (int, error) {
	if s.rc == nil {
		return s.nc.Read(p)
	}
	return s.read(p)
}

// Direct reports whether the socket can be written without blocking.
func (s *Socket) Direct() bool { return s.rc != nil }

// Write implements io.Writer.
func (s *Socket) Write(p []byte) (int, error) {
	s.one[0] = p
	v := net.Buffers(s.one[:])
	n, err := s.WriteBuffers(&v)
	s.one[0] = nil
	return int(n), err
}

// WriteBuffers implements rtmp.BuffersWriter. In non-blocking mode it
// accepts everything (or fails): what the socket did not take is copied to
// Pending, and the caller stops producing until FlushPending empties it.
func (s *Socket) WriteBuffers(v *net.Buffers) (int64, error) {
	if s.blocking {
		return v.WriteTo(s.nc)
	}
	var total, skip int64
	for _, b := range *v {
		total += int64(len(b))
	}
	if len(s.pending) == 0 {
		n, err := s.writev(*v)
		if err != nil {
			return int64(n), err
		}
		skip = int64(n)
	}
	s.Keep(*v, skip)
	*v = (*v)[len(*v):]
	return total, nil
}

// Keep copies what is left of v after its first skip bytes to pending,
// for a write that the socket took only that much of.
func (s *Socket) Keep(v net.Buffers, skip int64) {
	for _, b := range v {
		if skip >= int64(len(b)) {
			skip -= int64(len(b))
			continue
		}
		s.pending = append(s.pending, b[skip:]...)
		skip = 0
	}
}

// FlushPending writes what an earlier non-blocking write left over; in
// non-blocking mode it reports whether all of it went.
func (s *Socket) FlushPending() (done bool, err error) {
	if len(s.pending) == 0 {
		return true, nil
	}
	var n int
	if s.blocking {
		n, err = s.nc.Write(s.pending)
	} else {
		s.one[0] = s.pending
		n, err = s.writev(s.one[:])
		s.one[0] = nil
	}
	if err != nil {
		return false, err
	}
	if n < len(s.pending) {
		s.pending = s.pending[:copy(s.pending, s.pending[n:])]
		return false, nil
	}
	// A congested player's backlog can be large; do not keep its buffer.
	s.pending = nil
	return true, nil
}
