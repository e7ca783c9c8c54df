package rtmfp

import (
	"time"

	"go.uber.org/zap"
)

// maxRxDrain bounds how many queued datagrams one loop iteration processes
// before sending, so acknowledgements keep flowing under load.
const maxRxDrain = 64

// run is the session's goroutine: it decrypts the datagrams the read loop
// queues, runs the session's timers and sends what API calls queued
// (they change state under s.mu and wake it). Each iteration:
//  1. waits for a datagram, an API wake-up, the timer or a close request;
//  2. processes up to maxRxDrain queued datagrams;
//  3. runs due timers (retransmission, delayed ack, keepalive, idle,
//     close, handshake retransmission, message deadlines, buffer probes);
//  4. builds every packet it may send now;
//  5. re-arms the single timer for the earliest deadline;
//  6. releases s.mu and writes the packets in one batch (unlockAndWrite).
func (s *Session) run() {
	defer s.exit()
	timer := time.NewTimer(0) // first iteration sends at once
	defer timer.Stop()
	s.mu.Lock()
	s.timer = timer
	s.mu.Unlock()
	closeReq := s.closeReq
	for {
		select {
		case p := <-s.rx:
			s.mu.Lock()
			s.receive(p)
			s.rxQueued.Add(-1)
		drain:
			for i := 1; i < maxRxDrain; i++ {
				select {
				case p = <-s.rx:
					s.receive(p)
					s.rxQueued.Add(-1)
				default:
					break drain
				}
			}
			s.mu.Unlock()
		case <-s.wake:
		case <-timer.C:
		case <-closeReq:
			closeReq = nil
			s.mu.Lock()
			s.beginClose(time.Now())
			s.mu.Unlock()
		case <-s.e.closing:
			// The Close Ack terminate builds goes out with this
			// iteration's batch.
			s.mu.Lock()
			s.terminate(time.Now(), ErrClosed, true)
			s.mu.Unlock()
		}
		now := time.Now()
		s.mu.Lock()
		s.tick(now)
		next := s.transmit(now)
		closed := s.state == stateClosed
		if !closed {
			s.armedAt = now.Add(next)
			timer.Reset(next)
		}
		s.unlockAndWrite()
		if closed {
			return
		}
	}
}

// transmit builds every packet that should go now into s.out and returns
// how long the run loop may sleep. The run loop and Flush both call it
// with the lock held, then write with unlockAndWrite.
func (s *Session) transmit(now time.Time) time.Duration {
	s.flush(now)
	return s.nextWake(now)
}

// Flush sends what the session's flows hold now from the calling
// goroutine, without waking the session's own, when the session is open
// and its lock free (otherwise it wakes the session, which sends). It
// builds the packets as the run loop would, re-arms the run loop's timer
// if sending set an earlier deadline (the retransmission timer, pacing)
// and writes them once the lock is released, unless another goroutine is
// writing the session's packets, which then writes these as well. Writers
// that passed WriteOptions.Deferred call it after their writes.
func (s *Session) Flush() {
	if !s.mu.TryLock() {
		s.signal()
		return
	}
	if s.state != stateOpen || s.timer == nil {
		s.mu.Unlock()
		s.signal()
		return
	}
	now := time.Now()
	next := s.transmit(now)
	if at := now.Add(next); at.Before(s.armedAt) {
		s.armedAt = at
		s.timer.Reset(next)
	}
	s.unlockAndWrite()
}

// exit releases everything when run returns.
func (s *Session) exit() {
	s.mu.Lock()
	if s.err == nil {
		s.err = ErrClosed
	}
	for _, f := range s.sendOrder {
		f.fail(s.err)
	}
	for _, f := range s.recvFlows {
		f.fail(s.err)
	}
	for _, f := range s.acceptQ {
		f.fail(s.err)
	}
	s.sendFlows, s.sendOrder, s.recvFlows, s.acceptQ = nil, nil, nil, nil
	s.mu.Unlock()
	s.e.removeSession(s)
	for {
		select {
		case p := <-s.rx:
			putPacket(p)
			continue
		default:
		}
		break
	}
	s.log.Debug("rtmfp session ended", zap.Uint32("id", s.nearID), zap.Error(s.err))
	close(s.done)
	notify(s.readable)
}

// terminate ends the session now. With sendCloseAck it first tells the
// peer, which is the RFC's abrupt close (§3.5.5).
func (s *Session) terminate(now time.Time, err error, sendCloseAck bool) {
	if s.state == stateClosed {
		return
	}
	if s.err == nil {
		s.err = err
	}
	if sendCloseAck && s.sealer != nil && s.state != stateIHello && s.state != stateIIKeying {
		s.sendCloseAck = true
		s.flush(now)
	}
	s.state = stateClosed
}

// failFlows fails every flow with err (on entering a closing state, RFC
// 7016 §3.5.5 aborts all flows).
func (s *Session) failFlows(err error) {
	for _, f := range s.sendOrder {
		f.fail(err)
	}
	for _, f := range s.recvFlows {
		f.fail(err)
	}
}

// beginClose starts an orderly close.
func (s *Session) beginClose(now time.Time) {
	switch s.state {
	case stateOpen:
		s.err = ErrClosed
		s.failFlows(ErrClosed)
		s.state = stateNearClose
		s.sendClose = true
		s.closeAt = now.Add(closeRetransmit)
		s.closeEnd = now.Add(s.e.cfg.CloseTimeout)
	case stateIHello, stateIIKeying:
		s.terminate(now, ErrClosed, false)
	}
}

// closeRetransmit is how often Close is repeated while waiting for its ack.
const closeRetransmit = time.Second

// tick runs every timer that is due. A deadline is due from its very
// instant on (!now.Before), like the ones nextWake arms the timer for: a
// timer firing exactly on time must find its deadline due, or the session
// sleeps on to the next deadline, possibly a minute later.
func (s *Session) tick(now time.Time) {
	cfg := &s.e.cfg
	switch s.state {
	case stateIHello, stateIIKeying:
		if !now.Before(s.hs.deadline) {
			s.terminate(now, ErrHandshakeTimeout, false)
		}
		return
	case stateNearClose:
		if !now.Before(s.closeEnd) {
			s.state = stateClosed
		} else if !now.Before(s.closeAt) {
			s.sendClose = true
			s.closeAt = now.Add(closeRetransmit)
		}
		return
	case stateFarClose:
		if !now.Before(s.closeEnd) {
			s.state = stateClosed
		}
		return
	case stateClosed:
		return
	}
	idle := now.Sub(s.lastRecv)
	if idle >= cfg.IdleTimeout {
		s.terminate(now, ErrIdleTimeout, true)
		return
	}
	if idle >= cfg.KeepaliveInterval && !now.Before(s.pingAt) {
		s.sendPing = true
		s.pingAt = now.Add(min(max(cfg.KeepaliveInterval/4, s.erto), cfg.KeepaliveInterval))
	}
	if !s.rtoAt.IsZero() && !now.Before(s.rtoAt) {
		s.retransmitTimeout(now)
	}
	if !s.delackAt.IsZero() && !now.Before(s.delackAt) {
		s.ackNow = true
	}
	for _, f := range s.sendOrder {
		f.abandonExpired(now)
		if f.rxWindow == 0 && f.head < len(f.q) && f.err == nil && !now.Before(f.probeAt) {
			f.probeEvery = min(max(2*f.probeEvery, time.Second, s.erto), max(time.Minute, s.erto))
			f.probeAt = now.Add(f.probeEvery)
			s.probes = append(s.probes, f.id)
		}
	}
	// Forgetting completed flows can wait: not every wake-up (one per
	// frame on a player's session) needs to walk the map.
	if !now.Before(s.lingerCheckAt) {
		s.lingerCheckAt = now.Add(time.Second)
		for id, f := range s.recvFlows {
			if f.state == recvComplete && now.Sub(f.completeAt) > recvFlowLinger {
				delete(s.recvFlows, id)
			}
		}
	}
}

// recvFlowLinger is how long a completed receiving flow is remembered so
// late retransmissions are acknowledged rather than mistaken for a new flow
// (RF_COMPLETE_LINGER, RFC 7016 §3.6.3).
const recvFlowLinger = 120 * time.Second

// retransmitTimeout handles TIMEOUT_ALARM (RFC 7016 §3.6.2.6).
func (s *Session) retransmitTimeout(now time.Time) {
	s.rtoAt = time.Time{}
	wasLoss := false
	for _, f := range s.sendOrder {
		for i := f.head; i < len(f.q); i++ {
			if e := &f.q[i]; e.inFlight {
				e.inFlight = false
				f.outstanding -= e.size
				wasLoss = true
			}
		}
		f.cursor = f.head
	}
	s.outstanding = 0
	if wasLoss {
		s.erto = max(min(time.Duration(float64(s.erto)*1.4142), 10*time.Second), s.mrto)
		s.cc.OnTimeout(s.nextTSN)
	}
}

// runNeeded reports whether the run loop must go round after deliver
// handled a datagram outside it: something is to be sent now, or a
// deadline (an acknowledgement delay, a retransmission timeout) comes
// before the loop's timer.
func (s *Session) runNeeded(now time.Time) bool {
	if s.state != stateOpen || s.mobPing != nil || s.controlDue(now) {
		return true
	}
	if now.Add(s.nextWake(now)).Before(s.armedAt) {
		return true
	}
	return s.hasData()
}

// nextWake returns how long run may sleep.
func (s *Session) nextWake(now time.Time) time.Duration {
	cfg := &s.e.cfg
	next := now.Add(time.Minute)
	// Deadlines already past were handled by tick and flush this
	// iteration; only future ones may wake us, or the loop would spin.
	at := func(t time.Time) {
		if t.After(now) && t.Before(next) {
			next = t
		}
	}
	switch s.state {
	case stateIHello, stateIIKeying:
		at(s.hs.nextAt)
		at(s.hs.deadline)
	case stateNearClose:
		at(s.closeAt)
		at(s.closeEnd)
	case stateFarClose:
		at(s.closeEnd)
	case stateOpen:
		at(s.lastRecv.Add(cfg.IdleTimeout))
		if ka := s.lastRecv.Add(cfg.KeepaliveInterval); ka.After(s.pingAt) {
			at(ka)
		} else {
			at(s.pingAt)
		}
		at(s.rtoAt)
		at(s.delackAt)
		at(s.paceAt)
		for _, f := range s.sendOrder {
			at(f.abandonExpired(now))
			if f.rxWindow == 0 && f.head < len(f.q) {
				at(f.probeAt)
			}
			at(f.fsnUpdateAt)
		}
	}
	return max(next.Sub(now), 0)
}
