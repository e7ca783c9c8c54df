package rtmfp

import (
	"net/netip"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// The target's half of a P2P introduction (RFC 7016 §3.5.1.5). An
// initiator that wants to reach us by peer ID sends its IHello to a
// rendezvous server we hold a session with; the server forwards it to us
// in that session as a Forwarded IHello carrying the initiator's address.
// We answer with an RHello sent straight to that address: besides starting
// the handshake, the datagram opens our own NAT's mapping toward the
// initiator, which is what lets the initiator's IIKeying in (Flash does
// this; rtmfp-cpp only with FI_SEND_RHELLO).
//
// The RHello carries a cookie bound to the reply address exactly like one
// answering a direct IHello, so the IIKeying that follows is verified by
// the read loop as usual, and a Cookie Change repairs the case where the
// initiator's NAT maps it to another port toward us than toward the
// server. Only a peer we hold an authenticated session with can make us
// send RHellos this way, and each one costs it a datagram of about the
// same size, so the rate limit that guards unauthenticated IHellos is not
// applied.

// onFIHello handles a Forwarded IHello chunk received in an open session.
func (s *Session) onFIHello(payload []byte, now time.Time) {
	fh, err := wire.ParseFIHello(payload)
	if err != nil || len(fh.Tag) == 0 || len(fh.Tag) > 64 {
		return
	}
	epd, err := flashcrypto.ParseEPD(fh.EPD)
	if err != nil || !epd.HasFingerprint || !epd.Selects(s.e.cert) {
		return // not for us: we are no introducer
	}
	to := netip.AddrPortFrom(fh.ReplyAddress.AddrPort.Addr().Unmap(), fh.ReplyAddress.AddrPort.Port())
	if !to.IsValid() || to.Port() == 0 || to.Addr().IsUnspecified() || to.Addr().IsMulticast() {
		return
	}
	if accept := s.e.cfg.AcceptHello; accept != nil {
		h := &Hello{From: to, Tag: append([]byte(nil), fh.Tag...), EPD: append([]byte(nil), fh.EPD...),
			Fingerprint: [32]byte(epd.Fingerprint), HasFingerprint: true}
		if !accept(h) {
			return
		}
	}
	if err := s.e.sendRHello(to, fh.Tag, now); err != nil {
		s.log.Debug("rtmfp RHello for a forwarded IHello failed", zap.Error(err))
	}
}

// sendRHello sends an RHello with a fresh cookie for to from any goroutine.
func (e *Endpoint) sendRHello(to netip.AddrPort, tag []byte, now time.Time) error {
	var cookie [cookieLen]byte
	c := e.cookies.issue(cookie[:0], now, tag, to)
	e.apiMu.Lock()
	defer e.apiMu.Unlock()
	return e.sendStartup(e.apiSealer, to, 0, func(b []byte) ([]byte, error) {
		return wire.AppendRHello(b, &wire.RHello{TagEcho: tag, Cookie: c, Certificate: e.id.Cert})
	})
}
