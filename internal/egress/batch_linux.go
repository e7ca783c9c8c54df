package egress

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"go.uber.org/zap"
)

const (
	// batchEntries is how many connections' writes one io_uring_enter
	// makes: enough that the call's fixed cost is spread thin, few
	// enough that the first player of a share does not wait long for the
	// last one's preparation (about a microsecond each).
	batchEntries = 64
	// batchIovecs is the buffers one batch's writes may have in all; a
	// live frame's write has a few, a keyframe's a few dozen. A write
	// with more than batchMaxSegments goes out on its own.
	batchIovecs      = 1024
	batchMaxSegments = 256
)

// SendBatch gathers the writes of one goroutine's share of a fan-out:
// each player's connection fills its chunk writer when woken and hands
// the write over (Add), and the writes go to the kernel batchEntries at a
// time, in one io_uring_enter, when the batch fills or the share is done
// (Flush). The arrays live in the batch, on the heap, because the kernel
// reads the message headers and vectors through plain addresses; the
// vectors' pointers keep the bytes they point to alive until the writes
// are made.
type SendBatch struct {
	pool *BatchPool
	ring *uring
	n    int // writes gathered
	niov int // iovecs used

	senders [batchEntries]Sender
	loans   [batchEntries]Loan
	first   [batchEntries]int32 // each write's first iovec
	fds     [batchEntries]int32
	msgs    [batchEntries]unix.Msghdr
	res     [batchEntries]int32
	iovs    [batchIovecs]unix.Iovec
	segs    net.Buffers // a sender's segments, while Add looks at them
	segsOut net.Buffers // a gathered write's segments, while submit finishes it
}

// Add takes s's write (Sender.Pending) to the socket behind fd: it goes
// out with the batch (Sent reports it), or at once through SendNow when
// the batch cannot take it. A write with nothing in it is finished at
// once.
func (b *SendBatch) Add(s Sender, fd *SharedFD) {
	if b.n == batchEntries {
		b.submit()
	}
	b.segs = s.Pending(b.segs[:0])
	defer clear(b.segs)
	segs := b.segs
	count := 0
	for _, seg := range segs {
		if len(seg) > 0 {
			count++
		}
	}
	switch {
	case count == 0:
		s.Sent(nil, 0, nil)
		return
	case count > batchMaxSegments:
		s.SendNow(segs)
		return
	}
	if b.niov+count > batchIovecs {
		b.submit()
	}
	loan, ok := fd.Lend()
	if !ok {
		s.SendNow(segs) // closed meanwhile: fails and ends the send
		return
	}
	first := b.niov
	for _, seg := range segs {
		if len(seg) > 0 {
			iov := &b.iovs[b.niov]
			iov.Base = &seg[0]
			iov.SetLen(len(seg))
			b.niov++
		}
	}
	b.msgs[b.n] = unix.Msghdr{Iov: &b.iovs[first]}
	setLen(&b.msgs[b.n].Iovlen, count)
	b.senders[b.n], b.loans[b.n], b.first[b.n], b.fds[b.n] = s, loan, int32(first), loan.FD()
	b.n++
}

// setLen sets a length field of a system call structure, whose type
// differs between 32- and 64-bit platforms.
func setLen[T uint32 | uint64](field *T, n int) { *field = T(n) }

// submit makes the gathered writes and lets each connection finish its
// own (Sender.Sent).
func (b *SendBatch) submit() {
	if b.n == 0 {
		return
	}
	n := b.n
	submitted, err := b.ring.sendmsgs(b.fds[:n], b.msgs[:n], b.res[:n])
	if err != nil {
		b.pool.broke(err)
	} else {
		b.pool.writes.Add(uint64(n))
	}
	for i := range n {
		s := b.senders[i]
		b.segsOut = b.segsOut[:0]
		end := b.niov
		if i+1 < n {
			end = int(b.first[i+1])
		}
		for _, iov := range b.iovs[b.first[i]:end] {
			b.segsOut = append(b.segsOut, unsafe.Slice(iov.Base, iov.Len))
		}
		b.senders[i], b.msgs[i] = nil, unix.Msghdr{}
		b.loans[i].Return()
		b.loans[i] = Loan{}
		switch {
		case err == nil:
			written, werr := 0, error(nil)
			if r := b.res[i]; r >= 0 {
				written = int(r)
			} else if errno := syscall.Errno(-r); errno != syscall.EAGAIN {
				werr = &net.OpError{Op: "write", Net: "tcp", Source: s.LocalAddr(), Addr: s.RemoteAddr(),
					Err: os.NewSyscallError("sendmsg", errno)}
			}
			s.Sent(b.segsOut, written, werr)
		case !submitted:
			s.SendNow(b.segsOut) // the kernel took nothing: write as without a batch
		default:
			s.Sent(b.segsOut, 0, err) // what went is unknown: the connection cannot go on
		}
	}
	clear(b.segsOut)
	clear(b.iovs[:b.niov]) // the frames are the collector's again
	b.n, b.niov = 0, 0
}

// Flush makes the gathered writes and gives the batch back to its pool;
// the caller does not use it afterwards.
func (b *SendBatch) Flush() {
	b.submit()
	b.pool.put(b)
}

// URingAvailable reports why send batches cannot be had here, nil when
// they can.
func URingAvailable() error {
	r, err := newURing(8)
	if err != nil {
		return err
	}
	r.close()
	return nil
}

// BatchPool hands out send batches to fan-out goroutines, each with a ring
// of its own, making them as needed up to max. When a ring cannot be made
// or fails, the pool stops handing out batches and writes go the way they
// go without (writev per player).
type BatchPool struct {
	log *zap.Logger
	max int
	// writes counts the writes made through batches.
	writes atomic.Uint64

	mu     sync.Mutex
	free   []*SendBatch
	made   int
	broken bool
	closed bool
}

// NewBatchPool makes a pool of at most max batches (and rings).
func NewBatchPool(log *zap.Logger, max int) *BatchPool {
	return &BatchPool{log: log, max: max}
}

// Writes is how many writes batches have made.
func (p *BatchPool) Writes() uint64 { return p.writes.Load() }

// Get returns a batch, or nil when none is to be had (or p is nil).
func (p *BatchPool) Get() *SendBatch {
	if p == nil {
		return nil
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken || p.closed {
		return nil
	}
	if n := len(p.free); n > 0 {
		b := p.free[n-1]
		p.free = p.free[:n-1]
		return b
	}
	if p.made == p.max {
		return nil
	}
	ring, err := newURing(batchEntries)
	if err != nil {
		p.broken = true
		p.log.Info("fan-out writes go one system call per player: io_uring unavailable", zap.Error(err))
		return nil
	}
	p.made++
	return &SendBatch{pool: p, ring: ring}
}

func (p *BatchPool) put(b *SendBatch) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.broken || p.closed {
		b.ring.close()
		p.made--
		return
	}
	p.free = append(p.free, b)
}

// broke stops the pool after a ring failed.
func (p *BatchPool) broke(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.broken {
		p.broken = true
		p.log.Warn("io_uring failed; fan-out writes go one system call per player from now on", zap.Error(err))
	}
	for _, b := range p.free {
		b.ring.close()
		p.made--
	}
	p.free = nil
}

// Close releases the rings; batches still out are released when given
// back.
func (p *BatchPool) Close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, b := range p.free {
		b.ring.close()
		p.made--
	}
	p.free = nil
}
