package rtmfp

import (
	"context"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// FlowOptions configures a new sending flow.
type FlowOptions struct {
	// TimeCritical marks the flow's data as real-time (audio, video): its
	// packets carry the Time Critical Forward Notification, and peers
	// sending bulk data to the same endpoint yield capacity to it (RFC
	// 7016 §3.5.2.1).
	TimeCritical bool
	// ReturnFor associates the new flow with a flow the peer opened to us
	// (RFC 7016 §2.3.11.1.2): Flash opens its NetStream flows in return to
	// the server's NetConnection flow, and the server answers on flows
	// returning to the client's.
	ReturnFor *RecvFlow
}

// WriteOptions qualifies one message.
type WriteOptions struct {
	// Deadline, if positive, is how long the message may wait for
	// delivery: once it has not been fully acknowledged this long after
	// Write, it is abandoned (never retransmitted again) and the receiver
	// skips it (RFC 7016 §3.6.2.7). Zero means fully reliable.
	Deadline time.Duration
	// Deferred leaves the session's goroutine asleep: the caller calls
	// Session.Flush after its writes, which sends them from the caller's
	// goroutine (a live fan-out writing one frame to many sessions).
	Deferred bool
}

type flowState uint8

const (
	flowOpen    flowState = iota
	flowClosing           // Close called: finishing the queue
	flowDone              // all acknowledged after Close, or failed
)

// sendFrag is one SEND_QUEUE entry (RFC 7016 §3.6.2).
type sendFrag struct {
	seq           uint64
	data          []byte
	blk           *dataBlock
	deadline      time.Time
	tsn           uint64
	size          int // transmit size of the chunk when last sent
	fra           wire.Fragment
	nak           uint8
	abandoned     bool
	sentAbandoned bool
	inFlight      bool
	everSent      bool
	acked         bool
}

// SendFlow is the sending side of a flow. Its methods are safe for
// concurrent use.
type SendFlow struct {
	s        *Session
	id       uint64
	metadata []byte
	assoc    uint64
	hasAssoc bool
	critical bool

	// Guarded by s.mu.
	opts         []byte // STARTUP_OPTIONS; nil once acknowledged
	q            []sendFrag
	head         int // q[head:] is the live queue; q[i].seq == q[head].seq + i - head
	cursor       int // no eligible entry before this index except q[head]
	nextSeq      uint64
	finalSeq     uint64 // 0 until Close
	highestAcked uint64
	cumAcked     uint64    // highest cumulative acknowledgement received
	fsnUpdateAt  time.Time // when to send an FSN update, if one is needed
	writer       blockWriter
	queued       int // data bytes not yet acknowledged or abandoned
	outstanding  int // bytes in flight
	rxWindow     uint64
	withDeadline int // live entries with a deadline
	// expiresAt is no later than the earliest deadline of a live entry
	// (zero: none known), so that abandonExpired, which a session calls
	// for every flow on every wake-up, scans the queue only when some
	// deadline may have passed.
	expiresAt  time.Time
	state      flowState
	err        error
	probeAt    time.Time
	probeEvery time.Duration

	writable chan struct{}
	done     chan struct{}
}

func newSendFlow(s *Session, id uint64, metadata []byte, assoc *RecvFlow) *SendFlow {
	f := &SendFlow{
		s: s, id: id, metadata: metadata, nextSeq: 1,
		rxWindow: 65536, // RFC 7016 §3.6.2 initial RX_BUFFER_SIZE
		writable: make(chan struct{}, 1),
		done:     make(chan struct{}),
	}
	if assoc != nil {
		f.assoc, f.hasAssoc = assoc.id, true
	}
	f.opts = wire.AppendFlowOptions(nil, metadata, f.assoc, f.hasAssoc)
	return f
}

// ID is the flow identifier on the wire.
func (f *SendFlow) ID() uint64 { return f.id }

// Metadata returns the flow's metadata (do not modify).
func (f *SendFlow) Metadata() []byte { return f.metadata }

// Session returns the session the flow belongs to.
func (f *SendFlow) Session() *Session { return f.s }

// Write queues msg (copied) for transmission and returns at once. It fails
// with ErrWouldBlock if the flow's send buffer cannot take the message now,
// with ErrMessageTooLarge if it never could, and with the flow's or
// session's error once either has failed or been closed.
func (f *SendFlow) Write(msg []byte, opts WriteOptions) error {
	return f.write(nil, msg, false, opts)
}

// WriteShared is Write for the message head followed by body, where body
// is referenced rather than copied: the fragments that lie wholly in body
// point into it until they are acknowledged or abandoned, so the caller
// must never change it. It is for live media, whose frame payload is
// immutable and shared by every player: a session then copies a frame's
// bytes once, into its packets, rather than twice. head is copied.
func (f *SendFlow) WriteShared(head, body []byte, opts WriteOptions) error {
	return f.write(head, body, true, opts)
}

func (f *SendFlow) write(head, body []byte, shared bool, opts WriteOptions) error {
	s := f.s
	s.mu.Lock()
	err := f.writeLocked(head, body, shared, opts)
	s.mu.Unlock()
	if err == nil && !opts.Deferred {
		s.signal()
	}
	return err
}

// WriteContext is Write that waits for send buffer space instead of
// returning ErrWouldBlock.
func (f *SendFlow) WriteContext(ctx context.Context, msg []byte, opts WriteOptions) error {
	for {
		err := f.Write(msg, opts)
		if err != ErrWouldBlock {
			return err
		}
		select {
		case <-f.writable:
		case <-f.done:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// Writable is signalled when send buffer space has been freed. Use it with
// Write to wait for space without blocking in Write.
func (f *SendFlow) Writable() <-chan struct{} { return f.writable }

// Buffered returns the bytes queued and not yet acknowledged or abandoned.
func (f *SendFlow) Buffered() int {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.queued
}

// Done is closed when the flow has finished: everything acknowledged after
// Close, or the flow failed (see Err).
func (f *SendFlow) Done() <-chan struct{} { return f.done }

// Err returns why the flow failed: a *FlowError if the receiver rejected
// it, or the session's error. It is nil for a flow closed and completed
// normally.
func (f *SendFlow) Err() error {
	f.s.mu.Lock()
	defer f.s.mu.Unlock()
	return f.err
}

// Close finishes the flow: queued messages are still delivered, then the
// receiver sees the end of the flow. It does not wait; see Done.
func (f *SendFlow) Close() error {
	s := f.s
	s.mu.Lock()
	if f.state != flowOpen {
		s.mu.Unlock()
		return nil
	}
	f.state = flowClosing
	// RFC 7016 §3.6.2.11: mark the unsent tail final, or queue an abandoned
	// final entry.
	if n := len(f.q); n > f.head && f.q[n-1].seq == f.nextSeq-1 && !f.q[n-1].everSent {
		f.finalSeq = f.q[n-1].seq
	} else {
		f.q = append(f.q, sendFrag{seq: f.nextSeq, abandoned: true})
		f.finalSeq = f.nextSeq
		f.nextSeq++
	}
	s.mu.Unlock()
	s.signal()
	return nil
}

// writeLocked queues the message head ‖ body. A fragment wholly in a
// shared body points into it; every other fragment is copied into the
// flow's blocks.
func (f *SendFlow) writeLocked(head, body []byte, shared bool, opts WriteOptions) error {
	s := f.s
	if f.err != nil {
		return f.err
	}
	if f.state != flowOpen {
		return ErrClosed
	}
	total := len(head) + len(body)
	limit := s.e.cfg.SendBuffer
	if total > limit {
		return ErrMessageTooLarge
	}
	if f.queued+total > limit {
		return ErrWouldBlock
	}
	var deadline time.Time
	if opts.Deadline > 0 {
		deadline = time.Now().Add(opts.Deadline)
	}
	size := s.fragmentSize(f)
	n := max((total+size-1)/size, 1)
	for i := 0; i < n; i++ {
		lo, hi := min(i*size, total), min((i+1)*size, total)
		fra := wire.FragmentMiddle
		switch {
		case n == 1:
			fra = wire.FragmentWhole
		case i == 0:
			fra = wire.FragmentBegin
		case i == n-1:
			fra = wire.FragmentEnd
		}
		e := sendFrag{seq: f.nextSeq, fra: fra, deadline: deadline}
		switch {
		case hi == lo:
		case shared && lo >= len(head):
			e.data = body[lo-len(head) : hi-len(head) : hi-len(head)]
		default:
			e.data, e.blk = f.writer.alloc(hi - lo)
			k := 0
			if lo < len(head) {
				k = copy(e.data, head[lo:min(hi, len(head))])
			}
			if hi > len(head) {
				copy(e.data[k:], body[max(lo-len(head), 0):hi-len(head)])
			}
		}
		f.q = append(f.q, e)
		f.nextSeq++
		if !deadline.IsZero() {
			f.withDeadline++
		}
	}
	if !deadline.IsZero() && (f.expiresAt.IsZero() || deadline.Before(f.expiresAt)) {
		f.expiresAt = deadline
	}
	f.queued += total
	return nil
}

// release frees an entry's payload and stops counting it as queued.
func (f *SendFlow) release(e *sendFrag) {
	if e.data != nil {
		f.queued -= len(e.data)
		if e.blk != nil {
			e.blk.release()
		}
		e.blk, e.data = nil, nil
	}
	if !e.deadline.IsZero() {
		f.withDeadline--
		e.deadline = time.Time{}
	}
}

// trim drops acknowledged entries and abandoned entries that need no
// (re)transmission from the front of the queue (RFC 7016 §3.6.2.3 step 1),
// and compacts the slice when its dead prefix is large.
func (f *SendFlow) trim() {
	for f.head < len(f.q) {
		e := &f.q[f.head]
		if !e.acked && !(e.abandoned && !e.inFlight && f.liveAfter(f.head)) {
			break
		}
		f.release(e)
		*e = sendFrag{}
		f.head++
	}
	f.cursor = max(f.cursor, f.head)
	if f.head == len(f.q) {
		f.q, f.head, f.cursor = f.q[:0], 0, 0
		if cap(f.q) > maxIdleQueue {
			f.q = nil // grown by a burst (a GOP replay); let it go
		}
		// Everything is acknowledged: give the current block back, so
		// that a flow with nothing in flight holds no block (a player's
		// flows are idle between frames, and most flows idle always).
		f.writer.close()
	} else if f.head > 256 && f.head > len(f.q)/2 {
		n := copy(f.q, f.q[f.head:])
		clear(f.q[n:])
		f.q = f.q[:n]
		f.cursor -= f.head
		f.head = 0
	}
}

// maxIdleQueue is the most fragment slots a flow keeps allocated with
// nothing in flight: a few live frames' worth.
const maxIdleQueue = 256

// liveAfter reports whether an unacknowledged entry follows q[i]: the last
// live entry must stay queued so that it carries the final forward sequence
// number to the receiver.
func (f *SendFlow) liveAfter(i int) bool {
	for j := i + 1; j < len(f.q); j++ {
		if !f.q[j].acked {
			return true
		}
	}
	return false
}

// fsn returns the forward sequence number to send (RFC 7016 §3.6.2.3).
func (f *SendFlow) fsn() uint64 {
	if f.head == len(f.q) {
		return f.nextSeq - 1
	}
	e := &f.q[f.head]
	if !e.abandoned || (e.inFlight && !e.sentAbandoned) {
		return e.seq - 1
	}
	return e.seq
}

// fsnUpdateDue reports whether the receiver must be sent a Forward Sequence
// Number Update (RFC 7016 §3.6.2.7.1): its cumulative acknowledgement lags
// our FSN, so it is missing sequence numbers we abandoned and trimmed, and
// no queued fragment is left to carry the FSN. The first due time leaves
// one ERTO for chunks in flight to carry it; later ones repeat every ERTO
// until the receiver catches up.
func (f *SendFlow) fsnUpdateDue(now time.Time, erto time.Duration) bool {
	if f.cumAcked >= f.fsn() || f.eligible() >= 0 || f.err != nil {
		f.fsnUpdateAt = time.Time{}
		return false
	}
	if f.fsnUpdateAt.IsZero() {
		f.fsnUpdateAt = now.Add(erto)
	}
	return !now.Before(f.fsnUpdateAt)
}

// eligible returns the index of the next entry to transmit, or -1.
func (f *SendFlow) eligible() int {
	if f.head == len(f.q) {
		return -1
	}
	if f.outstanding >= int(min(f.rxWindow, 1<<40)) && f.err == nil {
		return -1
	}
	if e := &f.q[f.head]; !e.inFlight && !e.acked {
		return f.head
	}
	for i := max(f.cursor, f.head+1); i < len(f.q); i++ {
		e := &f.q[i]
		if e.inFlight || e.acked || (e.abandoned && e.seq != f.finalSeq) {
			continue
		}
		f.cursor = i
		return i
	}
	f.cursor = len(f.q)
	return -1
}

// abandonExpired abandons every message whose deadline has passed and
// returns the earliest deadline still pending.
func (f *SendFlow) abandonExpired(now time.Time) time.Time {
	var next time.Time
	if f.withDeadline == 0 {
		f.expiresAt = next
		return next
	}
	if now.Before(f.expiresAt) {
		return f.expiresAt // nothing can have expired yet
	}
	abandoned := false
	for i := f.head; i < len(f.q); i++ {
		e := &f.q[i]
		if e.deadline.IsZero() || e.acked || e.abandoned {
			continue
		}
		if now.Before(e.deadline) {
			if next.IsZero() || e.deadline.Before(next) {
				next = e.deadline
			}
			continue
		}
		// Abandon the whole message this fragment belongs to.
		start := i
		for start > f.head && f.q[start].fra != wire.FragmentBegin && f.q[start].fra != wire.FragmentWhole {
			start--
		}
		end := i
		for end < len(f.q)-1 && f.q[end].fra != wire.FragmentEnd && f.q[end].fra != wire.FragmentWhole {
			end++
		}
		for j := start; j <= end; j++ {
			if g := &f.q[j]; !g.acked && !g.abandoned {
				g.abandoned = true
				f.release(g)
			}
		}
		abandoned = true
		i = end
	}
	f.expiresAt = next
	if abandoned {
		// The final fragment, abandoned, is eligible again (it carries
		// the final sequence number): look from the head.
		f.cursor = f.head
	}
	return next
}

// fail ends the flow with err, abandoning everything queued.
func (f *SendFlow) fail(err error) {
	if f.state == flowDone {
		return
	}
	if f.err == nil {
		f.err = err
	}
	for i := f.head; i < len(f.q); i++ {
		f.release(&f.q[i])
	}
	f.q, f.head, f.cursor = nil, 0, 0
	f.s.outstanding -= f.outstanding
	f.outstanding = 0
	f.writer.close()
	f.state = flowDone
	close(f.done)
	notify(f.writable)
}

// finishIfComplete moves a closing flow whose queue has drained to done.
func (f *SendFlow) finishIfComplete() bool {
	if f.state == flowClosing && f.head == len(f.q) && f.cumAcked >= f.finalSeq {
		f.writer.close()
		f.state = flowDone
		close(f.done)
		notify(f.writable)
		return true
	}
	return false
}

// notify does a non-blocking send on a 1-slot signal channel.
func notify(c chan struct{}) {
	select {
	case c <- struct{}{}:
	default:
	}
}
