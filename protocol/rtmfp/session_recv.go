package rtmfp

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// receive processes one datagram and recycles it.
func (s *Session) receive(p *packet) {
	defer putPacket(p)
	switch s.state {
	case stateClosed:
		return
	case stateIHello, stateIIKeying:
		s.receiveHandshake(p)
		return
	}
	plain, err := s.opener.Open(p.buf)
	if err != nil {
		return
	}
	h, body, err := wire.ParseHeader(plain)
	if err != nil || h.Mode == wire.ModeStartup || (h.Mode == wire.ModeInitiator) == s.initiator ||
		s.e.flashRejects(plain[0], !s.initiator) {
		return
	}
	s.lastRecv = p.at
	s.onTimestamps(&h, p.at)
	if h.Flags&wire.FlagTimeCriticalReverse != 0 {
		s.tcrAt = p.at
	}
	if h.Flags&wire.FlagTimeCritical != 0 {
		s.e.timeCriticalFrom(s, p.at)
	}

	preOutstanding := s.outstanding
	gotAck, gotData := false, false
	var prev wire.UserData
	prevOK := false
	r := wire.NewChunkReader(body)
	for r.Next() {
		c := r.Payload()
		switch r.Type() {
		case wire.ChunkUserData:
			ud, err := wire.ParseUserData(c)
			prevOK = err == nil
			if prevOK {
				prev = ud
				gotData = true
				s.onUserData(&ud)
			}
		case wire.ChunkNextUserData:
			if !prevOK {
				continue
			}
			ud, err := wire.ParseNextUserData(c, &prev)
			prevOK = err == nil
			if prevOK {
				prev = ud
				s.onUserData(&ud)
			}
		case wire.ChunkAckBitmap, wire.ChunkAckRanges:
			if a, err := wire.ParseAck(r.Type(), c); err == nil {
				gotAck = true
				s.onAck(&a)
			}
		case wire.ChunkPing:
			if len(s.pingReplies) < 4 && len(c) <= 128 {
				s.pingReplies = append(s.pingReplies, append([]byte(nil), c...))
			}
		case wire.ChunkPingReply:
			s.onPingReply(c, p.addr, p.at)
		case wire.ChunkFIHello:
			s.onFIHello(c, p.at)
		case wire.ChunkBufferProbe:
			if id, err := wire.ParseBufferProbe(c); err == nil {
				if f := s.recvFlows[id]; f != nil {
					s.requestAck(f)
				}
			}
		case wire.ChunkFlowException:
			if id, code, err := wire.ParseFlowException(c); err == nil {
				if f := s.sendFlows[id]; f != nil {
					f.fail(&FlowError{Code: code})
					s.removeSendFlow(f)
				}
			}
		case wire.ChunkClose:
			s.sendCloseAck = true
			if s.state == stateOpen {
				s.err = ErrPeerClosed
				s.failFlows(ErrPeerClosed)
				s.state = stateFarClose
				close(s.farClosed)
				s.closeEnd = p.at.Add(s.e.cfg.CloseLinger)
			}
		case wire.ChunkCloseAck:
			if s.state == stateOpen {
				s.err = ErrPeerClosed
			}
			s.state = stateClosed
			return
		}
		if s.state == stateClosed {
			return
		}
	}
	if gotAck {
		s.afterAcks(preOutstanding, p.at)
	}
	if gotData {
		s.rxDataPackets++
		if s.rxDataPackets >= 2 {
			s.ackNow = true
		} else if !s.ackNow && s.delackAt.IsZero() {
			s.delackAt = p.at.Add(200 * time.Millisecond)
		}
	}
	if p.addr != s.addr && s.state == stateOpen && p.at.Sub(s.mobTxAt) >= time.Second {
		s.mobTxAt = p.at
		s.mobAddr = p.addr
		s.mobPing = s.mobilityMessage(p.at.UnixNano(), p.addr)
	}
}

// onTimestamps implements the timestamp echo facility and RTT measurement
// of RFC 7016 §3.5.2.2.
func (s *Session) onTimestamps(h *wire.Header, now time.Time) {
	if h.Flags&wire.FlagTimestamp != 0 && (!s.hasTSRx || h.Timestamp != s.tsRx) {
		s.tsRx, s.tsRxTime, s.hasTSRx = h.Timestamp, now, true
	}
	if h.Flags&wire.FlagTimestampEcho == 0 || (s.hasEchoRx && h.TimestampEcho == s.tsEchoRx) {
		return
	}
	s.tsEchoRx, s.hasEchoRx = h.TimestampEcho, true
	ticks := s.timestamp(now) - h.TimestampEcho
	if ticks > 32767 {
		return
	}
	rtt := time.Duration(ticks) * 4 * time.Millisecond
	if s.srtt == 0 {
		s.srtt, s.rttvar = max(rtt, time.Millisecond), rtt/2
	} else {
		delta := s.srtt - rtt
		if delta < 0 {
			delta = -delta
		}
		s.rttvar = (3*s.rttvar + delta) / 4
		s.srtt = (7*s.srtt + rtt) / 8
	}
	s.mrto = s.srtt + 4*s.rttvar + 200*time.Millisecond
	s.erto = max(s.mrto, 250*time.Millisecond)
}

// timestamp is this end's 250 Hz clock.
func (s *Session) timestamp(now time.Time) uint16 {
	return uint16(now.Sub(s.epoch) / (4 * time.Millisecond))
}

// onUserData dispatches a fragment to its receiving flow, creating the flow
// on its first chunk (RFC 7016 §3.6.3.1).
func (s *Session) onUserData(c *wire.UserData) {
	f := s.recvFlows[c.FlowID]
	if f == nil {
		f = s.openRecvFlow(c)
		if f == nil {
			return
		}
	}
	if c.Options != nil && f.state == recvOpen && hasUnknownOption(c.Options) {
		f.reject(0)
	}
	if f.onData(c, s.e.cfg.RecvBuffer) {
		s.ackNow = true
	}
	s.ackPending = true
}

// openRecvFlow starts a receiving flow, or returns nil after queuing a
// stateless rejection when the flow limit is exhausted.
func (s *Session) openRecvFlow(c *wire.UserData) *RecvFlow {
	if len(s.recvFlows) >= s.e.cfg.MaxFlows {
		if len(s.exceptions) < 16 {
			s.exceptions = append(s.exceptions, flowException{c.FlowID, 0})
		}
		return nil
	}
	var metadata []byte
	hasMeta := false
	var assoc *SendFlow
	reject := false
	it := wire.OptionList(c.Options)
	for it.Next() {
		switch it.Type() {
		case wire.OptionMetadata:
			metadata, hasMeta = append([]byte(nil), it.Value()...), true
		case wire.OptionReturnAssociation:
			id, _, err := wire.ParseVLU(it.Value())
			if sf := s.sendFlows[id]; err == nil && sf != nil && sf.state == flowOpen {
				assoc = sf
			} else {
				reject = true
			}
		default:
			reject = reject || it.Type() < 0x2000
		}
	}
	f := newRecvFlow(s, c.FlowID, metadata, assoc)
	s.recvFlows[c.FlowID] = f
	s.ackNow = true
	if !hasMeta || reject || it.Err() != nil || len(metadata) > MaxMetadata {
		f.state = recvRejected
		f.err = ErrClosed
		return f
	}
	s.acceptQ = append(s.acceptQ, f)
	notify(s.accepts)
	notify(s.readable)
	return f
}

func hasUnknownOption(opts []byte) bool {
	it := wire.OptionList(opts)
	for it.Next() {
		if t := it.Type(); t != wire.OptionMetadata && t != wire.OptionReturnAssociation && t < 0x2000 {
			return true
		}
	}
	return false
}

// requestAck asks for an immediate acknowledgement of f.
func (s *Session) requestAck(f *RecvFlow) {
	f.shouldAck = true
	s.ackPending, s.ackNow = true, true
}

// onAck applies an acknowledgement to its sending flow (RFC 7016 §3.6.2.4).
func (s *Session) onAck(a *wire.Ack) {
	f := s.sendFlows[a.FlowID]
	if f == nil {
		return
	}
	f.opts = nil
	f.cumAcked = max(f.cumAcked, a.CumAck)
	wasClosed := f.rxWindow == 0
	f.rxWindow = a.BufferBlocks * 1024
	if wasClosed && f.rxWindow > 0 {
		f.probeEvery, f.probeAt = 0, time.Time{}
	}
	if f.head == len(f.q) {
		if f.finishIfComplete() {
			s.removeSendFlow(f)
		}
		return
	}
	base := f.q[f.head].seq
	last := base + uint64(len(f.q)-f.head) - 1
	ackRange := func(lo, hi uint64) {
		lo, hi = max(lo, base), min(hi, last)
		for seq := lo; seq <= hi && lo <= hi; seq++ {
			s.markAcked(f, &f.q[f.head+int(seq-base)])
		}
	}
	ackRange(base, a.CumAck)
	for {
		r, ok := a.Next()
		if !ok || r.Start > last {
			break
		}
		ackRange(r.Start, r.End)
	}
	f.trim()
	if f.finishIfComplete() {
		s.removeSendFlow(f)
	} else if f.queued <= s.e.cfg.SendBuffer/2 {
		notify(f.writable)
	}
}

func (s *Session) markAcked(f *SendFlow, e *sendFrag) {
	if e.acked {
		return
	}
	e.acked = true
	f.highestAcked = max(f.highestAcked, e.seq)
	if e.inFlight {
		e.inFlight = false
		f.outstanding -= e.size
		s.outstanding -= e.size
		s.maxTSNAck = max(s.maxTSNAck, e.tsn)
	}
	f.release(e)
}

// afterAcks runs once per packet carrying acknowledgements: congestion
// window growth, negative-acknowledgement loss detection (RFC 7016
// §3.6.2.5) and the retransmission alarm.
func (s *Session) afterAcks(preOutstanding int, now time.Time) {
	if acked := preOutstanding - s.outstanding; acked > 0 {
		yield := !s.tcrAt.IsZero() && now.Sub(s.tcrAt) < 800*time.Millisecond && !s.sendingTC(now)
		s.cc.OnAck(acked, preOutstanding, yield)
	}
	for _, f := range s.sendOrder {
		for i := f.head; i < len(f.q); i++ {
			e := &f.q[i]
			if e.seq > f.highestAcked {
				break
			}
			if !e.inFlight || e.tsn >= s.maxTSNAck {
				continue
			}
			e.nak++
			if e.nak >= 3 {
				e.inFlight = false
				f.outstanding -= e.size
				s.outstanding -= e.size
				f.cursor = min(f.cursor, i)
				s.cc.OnLoss(e.tsn, s.nextTSN)
			}
		}
	}
	if s.outstanding > 0 {
		s.rtoAt = now.Add(s.erto)
	} else {
		s.rtoAt = time.Time{}
	}
}

func (s *Session) removeSendFlow(f *SendFlow) {
	delete(s.sendFlows, f.id)
	for i, g := range s.sendOrder {
		if g == f {
			s.sendOrder = append(s.sendOrder[:i], s.sendOrder[i+1:]...)
			s.rrNext = 0
			break
		}
	}
}

// Mobility check messages (RFC 7016 §3.5.4.2): 'M', a timestamp, and an
// HMAC binding both to the address probed.
const mobilityLen = 1 + 8 + 16

func (s *Session) mobilityMessage(ts int64, addr netip.AddrPort) []byte {
	b := make([]byte, 0, mobilityLen)
	b = append(b, 'M')
	b = binary.BigEndian.AppendUint64(b, uint64(ts))
	m := hmac.New(sha256.New, s.mobSecret[:])
	m.Write(b)
	m.Write(addrBytes(addr))
	return m.Sum(b)[:mobilityLen]
}

func (s *Session) onPingReply(body []byte, from netip.AddrPort, now time.Time) {
	if len(body) != mobilityLen || body[0] != 'M' {
		return
	}
	ts := int64(binary.BigEndian.Uint64(body[1:]))
	if ts <= s.mobRxTS || now.UnixNano()-ts > int64(120*time.Second) {
		return
	}
	if !hmac.Equal(s.mobilityMessage(ts, from), body) {
		return
	}
	s.mobRxTS = ts
	if from != s.addr {
		s.addr = from
		s.e.sessionMoved(s, from)
		s.emit(Event{Kind: EventAddressChanged, Addr: from})
	}
}
