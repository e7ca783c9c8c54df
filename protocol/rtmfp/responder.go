package rtmfp

import (
	"bytes"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// readBatchSize is how many datagrams one read call may return.
const readBatchSize = 16

// readLoop is the only goroutine reading the socket. It demultiplexes by
// session ID (RFC 7016 §2.2.2): datagrams for a session are handed over
// without copying, startup packets (session ID 0) are answered here.
func (e *Endpoint) readLoop() {
	defer close(e.readDone)
	pkts := make([]*packet, readBatchSize)
	for i := range pkts {
		pkts[i] = getPacket()
	}
	defer func() {
		for _, p := range pkts {
			putPacket(p)
		}
	}()
	for {
		n, err := e.sock.readBatch(pkts)
		if err != nil {
			if isClosedErr(err) {
				return
			}
			select {
			case <-e.readDone:
				return
			default:
			}
			e.log.Debug("rtmfp read failed", zap.Error(err))
			continue
		}
		now := time.Now()
		for i := 0; i < n; i++ {
			p := pkts[i]
			p.at = now
			if e.dispatch(p) {
				pkts[i] = getPacket()
			} else {
				p.buf, p.plain = p.buf[:0], nil
			}
		}
	}
}

// dispatch routes one datagram and reports whether a session took it.
func (e *Endpoint) dispatch(p *packet) bool {
	d := p.buf
	if len(d) < 4+16 {
		return false
	}
	sid := flashcrypto.SessionID(d)
	if sid == 0 {
		return e.handleStartup(p)
	}
	e.mu.RLock()
	s := e.sessions[sid]
	e.mu.RUnlock()
	return s != nil && s.deliver(p)
}

// handleStartup processes a startup packet (RFC 7016 §3.5.1).
func (e *Endpoint) handleStartup(p *packet) bool {
	plain, err := e.hsOpener.Open(p.buf)
	if err != nil {
		return false
	}
	h, body, err := wire.ParseHeader(plain)
	if err != nil || h.Mode != wire.ModeStartup || e.flashRejects(plain[0], false) {
		return false
	}
	r := wire.NewChunkReader(body)
	for r.Next() {
		switch r.Type() {
		case wire.ChunkIHello:
			if ih, err := wire.ParseIHello(r.Payload()); err == nil {
				e.onIHello(&ih, p.addr, p.at)
			}
		case wire.ChunkIIKeying:
			if ik, err := wire.ParseIIKeying(r.Payload()); err == nil {
				e.onIIKeying(&ik, p.addr, p.at)
			}
		case wire.ChunkRHello, wire.ChunkRedirect:
			// Both start with the echoed tag; route to the dialing session.
			tag, n, err := wire.ParseVLU(r.Payload())
			if err != nil || tag != 16 || len(r.Payload()) < n+16 {
				continue
			}
			e.mu.RLock()
			s := e.dialing[[16]byte(r.Payload()[n:n+16])]
			e.mu.RUnlock()
			if s != nil {
				p.plain = plain
				return s.deliver(p)
			}
		}
	}
	return false
}

// onIHello answers an IHello that selects us with an RHello carrying a
// stateless cookie, and hands other peers' fingerprints to the rendezvous
// hook. Nothing is remembered about the sender beyond a bucket in the
// fixed-size rate limiter.
func (e *Endpoint) onIHello(ih *wire.IHello, from netip.AddrPort, now time.Time) {
	epd, err := flashcrypto.ParseEPD(ih.EPD)
	if err != nil || len(ih.Tag) == 0 || len(ih.Tag) > 64 {
		return
	}
	ours := !epd.HasFingerprint || string(epd.Fingerprint) == string(e.cert.Fingerprint[:])
	if !ours {
		if e.cfg.UnmatchedHello != nil {
			e.cfg.UnmatchedHello(newHello(ih, &epd, from))
		}
		return
	}
	if !epd.Selects(e.cert) {
		return
	}
	if e.cfg.AcceptHello != nil && !e.cfg.AcceptHello(newHello(ih, &epd, from)) {
		return
	}
	if !e.limiter.allow(from, now) {
		return
	}
	e.log.Debug("rtmfp IHello answered", zap.Stringer("from", from))
	var cookie [cookieLen]byte
	c := e.cookies.issue(cookie[:0], now, ih.Tag, from)
	_ = e.sendStartup(e.hsSealer, from, 0, func(b []byte) ([]byte, error) {
		return wire.AppendRHello(b, &wire.RHello{TagEcho: ih.Tag, Cookie: c, Certificate: e.id.Cert})
	})
}

func newHello(ih *wire.IHello, epd *flashcrypto.EPD, from netip.AddrPort) *Hello {
	h := &Hello{From: from, Tag: append([]byte(nil), ih.Tag...), EPD: append([]byte(nil), ih.EPD...)}
	if epd.HasAncillary {
		h.URL = string(epd.Ancillary)
	}
	if epd.HasFingerprint {
		h.Fingerprint, h.HasFingerprint = [32]byte(epd.Fingerprint), true
	}
	return h
}

// keyingRequest is a copy of an IIKeying for a keying worker.
type keyingRequest struct {
	initiatorID uint32
	cert, skic  []byte
	from        netip.AddrPort
}

// onIIKeying accepts an IIKeying whose cookie we issued (RFC 7016
// §3.5.1.1.2): a retransmission gets the cached RIKeying again, a cookie
// from a new address gets a Cookie Change, a new one starts a keying worker.
func (e *Endpoint) onIIKeying(ik *wire.IIKeying, from netip.AddrPort, now time.Time) {
	e.log.Debug("rtmfp IIKeying", zap.Stringer("from", from))
	switch e.cookies.verify(ik.CookieEcho, now, from) {
	case cookieInvalid:
		return
	case cookieWrongAddress:
		if ik.InitiatorSessionID == 0 || !e.limiter.allow(from, now) {
			return
		}
		var fresh [cookieLen]byte
		c := e.cookies.issue(fresh[:0], now, ik.CookieEcho[4:16], from)
		_ = e.sendStartup(e.hsSealer, from, ik.InitiatorSessionID, func(b []byte) ([]byte, error) {
			return wire.AppendCookieChange(b, &wire.CookieChange{OldCookie: ik.CookieEcho, NewCookie: c})
		})
		return
	}
	if ik.InitiatorSessionID == 0 {
		return
	}
	e.mu.Lock()
	if s, ok := e.byCookie[string(ik.CookieEcho)]; ok {
		rik := s.rikeying
		e.mu.Unlock()
		if rik != nil {
			_ = e.sock.writeBatch([]datagram{{b: rik, addr: from}})
		}
		return
	}
	glare, nearWins := e.glareWith(ik.Certificate)
	if nearWins {
		// Our own opening session to this peer prevails; the peer aborts
		// its own when our IIKeying reaches it (RFC 7016 §3.5.1.3).
		e.mu.Unlock()
		e.log.Debug("rtmfp glare: ours prevails", zap.Stringer("from", from))
		return
	}
	if e.closed || len(e.sessions)+len(e.byCookie) >= e.cfg.MaxSessions || len(e.accept) == cap(e.accept) {
		e.mu.Unlock()
		return
	}
	select {
	case e.keyingSem <- struct{}{}:
	default:
		e.mu.Unlock()
		return
	}
	s := newSession(e, false)
	s.cookie = string(ik.CookieEcho)
	s.addr = from
	s.supersedes = glare
	e.byCookie[s.cookie] = s
	e.wg.Add(1)
	e.mu.Unlock()
	req := keyingRequest{
		initiatorID: ik.InitiatorSessionID,
		cert:        append([]byte(nil), ik.Certificate...),
		skic:        append([]byte(nil), ik.SKIC...),
		from:        from,
	}
	go e.respond(s, req)
}

// respond runs the responder's Diffie-Hellman and key derivation off the
// read loop, then starts the session and sends the RIKeying (with the
// default key, to the initiator's session ID, RFC 7016 §2.3.8).
func (e *Endpoint) respond(s *Session, req keyingRequest) {
	defer func() { <-e.keyingSem }()
	err := e.respondKeying(s, req)
	if err == nil {
		return
	}
	e.log.Debug("rtmfp responder keying failed", zap.Stringer("from", req.from), zap.Error(err))
	e.mu.Lock()
	if e.byCookie[s.cookie] == s {
		delete(e.byCookie, s.cookie)
	}
	e.mu.Unlock()
	e.wg.Done()
}

func (e *Endpoint) respondKeying(s *Session, req keyingRequest) error {
	cert, err := flashcrypto.ParseCertificate(req.cert)
	if err != nil {
		return err
	}
	skrc, keys, neg, err := flashcrypto.Responder(cert, req.skic, e.cfg.DHGroups, e.cfg.Integrity, nil)
	if err != nil {
		return err
	}
	s.setKeys(&keys, neg)
	s.farID = req.initiatorID
	s.peerID = cert.Fingerprint
	s.state = stateOpen
	s.lastRecv = time.Now()
	id, err := e.registerSession(s)
	if err != nil {
		return err
	}
	s.nearID = id
	sealer := flashcrypto.NewDefaultSealer()
	p := getPacket()
	b := appendStartupHeader(p.buf[:4+sealer.FrontMargin()], uint16(time.Since(e.epoch)/(4*time.Millisecond)))
	b, err = wire.AppendRIKeying(b, &wire.RIKeying{ResponderSessionID: id, SKRC: skrc, Signature: signature})
	if err != nil {
		putPacket(p)
		e.mu.Lock()
		delete(e.sessions, id)
		e.mu.Unlock()
		return err
	}
	rik := append([]byte(nil), sealer.Seal(b, req.initiatorID)...)
	putPacket(p)
	e.mu.Lock()
	s.rikeying = rik
	e.mu.Unlock()
	go s.run()
	_ = e.sock.writeBatch([]datagram{{b: rik, addr: req.from}})
	if g := s.supersedes; g != nil {
		// Glare, and the peer prevailed: this session replaces our own
		// opening one, whose Dial returns it instead of Accept.
		g.supersededBy.Store(s)
		g.closeOnce.Do(func() { close(g.closeReq) })
		return nil
	}
	select {
	case e.accept <- s:
	default:
		s.closeOnce.Do(func() { close(s.closeReq) })
	}
	return nil
}

// glareWith looks for glare (RFC 7016 §3.5.1.3) with an IIKeying carrying
// cert: our own opening session to the same peer. Only sessions opened by
// peer ID (fingerprint EPD, the peer-to-peer case) can glare; a URL names
// a server, which does not dial us. The Flash profile's rule decides who
// prevails: the endpoint whose certificate sorts lower. nearWins means
// the IIKeying must be ignored; otherwise glare, if not nil, is the
// opening session the new one supersedes. Call with e.mu held.
func (e *Endpoint) glareWith(cert []byte) (glare *Session, nearWins bool) {
	if len(e.dialing) == 0 {
		return nil, false
	}
	c, err := flashcrypto.ParseCertificate(cert)
	if err != nil {
		return nil, false
	}
	for _, d := range e.dialing {
		if d.hs.parsedEPD.HasFingerprint && d.hs.parsedEPD.Selects(c) {
			if bytes.Compare(cert, e.id.Cert) >= 0 {
				return nil, true
			}
			return d, false
		}
	}
	return nil, false
}
