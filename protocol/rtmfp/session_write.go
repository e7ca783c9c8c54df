package rtmfp

import (
	"net/netip"

	"go.uber.org/zap"
)

// Handing a session's packets to the socket. Packets are built and sealed
// under s.mu into s.out; the socket is written only after s.mu is released,
// so that neither the read loop (deliver), nor an API call, nor another
// writer ever waits on a system call for the session's lock. Every critical
// section that may have built packets ends with unlockAndWrite instead of
// s.mu.Unlock, and that is the only place a session's packets reach the
// socket.

// outBatch is a batch of outgoing datagrams and the pooled packets whose
// buffers hold them.
type outBatch struct {
	ds   []datagram
	pkts []*packet
}

// add appends the datagram d, held in p's buffer, for addr.
func (b *outBatch) add(p *packet, d []byte, addr netip.AddrPort) {
	b.ds = append(b.ds, datagram{b: d, addr: addr})
	b.pkts = append(b.pkts, p)
}

// full reports whether the batch holds as much as one build may add.
func (b *outBatch) full() bool { return len(b.ds) >= maxBatch }

// unlockAndWrite releases s.mu, which the caller holds, and writes what was
// built into s.out. One goroutine at a time is the session's writer
// (s.writing): it swaps the built batch for its empty one under the lock
// and writes after releasing it, then looks again for packets built
// meanwhile. A goroutine that builds while another writes leaves its
// packets to that writer, so they go out in the order they were built
// (which the peer's replay window, 32 packets wide with session sequence
// numbers, needs) without anyone waiting for the socket. A batch that
// filled up wakes the run loop to build the rest.
func (s *Session) unlockAndWrite() {
	if s.writing || len(s.out.ds) == 0 {
		s.mu.Unlock()
		return
	}
	s.writing = true
	w := s.spare
	more := false
	for len(s.out.ds) > 0 {
		s.sealPending()
		more = s.out.full()
		w, s.out = s.out, w
		s.mu.Unlock()
		if err := s.e.sock.writeBatch(w.ds); err != nil {
			s.log.Debug("rtmfp write failed", zap.Error(err))
		}
		for i, p := range w.pkts {
			putPacket(p)
			w.pkts[i] = nil
		}
		clear(w.ds)
		w.ds, w.pkts = w.ds[:0], w.pkts[:0]
		s.mu.Lock()
	}
	s.spare = w
	s.writing = false
	s.mu.Unlock()
	if more {
		s.signal()
	}
}
