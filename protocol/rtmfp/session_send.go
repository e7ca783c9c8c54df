package rtmfp

import (
	"net/netip"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// maxBatch is the most packets one build adds to a session's batch; they
// go out in one batched write.
const maxBatch = 32

// cipherRegion returns the largest encrypted region (front margin, plain
// packet and padding) that keeps a datagram within MaxPacketSize.
func cipherRegion(macLen int) int {
	return (MaxPacketSize - 4 - macLen) / 16 * 16
}

// fragmentSize is how much message data one fragment of f carries: a full
// packet minus the largest header, the chunk overhead and, while the flow is
// unacknowledged, its startup options (RFC 7016 §3.6.2.2).
func (s *Session) fragmentSize(f *SendFlow) int {
	overhead := 5 + wire.ChunkHeaderLen + 1 + wire.VLULen(f.id) + 2*wire.VLULen(f.nextSeq+1<<20) + flashcrypto.MaxFrontMargin
	if f.opts != nil {
		overhead += len(f.opts) + 1
	}
	return s.plainMax - overhead
}

// flush builds every packet that should be sent now into s.out, which a
// writer sends once s.mu is released (unlockAndWrite).
func (s *Session) flush(now time.Time) {
	switch s.state {
	case stateIHello, stateIIKeying:
		s.flushHandshake(now)
		return
	case stateClosed:
		if !s.sendCloseAck {
			return
		}
	}
	if s.sealer == nil {
		return
	}
	if s.mobPing != nil {
		s.buildPacket(now, s.mobAddr, false)
		s.mobPing = nil
	}
	for !s.out.full() && s.buildPacket(now, s.addr, true) {
	}
}

// dataAllowed reports whether congestion control and pacing let a data
// packet go now, arming the pacing timer if not.
func (s *Session) dataAllowed(now time.Time) bool {
	if s.state != stateOpen || !s.cc.CanSend(s.outstanding) {
		return false
	}
	ok, wait := s.pacer.Allow(now, MaxPacketSize, s.cc.Window(), s.srtt, s.cc.InSlowStart())
	if ok {
		s.paceAt = time.Time{}
	} else {
		s.paceAt = now.Add(wait)
	}
	return ok
}

// hasData reports whether some flow has a fragment eligible to send.
func (s *Session) hasData() bool {
	for _, f := range s.sendOrder {
		if f.eligible() >= 0 {
			return true
		}
	}
	return false
}

// fsnUpdateDue reports whether some flow owes the receiver an FSN update,
// which congestion control does not hold back (it carries no data).
func (s *Session) fsnUpdateDue(now time.Time) bool {
	for _, f := range s.sendOrder {
		if f.fsnUpdateDue(now, s.erto) {
			return true
		}
	}
	return false
}

// controlDue reports whether a packet must go now whatever congestion
// control allows: session control chunks (close, pings, flow exceptions,
// forwarded hellos, buffer probes) or an acknowledgement that is due.
func (s *Session) controlDue(now time.Time) bool {
	return s.sendClose || s.sendCloseAck || s.sendPing || len(s.pingReplies) > 0 ||
		len(s.exceptions) > 0 || len(s.forwards) > 0 || len(s.probes) > 0 ||
		(s.ackPending && (s.ackNow || (!s.delackAt.IsZero() && !now.Before(s.delackAt))))
}

// buildPacket assembles one packet to addr and reports whether it did. With
// main false only the mobility probe is sent.
func (s *Session) buildPacket(now time.Time, addr netip.AddrPort, main bool) bool {
	urgent := s.controlDue(now)
	data := false
	if main && !urgent {
		data = s.hasData() && s.dataAllowed(now)
		if !data && !s.fsnUpdateDue(now) {
			return false
		}
	}
	p := getPacket()
	b := p.buf[:4+s.sealer.FrontMargin()]
	var h wire.Header
	h.Mode = wire.ModeResponder
	if s.initiator {
		h.Mode = wire.ModeInitiator
	}
	// Every packet carries its timestamp, changed or not: RFC 7016 lets a
	// sender omit an unchanged one, but Flash-profile receivers drop such
	// packets (wire.FlashAccepts).
	h.Flags |= wire.FlagTimestamp
	h.Timestamp = s.timestamp(now)
	if s.hasTSRx {
		if el := now.Sub(s.tsRxTime); el > 128*time.Second {
			s.hasTSRx, s.hasEchoTx = false, false
		} else if echo := s.tsRx + uint16(el/(4*time.Millisecond)); !s.hasEchoTx || echo != s.tsEchoTx {
			h.Flags |= wire.FlagTimestampEcho
			h.TimestampEcho = echo
		}
	}
	if s.e.timeCriticalElsewhere(s, now) {
		h.Flags |= wire.FlagTimeCriticalReverse
	}
	hdrAt := len(b)
	b = wire.AppendHeader(b, &h)
	body := len(b)
	limit := 4 + s.cipherMax

	if !main {
		b = wire.AppendPing(b, s.mobPing)
	} else {
		b = s.appendControl(b, limit)
		if s.ackPending {
			b = s.appendAcks(b, limit, len(b) == body)
		}
		if len(b) < limit-32 && (data || (s.hasData() && s.dataAllowed(now)) || s.fsnUpdateDue(now)) {
			var sent, critical bool
			if b, sent, critical = s.appendData(b, limit, now); sent {
				s.rtoAt = now.Add(s.erto)
			}
			if critical {
				b[hdrAt] |= wire.FlagTimeCritical
				s.tcSentAt = now
			}
		}
	}
	if len(b) == body {
		putPacket(p)
		return false
	}
	if h.Flags&wire.FlagTimestampEcho != 0 {
		s.tsEchoTx, s.hasEchoTx = h.TimestampEcho, true
	}
	p.addr = addr
	if !s.sealer.Groupable() {
		p.buf = s.sealer.Seal(b, s.farID)
		s.out.add(p, p.buf, addr)
		return true
	}
	// Packets are sealed flashcrypto.GroupSize at a time (SealGroup): this
	// one waits, plain, for the others, or for the writer to take the
	// batch (sealPending).
	s.out.add(p, b, addr)
	if s.unsealed == 0 {
		s.unsealed = len(s.out.ds)
	}
	if len(s.out.ds)-(s.unsealed-1) == flashcrypto.GroupSize {
		s.sealPending()
	}
	return true
}

// sealPending seals the packets waiting for a full group, before the batch
// goes out.
func (s *Session) sealPending() {
	i := s.unsealed - 1
	if i < 0 {
		return
	}
	group := s.group[:0]
	for _, d := range s.out.ds[i:] {
		group = append(group, d.b)
	}
	s.sealer.SealGroup(group, s.farID)
	for k, b := range group {
		s.out.pkts[i+k].buf = b
		s.out.ds[i+k].b = b
		group[k] = nil
	}
	s.unsealed = 0
}

// appendControl adds session control chunks: close, pings, exceptions,
// forwarded hellos and buffer probes.
func (s *Session) appendControl(b []byte, limit int) []byte {
	if s.sendCloseAck {
		b = wire.AppendCloseAck(b)
		s.sendCloseAck = false
	}
	if s.sendClose {
		b = wire.AppendClose(b)
		s.sendClose = false
	}
	for len(s.pingReplies) > 0 && len(b)+3+len(s.pingReplies[0]) <= limit {
		b = wire.AppendPingReply(b, s.pingReplies[0])
		s.pingReplies = s.pingReplies[1:]
	}
	if s.sendPing {
		b = wire.AppendPing(b, nil)
		s.sendPing = false
	}
	for len(s.exceptions) > 0 && len(b)+32 <= limit {
		x := s.exceptions[0]
		b = wire.AppendFlowException(b, x.id, x.code)
		s.exceptions = s.exceptions[1:]
	}
	for len(s.forwards) > 0 && len(b)+len(s.forwards[0]) <= limit {
		b = append(b, s.forwards[0]...)
		s.forwards = s.forwards[1:]
	}
	for len(s.probes) > 0 && len(b)+16 <= limit {
		b = wire.AppendBufferProbe(b, s.probes[0])
		s.probes = s.probes[1:]
	}
	return b
}

// appendAcks adds acknowledgements for every receiving flow that owes one
// (RFC 7016 §3.6.3.4). The first ack of a packet sent for acks may be
// truncated to fit; later ones wait for the next packet.
func (s *Session) appendAcks(b []byte, limit int, alone bool) []byte {
	pending := false
	for _, f := range s.recvFlows {
		if !f.shouldAck {
			continue
		}
		room := limit - len(b)
		if room < 16 {
			pending = true
			continue
		}
		if f.state == recvRejected {
			b = wire.AppendFlowException(b, f.id, f.excCode)
			room = limit - len(b)
		}
		blocks := f.windowBlocks(s.e.cfg.RecvBuffer)
		ranges := f.seqs.ranges()
		n := len(b)
		b = wire.AppendAck(b, f.id, blocks, f.seqs.csn(), ranges, room)
		if len(b) == n {
			pending = true
			continue
		}
		if !alone && len(ranges) > 0 {
			// A piggybacked ack that had to be truncated is sent again
			// complete later.
			if a, err := wire.ParseAck(b[n], b[n+3:]); err == nil {
				last := uint64(0)
				for {
					r, ok := a.Next()
					if !ok {
						break
					}
					last = r.End
				}
				pending = pending || last != ranges[len(ranges)-1].End
			}
		}
		alone = false
		f.shouldAck = false
		f.prevBlocks, f.advertised = blocks, true
	}
	if !pending {
		s.ackPending, s.ackNow, s.delackAt, s.rxDataPackets = false, false, time.Time{}, 0
	}
	return b
}

// appendData adds user data fragments, round-robin across flows, while the
// packet has room and congestion control allows (RFC 7016 §3.6.2.3).
// It also reports whether any of the data belongs to a time-critical flow.
func (s *Session) appendData(b []byte, limit int, now time.Time) (_ []byte, sent, critical bool) {
	n := len(s.sendOrder)
	for tries := 0; tries < n; tries++ {
		f := s.sendOrder[s.rrNext%n]
		s.rrNext = (s.rrNext + 1) % n
		f.trim()
		i := f.eligible()
		fsn := f.fsn()
		if i < 0 {
			if f.fsnUpdateDue(now, s.erto) {
				ud := wire.UserData{FlowID: f.id, Seq: fsn, Abandon: true, Final: fsn == f.finalSeq}
				if len(b)+wire.UserDataOverhead(&ud) > limit {
					return b, sent, critical
				}
				b, _ = wire.AppendUserData(b, &ud)
				f.fsnUpdateAt = now.Add(s.erto)
			}
			continue
		}
		prevSeq := uint64(0)
		for ; i >= 0; i = f.eligible() {
			if !s.cc.CanSend(s.outstanding) {
				return b, sent, critical
			}
			e := &f.q[i]
			ud := wire.UserData{
				FlowID: f.id, Seq: e.seq, FSNOffset: e.seq - fsn, Fragment: e.fra,
				Abandon: e.abandoned, Final: e.seq == f.finalSeq,
			}
			if prevSeq == 0 && f.opts != nil {
				ud.Options = f.opts
			}
			if !e.abandoned {
				ud.Data = e.data
			}
			next := prevSeq != 0 && e.seq == prevSeq+1
			size := len(ud.Data)
			if next {
				size += wire.NextUserDataOverhead(&ud)
			} else {
				size += wire.UserDataOverhead(&ud)
			}
			if len(b)+size > limit {
				return b, sent, critical
			}
			if next {
				b, _ = wire.AppendNextUserData(b, &ud)
			} else {
				b, _ = wire.AppendUserData(b, &ud)
			}
			e.inFlight, e.everSent, e.nak, e.sentAbandoned, e.size = true, true, 0, e.abandoned, size
			e.tsn = s.nextTSN
			s.nextTSN++
			f.outstanding += size
			s.outstanding += size
			prevSeq = e.seq
			sent = true
			critical = critical || f.critical
			if e.abandoned && e.seq != f.finalSeq {
				// An FSN update: one per flow and packet is enough.
				break
			}
		}
	}
	if sent {
		s.pacer.Sent(MaxPacketSize)
	}
	return b, sent, critical
}
