package rtmfp

import (
	"bytes"
	"fmt"
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// The initiator's side of the four-way handshake (RFC 7016 §3.5.1.1.1)
// runs in the session's goroutine as a two-state machine:
//
//	stateIHello:   send IHello to every candidate address, backing off ×1.5;
//	               an RHello (matched by tag, from any address) moves on, a
//	               Redirect adds candidates.
//	stateIIKeying: send IIKeying to the RHello's sender, backing off; a
//	               Cookie Change replaces the cookie; the RIKeying (default
//	               key, our session ID) completes the session.
//
// The responder side is stateless until a valid cookie comes back; see
// Endpoint.onIHello and Endpoint.onIIKeying.

// maxCandidates bounds the addresses an initiator tries (Redirects add
// to them).
const maxCandidates = 8

type initiatorHandshake struct {
	tag        [16]byte
	epd        []byte
	parsedEPD  flashcrypto.EPD
	candidates []netip.AddrPort
	interval   time.Duration
	nextAt     time.Time
	deadline   time.Time
	cookie     []byte
	keying     *flashcrypto.InitiatorKeying
}

// setKeys installs the session codecs and the sizes derived from them.
func (s *Session) setKeys(keys *flashcrypto.SessionKeys, neg flashcrypto.Negotiated) {
	s.sealer, s.opener = keys.Codecs(neg)
	s.nearNonce, s.farNonce = keys.NearNonce, keys.FarNonce
	s.cipherMax = cipherRegion(neg.SendHMACLen)
	s.plainMax = s.cipherMax
}

// appendStartupHeader appends the header of a startup-mode packet.
func appendStartupHeader(b []byte, ts uint16) []byte {
	return wire.AppendHeader(b, &wire.Header{Flags: wire.FlagTimestamp, Mode: wire.ModeStartup, Timestamp: ts})
}

// queueStartup seals a startup packet built by fn and queues it for addr.
func (s *Session) queueStartup(now time.Time, addr netip.AddrPort, farID uint32, fn func([]byte) ([]byte, error)) {
	p := getPacket()
	b := appendStartupHeader(p.buf[:4+s.sealer.FrontMargin()], s.timestamp(now))
	b, err := fn(b)
	if err != nil {
		putPacket(p)
		return
	}
	p.buf = s.sealer.Seal(b, farID)
	s.out.add(p, p.buf, addr)
}

func (s *Session) flushHandshake(now time.Time) {
	hs := s.hs
	if now.Before(hs.nextAt) {
		return
	}
	switch s.state {
	case stateIHello:
		for _, a := range hs.candidates {
			s.queueStartup(now, a, 0, func(b []byte) ([]byte, error) {
				return wire.AppendIHello(b, &wire.IHello{EPD: hs.epd, Tag: hs.tag[:]})
			})
		}
	case stateIIKeying:
		s.queueStartup(now, s.addr, 0, func(b []byte) ([]byte, error) {
			return wire.AppendIIKeying(b, &wire.IIKeying{
				InitiatorSessionID: s.nearID,
				CookieEcho:         hs.cookie,
				Certificate:        s.e.id.Cert,
				SKIC:               hs.keying.SKIC(),
				Signature:          signature,
			})
		})
	}
	hs.nextAt = now.Add(hs.interval)
	hs.interval = hs.interval * 3 / 2
}

// signature is the Flash profile's placeholder signature: the responder
// does not check it, and Flash, rtmfp-cpp and MonaServer all send "X".
var signature = []byte("X")

// receiveHandshake processes packets while the initiator's handshake runs.
func (s *Session) receiveHandshake(p *packet) {
	plain := p.plain
	if plain == nil {
		var err error
		if plain, err = s.opener.Open(p.buf); err != nil {
			return
		}
	}
	h, body, err := wire.ParseHeader(plain)
	if err != nil || h.Mode != wire.ModeStartup || s.e.flashRejects(plain[0], false) {
		return
	}
	r := wire.NewChunkReader(body)
	for r.Next() {
		var err error
		switch r.Type() {
		case wire.ChunkRHello:
			err = s.onRHello(r.Payload(), p.addr, p.at)
		case wire.ChunkRedirect:
			s.onRedirect(r.Payload(), p.at)
		case wire.ChunkRHelloCookieChange:
			s.onCookieChange(r.Payload(), p.at)
		case wire.ChunkRIKeying:
			err = s.onRIKeying(r.Payload(), p.addr, p.at)
		}
		if err != nil {
			s.log.Debug("rtmfp handshake failed", zap.Error(err))
			s.terminate(p.at, err, false)
			return
		}
	}
}

func (s *Session) onRHello(payload []byte, from netip.AddrPort, now time.Time) error {
	hs := s.hs
	rh, err := wire.ParseRHello(payload)
	if s.state != stateIHello || err != nil || !bytes.Equal(rh.TagEcho, hs.tag[:]) || len(rh.Cookie) > 256 {
		return nil
	}
	cert, err := flashcrypto.ParseCertificate(rh.Certificate)
	s.log.Debug("rtmfp RHello", zap.Stringer("from", from), zap.Error(err))
	if err != nil || !hs.parsedEPD.Selects(cert) {
		// Not the endpoint we asked for (rtmfp-cpp ignores such RHellos
		// too); keep trying the others.
		return nil
	}
	keying, err := flashcrypto.NewInitiatorKeying(cert, s.e.cfg.DHGroups, s.e.cfg.Integrity, nil)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	id, err := s.e.registerSession(s)
	if err != nil {
		return err
	}
	s.nearID = id
	s.peerID = cert.Fingerprint
	hs.keying = keying
	hs.cookie = append([]byte(nil), rh.Cookie...)
	s.addr = from
	s.state = stateIIKeying
	hs.interval = s.e.cfg.HandshakeRetransmit
	hs.nextAt = now
	return nil
}

func (s *Session) onRedirect(payload []byte, now time.Time) {
	hs := s.hs
	var buf [maxCandidates]wire.Address
	rd, err := wire.ParseRedirect(payload, buf[:0], maxCandidates)
	if s.state != stateIHello || err != nil || !bytes.Equal(rd.TagEcho, hs.tag[:]) {
		return
	}
	for _, a := range rd.Addresses {
		ap := netip.AddrPortFrom(a.AddrPort.Addr().Unmap(), a.AddrPort.Port())
		if len(hs.candidates) < maxCandidates && ap.IsValid() && ap.Port() != 0 && !containsAddr(hs.candidates, ap) {
			hs.candidates = append(hs.candidates, ap)
			hs.nextAt = now
		}
	}
}

func containsAddr(list []netip.AddrPort, a netip.AddrPort) bool {
	for _, x := range list {
		if x == a {
			return true
		}
	}
	return false
}

func (s *Session) onCookieChange(payload []byte, now time.Time) {
	hs := s.hs
	cc, err := wire.ParseCookieChange(payload)
	if s.state != stateIIKeying || err != nil || !bytes.Equal(cc.OldCookie, hs.cookie) || len(cc.NewCookie) > 256 {
		return
	}
	hs.cookie = append(hs.cookie[:0], cc.NewCookie...)
	hs.nextAt = now
}

func (s *Session) onRIKeying(payload []byte, from netip.AddrPort, now time.Time) error {
	ri, err := wire.ParseRIKeying(payload)
	if s.state != stateIIKeying || err != nil || ri.ResponderSessionID == 0 {
		return nil
	}
	keys, neg, err := s.hs.keying.Finish(ri.SKRC)
	if err != nil {
		return fmt.Errorf("%w: %w", ErrHandshake, err)
	}
	s.setKeys(&keys, neg)
	s.farID = ri.ResponderSessionID
	s.addr = from
	s.state = stateOpen
	s.lastRecv = now
	s.e.dialed(s)
	s.hs = nil
	close(s.opened)
	return nil
}
