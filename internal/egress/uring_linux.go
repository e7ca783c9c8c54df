package egress

import (
	"errors"
	"fmt"
	"os"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// uring is an io_uring instance put to one use: sending on many sockets
// with one system call (SendBatch). A loopback fan-out's cost is mostly
// the kernel's, and a good part of that is entering and leaving it once
// per player: this machine's kernel switches page tables on every system
// call, and the first user-space code after each call misses the TLB.
// One io_uring_enter for dozens of sendmsg requests pays that once.
//
// Only the goroutine holding the ring uses it (BatchPool hands it out).
// Requests carry MSG_DONTWAIT, so the kernel makes each send at once when
// it is submitted and completes it with what the socket took (-EAGAIN when
// nothing): io_uring_enter returns with every completion posted.
type uring struct {
	fd      int
	ring    []byte // the submission and completion rings, one mapping
	sqeMem  []byte // the submission queue entries
	entries uint32

	sqHead, sqTail *uint32
	sqMask         uint32
	sqArray        []uint32
	sqes           []uringSQE
	cqHead, cqTail *uint32
	cqMask         uint32
	cqes           []uringCQE
}

// Constants of linux/io_uring.h (golang.org/x/sys/unix has the system
// call numbers but not these).
const (
	uringOffSQRing = 0
	uringOffSQEs   = 0x10000000

	uringFeatSingleMMap = 1 << 0
	uringEnterGetEvents = 1 << 0
	uringRegisterProbe  = 8
	uringOpSupported    = 1 << 0
	uringOpSendmsg      = 9
)

// uringSQE is struct io_uring_sqe as a sendmsg request uses it.
type uringSQE struct {
	opcode      uint8
	flags       uint8
	ioprio      uint16
	fd          int32
	off         uint64
	addr        uint64 // the msghdr
	len         uint32 // 1 for sendmsg
	msgFlags    uint32
	userData    uint64
	bufIndex    uint16
	personality uint16
	spliceFdIn  int32
	addr3       uint64
	_           uint64
}

// uringCQE is struct io_uring_cqe.
type uringCQE struct {
	userData uint64
	res      int32
	flags    uint32
}

type uringSQOffsets struct {
	head, tail, ringMask, ringEntries, flags, dropped, array, resv1 uint32
	userAddr                                                        uint64
}

type uringCQOffsets struct {
	head, tail, ringMask, ringEntries, overflow, cqes, flags, resv1 uint32
	userAddr                                                        uint64
}

type uringParams struct {
	sqEntries, cqEntries, flags, sqThreadCPU, sqThreadIdle, features, wqFd uint32
	resv                                                                   [3]uint32
	sqOff                                                                  uringSQOffsets
	cqOff                                                                  uringCQOffsets
}

// uringProbe is struct io_uring_probe with room for every operation.
type uringProbe struct {
	lastOp uint8
	opsLen uint8
	_      uint16
	_      [3]uint32
	ops    [256]struct {
		op    uint8
		_     uint8
		flags uint16
		_     uint32
	}
}

// errURingUnsupported: the kernel has io_uring but not what SendBatch needs.
var errURingUnsupported = errors.New("io_uring: no single-mapping rings or no sendmsg")

// newURing sets up a ring of entries submission slots (a power of two).
func newURing(entries uint32) (*uring, error) {
	var p uringParams
	fd, _, e := syscall.Syscall(unix.SYS_IO_URING_SETUP, uintptr(entries), uintptr(unsafe.Pointer(&p)), 0)
	if e != 0 {
		return nil, os.NewSyscallError("io_uring_setup", e)
	}
	r := &uring{fd: int(fd), entries: p.sqEntries}
	if err := r.setup(&p); err != nil {
		r.close()
		return nil, err
	}
	return r, nil
}

func (r *uring) setup(p *uringParams) error {
	if p.features&uringFeatSingleMMap == 0 { // before Linux 5.4
		return errURingUnsupported
	}
	var probe uringProbe
	if _, _, e := syscall.Syscall6(unix.SYS_IO_URING_REGISTER, uintptr(r.fd), uringRegisterProbe,
		uintptr(unsafe.Pointer(&probe)), uintptr(len(probe.ops)), 0, 0); e != 0 {
		return os.NewSyscallError("io_uring_register", e) // before Linux 5.6
	}
	if probe.lastOp < uringOpSendmsg || probe.ops[uringOpSendmsg].flags&uringOpSupported == 0 {
		return errURingUnsupported
	}
	size := max(p.sqOff.array+p.sqEntries*4, p.cqOff.cqes+p.cqEntries*uint32(unsafe.Sizeof(uringCQE{})))
	var err error
	if r.ring, err = syscall.Mmap(r.fd, uringOffSQRing, int(size),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring rings: %w", err)
	}
	if r.sqeMem, err = syscall.Mmap(r.fd, uringOffSQEs, int(p.sqEntries)*int(unsafe.Sizeof(uringSQE{})),
		syscall.PROT_READ|syscall.PROT_WRITE, syscall.MAP_SHARED|syscall.MAP_POPULATE); err != nil {
		return fmt.Errorf("io_uring entries: %w", err)
	}
	u32 := func(off uint32) *uint32 { return (*uint32)(unsafe.Pointer(&r.ring[off])) }
	r.sqHead, r.sqTail, r.sqMask = u32(p.sqOff.head), u32(p.sqOff.tail), *u32(p.sqOff.ringMask)
	r.sqArray = unsafe.Slice(u32(p.sqOff.array), p.sqEntries)
	r.sqes = unsafe.Slice((*uringSQE)(unsafe.Pointer(&r.sqeMem[0])), p.sqEntries)
	r.cqHead, r.cqTail, r.cqMask = u32(p.cqOff.head), u32(p.cqOff.tail), *u32(p.cqOff.ringMask)
	r.cqes = unsafe.Slice((*uringCQE)(unsafe.Pointer(&r.ring[p.cqOff.cqes])), p.cqEntries)
	return nil
}

func (r *uring) close() {
	if r.sqeMem != nil {
		_ = syscall.Munmap(r.sqeMem)
	}
	if r.ring != nil {
		_ = syscall.Munmap(r.ring)
	}
	_ = syscall.Close(r.fd)
}

// sendmsgs sends msgs[i] on fds[i], all of them, and sets res[i] to what
// sendmsg(2) returned: a byte count, or -errno. The msghdrs, their
// iovecs and the bytes must be heap memory the caller keeps alive. An
// error means the ring failed: with submitted false nothing was sent and
// the caller may write another way; with it true the results are lost.
// len(fds) is at most r.entries.
func (r *uring) sendmsgs(fds []int32, msgs []unix.Msghdr, res []int32) (submitted bool, err error) {
	n := uint32(len(fds))
	tail := atomic.LoadUint32(r.sqTail)
	for i := range n {
		idx := (tail + i) & r.sqMask
		r.sqes[idx] = uringSQE{
			opcode: uringOpSendmsg, fd: fds[i], len: 1, userData: uint64(i),
			addr:     uint64(uintptr(unsafe.Pointer(&msgs[i]))),
			msgFlags: syscall.MSG_DONTWAIT | syscall.MSG_NOSIGNAL,
		}
		r.sqArray[idx] = idx
	}
	atomic.StoreUint32(r.sqTail, tail+n)
	toSubmit, reaped := n, uint32(0)
	for retries := 0; reaped < n; retries++ {
		// Raw, as the socket writes it replaces are: the sends do not
		// wait, and the runtime's bookkeeping around a system call
		// costs more than the call saves.
		done, _, e := syscall.RawSyscall6(unix.SYS_IO_URING_ENTER, uintptr(r.fd), uintptr(toSubmit), uintptr(n-reaped),
			uringEnterGetEvents, 0, 0)
		switch {
		case e == 0:
			toSubmit -= min(uint32(done), toSubmit)
		case (e == syscall.EINTR || e == syscall.EAGAIN || e == syscall.EBUSY) && retries < 100:
			// Interrupted, or short of memory for a moment: reap what
			// completed and go again.
		case toSubmit == n:
			// Nothing was taken: withdraw the entries (the kernel reads
			// the tail only when entered).
			atomic.StoreUint32(r.sqTail, tail)
			return false, os.NewSyscallError("io_uring_enter", e)
		default:
			return true, os.NewSyscallError("io_uring_enter", e)
		}
		head, ctail := atomic.LoadUint32(r.cqHead), atomic.LoadUint32(r.cqTail)
		for ; head != ctail; head++ {
			cqe := &r.cqes[head&r.cqMask]
			if cqe.userData < uint64(n) {
				res[cqe.userData] = cqe.res
				reaped++
			}
		}
		atomic.StoreUint32(r.cqHead, head)
	}
	return true, nil
}
