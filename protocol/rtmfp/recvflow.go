package rtmfp

import (
	"context"
	"errors"
	"io"
	"sort"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Message is a complete message read from a flow.
type Message struct {
	// Data is valid until the next ReadMessage or TryReadMessage on the
	// same flow.
	Data []byte
	// Gap reports that one or more earlier messages of the flow will never
	// arrive: the sender abandoned them (their deadline passed) or they
	// were lost. Delivery continued past them instead of stalling.
	Gap bool
}

type recvState uint8

const (
	recvOpen     recvState = iota
	recvRejected           // RF_REJECTED: acknowledging, discarding data
	recvComplete           // every sequence number through the final one seen and delivered
)

type recvFrag struct {
	seq  uint64
	data []byte
	blk  *dataBlock
	fra  wire.Fragment
}

// RecvFlow is the receiving side of a flow opened by the peer. Its methods
// are safe for concurrent use, but only one goroutine should read.
type RecvFlow struct {
	s        *Session
	id       uint64
	metadata []byte
	assoc    *SendFlow

	// Guarded by s.mu.
	seqs       seqSet
	frags      []recvFrag // sorted by seq; frags[head:] live
	head       int
	buffered   int
	finalSeq   uint64
	hasFinal   bool
	state      recvState
	excCode    uint64
	shouldAck  bool
	prevBlocks uint64
	advertised bool
	consumed   uint64 // highest sequence number delivered or discarded
	gap        bool
	unordered  bool
	eof        bool
	completeAt time.Time
	err        error
	writer     blockWriter
	readBuf    []byte

	ready chan struct{}
}

func newRecvFlow(s *Session, id uint64, metadata []byte, assoc *SendFlow) *RecvFlow {
	return &RecvFlow{s: s, id: id, metadata: metadata, assoc: assoc, seqs: newSeqSet(), ready: make(chan struct{}, 1)}
}

// ID is the flow identifier on the wire.
func (f *RecvFlow) ID() uint64 { return f.id }

// Metadata returns the flow's metadata as the sender declared it.
func (f *RecvFlow) Metadata() []byte { return f.metadata }

// Association returns our sending flow this flow was opened in return to,
// or nil.
func (f *RecvFlow) Association() *SendFlow { return f.assoc }

// Session returns the session the flow belongs to.
func (f *RecvFlow) Session() *Session { return f.s }

// SetUnordered selects delivery as messages complete rather than in
// sending order (the "network order" receive intent of Flash TC flows).
func (f *RecvFlow) SetUnordered(unordered bool) {
	f.s.mu.Lock()
	f.unordered = unordered
	f.s.mu.Unlock()
	f.readable()
}

// Reject refuses the flow with an application exception code: the sender
// is told with a Flow Exception Report (RFC 7016 §3.6.3.7) and further
// data is discarded.
func (f *RecvFlow) Reject(code uint64) {
	s := f.s
	s.mu.Lock()
	f.reject(code)
	s.mu.Unlock()
	s.signal()
}

func (f *RecvFlow) reject(code uint64) {
	if f.state != recvOpen {
		return
	}
	f.state, f.excCode = recvRejected, code
	f.dropAll()
	f.s.requestAck(f)
	if f.err == nil {
		f.err = ErrClosed
	}
	f.readable()
}

// ReadMessage returns the next complete message. It returns io.EOF after
// the sender closed the flow and everything was delivered, and the session
// error if the session ends first.
func (f *RecvFlow) ReadMessage(ctx context.Context) (Message, error) {
	for {
		m, ok, err := f.TryReadMessage()
		if ok || err != nil {
			return m, err
		}
		select {
		case <-f.ready:
		case <-ctx.Done():
			return Message{}, ctx.Err()
		}
	}
}

// TryReadMessage is ReadMessage without waiting: ok is false, with a nil
// error, when no message is complete yet. With Session.Readable, one
// goroutine can serve every flow of a session.
func (f *RecvFlow) TryReadMessage() (m Message, ok bool, err error) {
	s := f.s
	s.mu.Lock()
	defer s.mu.Unlock()
	if m, ok := f.next(); ok {
		return m, true, nil
	}
	switch {
	case f.eof:
		return Message{}, false, io.EOF
	case f.err != nil:
		return Message{}, false, f.err
	}
	return Message{}, false, nil
}

// readable wakes the flow's reader and the session's (Session.Readable):
// ReadMessage may get further.
func (f *RecvFlow) readable() {
	notify(f.ready)
	notify(f.s.readable)
}

// onData processes one (Next) User Data chunk (RFC 7016 §3.6.3.2) and
// reports whether an acknowledgement should be sent immediately.
func (f *RecvFlow) onData(c *wire.UserData, maxBuffer int) (ackNow bool) {
	f.shouldAck = true
	ackNow = f.state != recvOpen || (f.advertised && f.prevBlocks < 2) || c.Abandon || f.seqs.hasGaps()
	dup := f.seqs.contains(c.Seq)
	// The final flag counts even on a sequence number we already hold: a
	// sender that abandoned its last message may have covered it with a
	// forward sequence number update before Close made it final.
	if c.Final && !f.hasFinal {
		f.finalSeq, f.hasFinal = c.Seq, true
		ackNow = true
	}
	// The forward sequence number is a promise about earlier sequence
	// numbers (and, in an FSN update, this one), valid whatever becomes of
	// this chunk: it may be a duplicate sent as an FSN update.
	if fsn := c.FSN(); fsn > 0 {
		f.seqs.addRange(1, fsn)
	}
	if dup {
		f.prune()
		f.checkComplete()
		f.readable()
		return true
	}
	// Bound memory: data far beyond the cumulative ack, data that does not
	// fit the buffer, and sequence sets too fragmented are dropped
	// unrecorded, so the sender retransmits once the window reopens.
	// (The forward sequence number above may already have carried the
	// cumulative ack past this chunk: no underflow then.)
	if csn := f.seqs.csn(); (c.Seq > csn && c.Seq-csn > uint64(maxBuffer/64+1024)) || (f.seqs.wouldGrow(c.Seq) && len(f.seqs.r) >= maxRanges) {
		return true
	}
	store := f.state == recvOpen && !c.Abandon
	if store && f.buffered+len(c.Data) > maxBuffer {
		// A full buffer still takes the fragment that repairs the first gap,
		// or ordered delivery could never resume (RFC 7016 §3.6.3.5); past
		// twice the buffer, a message too large to reassemble fails the
		// flow instead of deadlocking it.
		if c.Seq != f.seqs.csn()+1 {
			return true
		}
		if f.buffered+len(c.Data) > 2*maxBuffer {
			f.reject(0)
			return true
		}
	}
	if store {
		e := recvFrag{seq: c.Seq, fra: c.Fragment}
		if len(c.Data) > 0 {
			e.data, e.blk = f.writer.alloc(len(c.Data))
			copy(e.data, c.Data)
		}
		f.insert(e)
		f.buffered += len(c.Data)
	}
	f.seqs.add(c.Seq)
	if f.seqs.hasGaps() {
		ackNow = true
	}
	f.prune()
	f.checkComplete()
	f.readable()
	return ackNow
}

// maxRanges bounds the ranges of a sequence set (and so of an ack).
const maxRanges = 512

func (f *RecvFlow) insert(e recvFrag) {
	n := len(f.frags)
	if n == f.head || f.frags[n-1].seq < e.seq {
		f.frags = append(f.frags, e)
		return
	}
	i := f.head + sort.Search(n-f.head, func(i int) bool { return f.frags[f.head+i].seq >= e.seq })
	f.frags = append(f.frags, recvFrag{})
	copy(f.frags[i+1:], f.frags[i:])
	f.frags[i] = e
}

// drop releases the entries frags[i:j] and removes them.
func (f *RecvFlow) drop(i, j int) {
	for k := i; k < j; k++ {
		e := &f.frags[k]
		f.consumed = max(f.consumed, e.seq)
		if e.blk != nil {
			f.buffered -= len(e.data)
			e.blk.release()
		}
		f.frags[k] = recvFrag{}
	}
	if i == f.head {
		f.head = j
	} else {
		n := copy(f.frags[i:], f.frags[j:])
		clear(f.frags[i+n:])
		f.frags = f.frags[:i+n]
	}
	if f.head == len(f.frags) {
		f.frags, f.head = f.frags[:0], 0
	} else if f.head > 64 && f.head > len(f.frags)/2 {
		n := copy(f.frags, f.frags[f.head:])
		clear(f.frags[n:])
		f.frags, f.head = f.frags[:n], 0
	}
	if f.advertised && f.prevBlocks < 2 {
		// Reopening a closed window must be announced (§3.6.3.5).
		f.s.requestAck(f)
		f.s.signal()
	}
}

func (f *RecvFlow) dropAll() { f.drop(f.head, len(f.frags)) }

// segment returns the end index (exclusive) of the message segment starting
// at i and whether it is complete.
func (f *RecvFlow) segment(i int) (int, bool) {
	if f.frags[i].fra == wire.FragmentWhole {
		return i + 1, true
	}
	j := i + 1
	for j < len(f.frags) && f.frags[j].seq == f.frags[j-1].seq+1 {
		switch f.frags[j].fra {
		case wire.FragmentMiddle:
			j++
			continue
		case wire.FragmentEnd:
			return j + 1, true
		}
		break
	}
	return j, false
}

// prune discards abandoned segments at or below the cumulative ack (RFC 7016
// §3.6.3.3), so they stop occupying the receive window.
func (f *RecvFlow) prune() {
	csn := f.seqs.csn()
	for f.head < len(f.frags) && f.frags[f.head].seq <= csn {
		e := &f.frags[f.head]
		if e.fra == wire.FragmentEnd || e.fra == wire.FragmentMiddle {
			f.gap = true
			f.drop(f.head, f.head+1)
			continue
		}
		end, complete := f.segment(f.head)
		if complete || f.frags[end-1].seq >= csn {
			return
		}
		f.gap = true
		f.drop(f.head, end)
	}
}

// next extracts the next deliverable message, if any.
func (f *RecvFlow) next() (Message, bool) {
	if f.state != recvOpen {
		return Message{}, false
	}
	f.prune()
	csn := f.seqs.csn()
	for i := f.head; i < len(f.frags); {
		e := &f.frags[i]
		if !f.unordered && e.seq > csn {
			break
		}
		end, complete := f.segment(i)
		if !complete {
			if !f.unordered {
				break
			}
			i = end
			continue
		}
		if !f.unordered && e.seq > f.consumed+1 {
			f.gap = true
		}
		m := Message{Gap: f.gap}
		f.gap = false
		buf := f.readBuf[:0]
		for k := i; k < end; k++ {
			buf = append(buf, f.frags[k].data...)
		}
		f.readBuf = buf
		m.Data = buf
		f.drop(i, end)
		return m, true
	}
	f.checkComplete()
	return Message{}, false
}

// checkComplete notices the end of the flow: every sequence number through
// the final one seen and nothing left to deliver.
func (f *RecvFlow) checkComplete() {
	if !f.hasFinal || f.state == recvComplete || f.seqs.csn() < f.finalSeq || f.head != len(f.frags) {
		return
	}
	f.eof = f.state == recvOpen
	f.state = recvComplete
	f.completeAt = time.Now()
	f.writer.close()
	f.readable()
}

// windowBlocks is the receive window to advertise, in 1024-byte blocks
// (RFC 7016 §3.6.3.5). A full buffer advertises zero only while it holds a
// deliverable message (the reader is behind); a buffer that cannot drain
// because of a gap or an incomplete message advertises one block so that the
// sender can repair it.
func (f *RecvFlow) windowBlocks(maxBuffer int) uint64 {
	if f.state != recvOpen {
		return 0
	}
	blocks := uint64((max(maxBuffer-f.buffered, 0) + 1023) / 1024)
	if blocks == 0 && f.blocked() {
		blocks = 1
	}
	return blocks
}

// blocked reports whether buffered data waits for a missing fragment.
func (f *RecvFlow) blocked() bool {
	if f.head == len(f.frags) {
		return false
	}
	if f.frags[f.head].seq > f.seqs.csn() {
		return true
	}
	_, complete := f.segment(f.head)
	return !complete
}

// fail ends the flow with the session's error.
func (f *RecvFlow) fail(err error) {
	if f.err == nil {
		f.err = err
	}
	// A peer's orderly close comes after the data it sent, which the
	// reader still gets (ReadMessage returns complete messages before the
	// error): a server answers a refused connect with a status and then
	// closes, and the client must see the status.
	if !errors.Is(err, ErrPeerClosed) {
		f.dropAll()
	}
	f.writer.close()
	f.readable()
}
