package server

import (
	"net"
	"os"
	"sync"
	"sync/atomic"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
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

// sendBatch gathers the RTMP writes of one goroutine's share of a fan-out
// (it is that share's media.Batch): each player's connection fills its
// chunk writer when notified and hands the write over (rtmpConn.kick),
// and the writes go to the kernel batchEntries at a time, in one
// io_uring_enter, when the batch fills or the share is done (Flush).
// The arrays live in the batch, on the heap, because the kernel reads the
// message headers and vectors through plain addresses; the vectors'
// pointers keep the bytes they point to alive until the writes are made.
type sendBatch struct {
	pool *batchPool
	ring *uring
	n    int // writes gathered
	niov int // iovecs used

	conns   [batchEntries]*rtmpConn
	first   [batchEntries]int32 // each write's first iovec
	fds     [batchEntries]int32
	msgs    [batchEntries]unix.Msghdr
	res     [batchEntries]int32
	iovs    [batchIovecs]unix.Iovec
	segs    net.Buffers // a chunk writer's segments, while add looks at them
	segsOut net.Buffers // a gathered write's segments, while submit finishes it
}

// add takes c's write: what c's chunk writer holds goes out with the
// batch, or at once when the batch cannot take it.
func (b *sendBatch) add(c *rtmpConn) {
	if b.n == batchEntries {
		b.submit()
	}
	b.segs = c.w.Pending(b.segs[:0])
	count := 0
	for _, s := range b.segs {
		if len(s) > 0 {
			count++
		}
	}
	switch {
	case count == 0:
		c.w.Sent()
		c.finishSend(nil)
		return
	case count > batchMaxSegments:
		c.sendNow(b.segs)
		clear(b.segs)
		return
	}
	if b.niov+count > batchIovecs {
		b.submit()
	}
	if !c.lend() {
		c.sendNow(b.segs) // closed meanwhile: fails and ends the send
		clear(b.segs)
		return
	}
	first := b.niov
	for _, s := range b.segs {
		if len(s) > 0 {
			iov := &b.iovs[b.niov]
			iov.Base = &s[0]
			iov.SetLen(len(s))
			b.niov++
		}
	}
	clear(b.segs)
	b.msgs[b.n] = unix.Msghdr{Iov: &b.iovs[first]}
	setLen(&b.msgs[b.n].Iovlen, count)
	b.conns[b.n], b.first[b.n], b.fds[b.n] = c, int32(first), c.sock.fd
	b.n++
}

// setLen sets a length field of a system call structure, whose type
// differs between 32- and 64-bit platforms.
func setLen[T uint32 | uint64](field *T, n int) { *field = T(n) }

// submit makes the gathered writes and lets each connection finish its
// own (rtmpConn.sent).
func (b *sendBatch) submit() {
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
		c := b.conns[i]
		b.segsOut = b.segsOut[:0]
		end := b.niov
		if i+1 < n {
			end = int(b.first[i+1])
		}
		for _, iov := range b.iovs[b.first[i]:end] {
			b.segsOut = append(b.segsOut, unsafe.Slice(iov.Base, iov.Len))
		}
		b.conns[i], b.msgs[i] = nil, unix.Msghdr{}
		c.unlend()
		switch {
		case err == nil:
			written, werr := 0, error(nil)
			if r := b.res[i]; r >= 0 {
				written = int(r)
			} else if errno := syscall.Errno(-r); errno != syscall.EAGAIN {
				werr = &net.OpError{Op: "write", Net: "tcp", Source: c.nc.LocalAddr(), Addr: c.nc.RemoteAddr(),
					Err: os.NewSyscallError("sendmsg", errno)}
			}
			c.sent(b.segsOut, written, werr)
		case !submitted:
			c.sendNow(b.segsOut) // the kernel took nothing: write as without a batch
		default:
			c.sent(b.segsOut, 0, err) // what went is unknown: the connection cannot go on
		}
	}
	clear(b.segsOut)
	clear(b.iovs[:b.niov]) // the frames are the collector's again
	b.n, b.niov = 0, 0
}

// Flush implements media.Batch.
func (b *sendBatch) Flush() {
	b.submit()
	b.pool.put(b)
}

// batchPool hands out send batches to fan-out goroutines, each with a ring
// of its own, making them as needed up to max. When a ring cannot be made
// or fails, the pool stops handing out batches and writes go the way they
// go without (writev per player).
type batchPool struct {
	log *zap.Logger
	max int
	// writes counts the writes made through batches.
	writes atomic.Uint64

	mu     sync.Mutex
	free   []*sendBatch
	made   int
	broken bool
	closed bool
}

func newBatchPool(log *zap.Logger, max int) *batchPool {
	return &batchPool{log: log, max: max}
}

// get returns a batch, or nil when none is to be had.
func (p *batchPool) get() media.Batch {
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
		p.log.Info("RTMP fan-out writes go one system call per player: io_uring unavailable", zap.Error(err))
		return nil
	}
	p.made++
	return &sendBatch{pool: p, ring: ring}
}

func (p *batchPool) put(b *sendBatch) {
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
func (p *batchPool) broke(err error) {
	p.mu.Lock()
	defer p.mu.Unlock()
	if !p.broken {
		p.broken = true
		p.log.Warn("io_uring failed; RTMP fan-out writes go one system call per player from now on", zap.Error(err))
	}
	for _, b := range p.free {
		b.ring.close()
		p.made--
	}
	p.free = nil
}

// close releases the rings; batches still out are released when given
// back.
func (p *batchPool) close() {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.closed = true
	for _, b := range p.free {
		b.ring.close()
		p.made--
	}
	p.free = nil
}
