package flashcrypto

import (
	"crypto/rand"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Session key component option types (RFC 7425 §4.6 via rtmfp-cpp). Note
// that 0x1d means "group select" here but "static public key" in a
// certificate.
const (
	KeyingDHPublicKey     = 0x0d // VLU group + public key
	KeyingExtraRandomness = 0x0e
	KeyingHMAC            = 0x1a // flags byte + VLU HMAC length
	KeyingGroupSelect     = 0x1d // VLU group: "use my certificate's static key"
	KeyingSSEQ            = 0x1e // flags byte
)

// Negotiation flag bits shared by the HMAC and SSEQ options.
const (
	NegotiateSendAlways    = 0x04
	NegotiateSendOnRequest = 0x02
	NegotiateRequest       = 0x01 // rtmfp-cpp treats it as "require"
)

// legacySKRCHead is the exact SKRC prefix Cumulus and MonaServer send and
// librtmfp insists on: HMAC and SSEQ both refused, nothing requested.
var legacySKRCHead = []byte{0x03, KeyingHMAC, 0x00, 0x00, 0x02, KeyingSSEQ, 0x00}

// Policy is what this end asks for in the integrity negotiation.
type Policy struct {
	// HMAC requires HMAC-SHA256 packet authentication in both directions
	// (rtmfp-cpp's default); false offers it on request only, as Flash
	// does, and runs the 16-bit checksum otherwise.
	HMAC bool
	// SSEQ likewise requires session sequence numbers (replay protection).
	SSEQ bool
	// HMACLength is the tag length this end sends (4..32; 0 means 16).
	HMACLength int
}

func (p Policy) hmacLen() int {
	if p.HMACLength == 0 {
		return DefaultHMACLength
	}
	return min(max(p.HMACLength, MinHMACLength), MaxHMACLength)
}

// Negotiated is the outcome of the negotiation for each direction.
type Negotiated struct {
	SendHMAC, RecvHMAC       bool
	SendHMACLen, RecvHMACLen int
	SendSSEQ, RecvSSEQ       bool
}

type feature struct{ sendAlways, recvRequired bool }

func (f feature) flags() byte {
	b := byte(NegotiateSendOnRequest)
	if f.sendAlways {
		b |= NegotiateSendAlways
	}
	if f.recvRequired {
		b |= NegotiateRequest
	}
	return b
}

// negotiate applies the far end's flags as rtmfp-cpp does.
func (f *feature) negotiate(far byte) error {
	if f.recvRequired && far&(NegotiateSendAlways|NegotiateSendOnRequest) == 0 {
		return ErrNegotiation
	}
	if far&NegotiateSendAlways != 0 {
		f.recvRequired = true
	}
	if far&NegotiateRequest != 0 {
		f.sendAlways = true
	}
	return nil
}

// negotiationOption returns the flags byte and, for HMAC, the length of an
// option; absent options read as zero flags.
func negotiationOption(component []byte, typ uint64) (flags byte, length uint64) {
	v, ok := wire.FindOption(component, typ)
	if !ok || len(v) == 0 {
		return 0, 0
	}
	if typ == KeyingHMAC {
		length, _, _ = wire.ParseVLU(v[1:])
	}
	return v[0], length
}

func negotiateBoth(p Policy, far []byte) (hm, sq feature, n Negotiated, err error) {
	hm = feature{p.HMAC, p.HMAC}
	sq = feature{p.SSEQ, p.SSEQ}
	sflags, _ := negotiationOption(far, KeyingSSEQ)
	if err = sq.negotiate(sflags); err != nil {
		return
	}
	hflags, hlen := negotiationOption(far, KeyingHMAC)
	if err = hm.negotiate(hflags); err != nil {
		return
	}
	if hm.recvRequired && (hlen < MinHMACLength || hlen > MaxHMACLength) {
		err = fmt.Errorf("%w: HMAC length %d", ErrNegotiation, hlen)
		return
	}
	n = Negotiated{
		SendHMAC: hm.sendAlways, RecvHMAC: hm.recvRequired,
		SendSSEQ: sq.sendAlways, RecvSSEQ: sq.recvRequired,
	}
	if n.SendHMAC {
		n.SendHMACLen = p.hmacLen()
	}
	if n.RecvHMAC {
		n.RecvHMACLen = int(hlen)
	}
	return
}

func appendNegotiation(b []byte, p Policy, hm, sq feature) []byte {
	b = wire.AppendOption(b, KeyingHMAC, wire.AppendVLU([]byte{hm.flags()}, uint64(p.hmacLen())))
	return wire.AppendOption(b, KeyingSSEQ, []byte{sq.flags()})
}

func appendPublicKey(b []byte, kp *KeyPair) []byte {
	v := wire.AppendVLU(make([]byte, 0, 2+len(kp.Public)), uint64(kp.Group))
	return wire.AppendOption(b, KeyingDHPublicKey, append(v, kp.Public...))
}

// groupAndKey splits a 0x0d / 0x1d option value into group and key.
func groupAndKey(v []byte) (GroupID, []byte, error) {
	g, n, err := wire.ParseVLU(v)
	if err != nil || g >= 256 {
		return 0, nil, fmt.Errorf("%w: group", ErrKeyingComponent)
	}
	return GroupID(g), v[n:], nil
}

// Codecs builds the session's packet codecs from derived keys.
func (k *SessionKeys) Codecs(n Negotiated) (*Sealer, *Opener) {
	var sk, rk []byte
	if n.SendHMAC {
		sk = k.SendHMAC[:]
	}
	if n.RecvHMAC {
		rk = k.RecvHMAC[:]
	}
	return NewSealer([16]byte(k.Encrypt[:16]), sk, n.SendHMACLen, n.SendSSEQ),
		NewOpener([16]byte(k.Decrypt[:16]), rk, n.RecvHMACLen, n.RecvSSEQ)
}

// InitiatorKeying is the initiator's half of the key agreement, created
// after the RHello and finished with the RIKeying's component.
type InitiatorKeying struct {
	kp     *KeyPair
	secret []byte // set now if the responder's certificate has a static key
	skic   []byte
	policy Policy
}

// NewInitiatorKeying picks the first of our groups the responder offers,
// generates a key pair and builds the initiator component (SKIC).
func NewInitiatorKeying(responder *Certificate, groups []GroupID, p Policy, r io.Reader) (*InitiatorKeying, error) {
	var g GroupID
	for _, x := range groups {
		if x.Supported() && responder.Offers(x) {
			g = x
			break
		}
	}
	if g == 0 {
		return nil, ErrNoCommonGroup
	}
	kp, err := GenerateKey(g, r)
	if err != nil {
		return nil, err
	}
	k := &InitiatorKeying{kp: kp, policy: p}
	if responder.Static {
		pub, _ := responder.StaticKey(g)
		if k.secret, err = kp.SharedSecret(pub); err != nil {
			return nil, err
		}
	}
	k.skic = appendPublicKey(nil, kp)
	k.skic = appendNegotiation(k.skic, p, feature{p.HMAC, p.HMAC}, feature{p.SSEQ, p.SSEQ})
	return k, nil
}

// SKIC returns the session key initiator component to send in IIKeying.
func (k *InitiatorKeying) SKIC() []byte { return k.skic }

// Finish combines the responder's component (SKRC) and derives the keys.
func (k *InitiatorKeying) Finish(skrc []byte) (SessionKeys, Negotiated, error) {
	_, _, n, err := negotiateBoth(k.policy, skrc)
	if err != nil {
		return SessionKeys{}, Negotiated{}, err
	}
	secret := k.secret
	if secret == nil {
		v, ok := findGroupOption(skrc, KeyingDHPublicKey, k.kp.Group)
		if !ok {
			return SessionKeys{}, Negotiated{}, fmt.Errorf("%w: no public key for group %d", ErrKeyingComponent, k.kp.Group)
		}
		if secret, err = k.kp.SharedSecret(v); err != nil {
			return SessionKeys{}, Negotiated{}, err
		}
	}
	return DeriveKeys(secret, k.skic, skrc), n, nil
}

func findGroupOption(component []byte, typ uint64, g GroupID) ([]byte, bool) {
	it := wire.OptionList(component)
	for it.Next() {
		if it.Type() != typ {
			continue
		}
		if gg, key, err := groupAndKey(it.Value()); err == nil && gg == g {
			return key, true
		}
	}
	return nil, false
}

// Responder computes the responder's half of the key agreement from an
// IIKeying's certificate and component: it returns the SKRC to send in
// RIKeying, the session keys and the negotiated integrity modes.
//
// When neither side asks for HMAC or sequence numbers the SKRC starts with
// the exact bytes Cumulus and MonaServer send (03 1a 00 00 02 1e 00),
// because librtmfp compares them literally; otherwise it carries a
// standard negotiation. The public key follows in both cases, at the offset
// librtmfp expects.
func Responder(initiator *Certificate, skic []byte, accept []GroupID, p Policy, r io.Reader) ([]byte, SessionKeys, Negotiated, error) {
	if r == nil {
		r = rand.Reader
	}
	hm, sq, n, err := negotiateBoth(p, skic)
	if err != nil {
		return nil, SessionKeys{}, Negotiated{}, err
	}
	var g GroupID
	var peerKey []byte
	if initiator.Static {
		v, ok := wire.FindOption(skic, KeyingGroupSelect)
		if !ok {
			return nil, SessionKeys{}, Negotiated{}, fmt.Errorf("%w: no group select", ErrKeyingComponent)
		}
		if g, _, err = groupAndKey(v); err != nil {
			return nil, SessionKeys{}, Negotiated{}, err
		}
		if peerKey, ok = initiator.StaticKey(g); !ok {
			return nil, SessionKeys{}, Negotiated{}, fmt.Errorf("%w: no certificate key for group %d", ErrKeyingComponent, g)
		}
	} else {
		v, ok := wire.FindOption(skic, KeyingDHPublicKey)
		if !ok {
			return nil, SessionKeys{}, Negotiated{}, fmt.Errorf("%w: no public key", ErrKeyingComponent)
		}
		if g, peerKey, err = groupAndKey(v); err != nil {
			return nil, SessionKeys{}, Negotiated{}, err
		}
	}
	acceptable := false
	for _, x := range accept {
		acceptable = acceptable || x == g
	}
	if !acceptable || !g.Supported() {
		return nil, SessionKeys{}, Negotiated{}, fmt.Errorf("%w: %d", ErrUnsupportedGroup, g)
	}
	kp, err := GenerateKey(g, r)
	if err != nil {
		return nil, SessionKeys{}, Negotiated{}, err
	}
	secret, err := kp.SharedSecret(peerKey)
	if err != nil {
		return nil, SessionKeys{}, Negotiated{}, err
	}
	skrc := make([]byte, 0, 16+len(kp.Public))
	if n == (Negotiated{}) {
		skrc = append(skrc, legacySKRCHead...)
	} else {
		skrc = appendNegotiation(skrc, p, hm, sq)
	}
	skrc = appendPublicKey(skrc, kp)
	return skrc, DeriveKeys(secret, skrc, skic), n, nil
}
