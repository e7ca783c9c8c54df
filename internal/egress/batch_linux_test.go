package egress

import (
	"bytes"
	"errors"
	"io"
	"net"
	"syscall"
	"testing"
	"time"
	"unsafe"

	"golang.org/x/sys/unix"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

func socketFD(t testing.TB, c *net.TCPConn) int32 {
	t.Helper()
	rc, err := c.SyscallConn()
	if err != nil {
		t.Fatal(err)
	}
	var fd int32
	if err := rc.Control(func(f uintptr) { fd = int32(f) }); err != nil {
		t.Fatal(err)
	}
	return fd
}

// TestURingSendmsgs: one io_uring_enter sends on several sockets; each
// result is what sendmsg would have returned: the bytes of a vector in
// full, the part that a socket with small buffers took, -EAGAIN from a
// full one, -EBADF for a descriptor that is not open. The peers read
// exactly the bytes reported. The full socket is a Unix stream pair: a
// loopback TCP socket's peer may open its window by a few bytes at any
// time (the kernel compacts its receive queue), a Unix one's only when
// read.
func TestURingSendmsgs(t *testing.T) {
	r, err := newURing(8)
	if err != nil {
		t.Skipf("io_uring unavailable here: %v", err) // the server then writes with writev (TestBatchedFanout)
	}
	defer r.close()
	okS, okC := tcpPair(t)
	smallS, smallC := tcpPair(t)
	if err := smallS.SetWriteBuffer(4096); err != nil {
		t.Fatal(err)
	}
	if err := smallC.SetReadBuffer(4096); err != nil {
		t.Fatal(err)
	}
	fullW, fullR, filled := fullPair(t)
	big := bytes.Repeat([]byte("0123456789abcdef"), 1<<16) // 1 MiB: more than the small buffers hold
	head, body := []byte("head:"), []byte("the body of the message")

	fds := []int32{socketFD(t, okS), socketFD(t, smallS), fullW, 1 << 20}
	// Heap memory, as sendBatch's is (a slice of non-constant length is
	// never on the stack): the kernel reads it through plain addresses,
	// which a stack that grows and moves would leave behind.
	iovs := make([]unix.Iovec, len(fds)-1)
	msgs := make([]unix.Msghdr, len(fds))
	iovs[0].Base, iovs[1].Base, iovs[2].Base = &head[0], &body[0], &big[0]
	iovs[0].SetLen(len(head))
	iovs[1].SetLen(len(body))
	iovs[2].SetLen(len(big))
	msgs[0].Iov, msgs[1].Iov, msgs[2].Iov, msgs[3].Iov = &iovs[0], &iovs[2], &iovs[0], &iovs[0]
	setLen(&msgs[0].Iovlen, 2)
	setLen(&msgs[1].Iovlen, 1)
	setLen(&msgs[2].Iovlen, 2)
	setLen(&msgs[3].Iovlen, 2)
	res := make([]int32, len(fds))
	if submitted, err := r.sendmsgs(fds, msgs, res); err != nil || !submitted {
		t.Fatalf("sendmsgs: submitted %v, %v", submitted, err)
	}
	if want := int32(len(head) + len(body)); res[0] != want {
		t.Errorf("whole vector: %d, want %d", res[0], want)
	}
	if res[1] <= 0 || int(res[1]) >= len(big) {
		t.Errorf("socket with small buffers took %d of %d bytes, want a part", res[1], len(big))
	}
	if res[2] != -int32(syscall.EAGAIN) {
		t.Errorf("full socket: %d, want -EAGAIN", res[2])
	}
	if res[3] != -int32(syscall.EBADF) {
		t.Errorf("closed descriptor: %d, want -EBADF", res[3])
	}

	readExactly(t, okC, append(head, body...))
	readExactly(t, smallC, big[:max(res[1], 0)])
	got := make([]byte, len(filled)+1)
	n := 0
	for n < len(got) {
		m, err := syscall.Read(int(fullR), got[n:])
		if err != nil || m == 0 {
			break // EAGAIN: all there is has been read
		}
		n += m
	}
	if !bytes.Equal(got[:n], filled) {
		t.Errorf("the full socket's peer read %d bytes, want the %d written before the batch", n, len(filled))
	}
}

// fullPair returns a Unix stream pair, non-blocking, whose writing end
// has been written until it took no more, and what it took.
func fullPair(t *testing.T) (w, r int32, filled []byte) {
	t.Helper()
	fds, err := syscall.Socketpair(syscall.AF_UNIX, syscall.SOCK_STREAM|syscall.SOCK_NONBLOCK|syscall.SOCK_CLOEXEC, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Close(fds[0]); syscall.Close(fds[1]) })
	if err := syscall.SetsockoptInt(fds[0], syscall.SOL_SOCKET, syscall.SO_SNDBUF, 4096); err != nil {
		t.Fatal(err)
	}
	chunk := bytes.Repeat([]byte{'f'}, 1024)
	for {
		n, err := syscall.Write(fds[0], chunk)
		if err == syscall.EAGAIN {
			return int32(fds[0]), int32(fds[1]), filled
		}
		if err != nil {
			t.Fatal(err)
		}
		filled = append(filled, chunk[:n]...)
	}
}

// readExactly reads want from c and then checks that nothing follows.
func readExactly(t *testing.T, c *net.TCPConn, want []byte) {
	t.Helper()
	got := make([]byte, len(want))
	_ = c.SetReadDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.ReadFull(c, got); err != nil || !bytes.Equal(got, want) {
		t.Errorf("peer read %d bytes (%v), not the %d sent", len(got), err, len(want))
		return
	}
	_ = c.SetReadDeadline(time.Now().Add(100 * time.Millisecond))
	if n, err := c.Read(make([]byte, 1)); n != 0 || !isTimeout(err) {
		t.Errorf("the peer read %d more bytes (%v) than were reported sent", n, err)
	}
}

func isTimeout(err error) bool {
	var ne net.Error
	return errors.As(err, &ne) && ne.Timeout()
}

// BenchmarkFanoutWrites is a live frame (a chunk header and 8 KiB of
// payload) written to each of 64 loopback players: with a writev each, and
// with one io_uring_enter for all (SendBatch). ns/write is per player; on
// a kernel that switches page tables at every system call the batch saves
// most of the entry and exit. Neither allocates.
func BenchmarkFanoutWrites(b *testing.B) {
	const players = 64
	fds := make([]int32, players)
	for i := range fds {
		nc, _ := testtools.TCPSink(b, io.Discard)
		fds[i] = socketFD(b, nc.(*net.TCPConn))
	}
	hdr, frame := make([]byte, 12), make([]byte, 8<<10)
	iovs := make([]unix.Iovec, len(fds)*2)
	msgs := make([]unix.Msghdr, len(fds))
	for i := range msgs {
		iovs[2*i].Base, iovs[2*i+1].Base = &hdr[0], &frame[0]
		iovs[2*i].SetLen(len(hdr))
		iovs[2*i+1].SetLen(len(frame))
		msgs[i].Iov = &iovs[2*i]
		setLen(&msgs[i].Iovlen, 2)
	}
	res := make([]int32, len(fds))
	perWrite := func(b *testing.B) {
		b.SetBytes(int64(players * (len(hdr) + len(frame))))
		b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*players), "ns/write")
	}
	b.Run("writev", func(b *testing.B) {
		b.ReportAllocs()
		for b.Loop() {
			for _, fd := range fds {
				_, _, _ = syscall.RawSyscall(syscall.SYS_WRITEV, uintptr(fd), uintptr(unsafe.Pointer(&iovs[0])), 2)
			}
		}
		perWrite(b)
	})
	b.Run("io_uring", func(b *testing.B) {
		r, err := newURing(players)
		if err != nil {
			b.Skipf("io_uring unavailable here: %v", err)
		}
		defer r.close()
		b.ReportAllocs()
		for b.Loop() {
			if _, err := r.sendmsgs(fds, msgs, res); err != nil {
				b.Fatal(err)
			}
		}
		perWrite(b)
	})
}
