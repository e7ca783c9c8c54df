package flashcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"crypto/hmac"
	"crypto/sha256"
	"crypto/subtle"
	"encoding/binary"
	"hash"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Packet layout on the wire (RFC 7016 §2.2.2-2.2.4 with the Flash profile,
// RFC 7425 §4.1 and §4.6):
//
//	SSID(4) | AES-128-CBC( [SSEQ VLU] [checksum(2)] plain packet 0xff-padding ) | [HMAC]
//
// The IV is zero for every packet so packets decrypt independently. In
// checksum mode the 16-bit checksum covers everything after it, padding
// included. When HMAC-SHA256 is negotiated for a direction the checksum is
// omitted and a truncated HMAC over the ciphertext follows it. When session
// sequence numbers are negotiated a VLU counter precedes everything, giving
// replay protection.

// DefaultKey is the well-known key of the startup pseudo-session (session ID
// 0) and of the RIKeying reply: the ASCII bytes "Adobe Systems 02".
var DefaultKey = [16]byte{'A', 'd', 'o', 'b', 'e', ' ', 'S', 'y', 's', 't', 'e', 'm', 's', ' ', '0', '2'}

// HMAC length bounds of RFC 7425 §4.6.4.
const (
	MinHMACLength     = 4
	MaxHMACLength     = 32
	DefaultHMACLength = 16
)

// SealOverhead is the most a Sealer adds after the plain packet: padding to
// the block size plus the longest HMAC.
const SealOverhead = aes.BlockSize - 1 + MaxHMACLength

// MaxFrontMargin is the most a Sealer reserves between the session ID and
// the plain packet: a session sequence number and a checksum.
const MaxFrontMargin = wire.MaxVLULen + 2

// cbcMode is implemented by the standard library's CBC modes; resetting the
// IV lets one BlockMode serve every packet without allocating.
type cbcMode interface {
	cipher.BlockMode
	SetIV([]byte)
}

var zeroIV [aes.BlockSize]byte

func newCBCDecrypter(key []byte) cbcMode {
	block, err := aes.NewCipher(key)
	if err != nil {
		panic(err) // key length is fixed at 16 by construction
	}
	return cipher.NewCBCDecrypter(block, zeroIV[:]).(cbcMode)
}

// Sealer encrypts the packets of one direction of a session. It is not safe
// for concurrent use; each session owns its own.
type Sealer struct {
	chains *chainCipher
	bodies [maxChains][]byte // SealGroup's scratch
	mac    hash.Hash         // nil in checksum mode
	macLen int
	sseq   bool
	next   uint64
	sum    [sha256.Size]byte
}

// NewSealer returns a Sealer for key. hmacKey selects HMAC mode with tags of
// hmacLen bytes; nil selects checksum mode. sseq enables session sequence
// numbers.
func NewSealer(key [16]byte, hmacKey []byte, hmacLen int, sseq bool) *Sealer {
	s := &Sealer{chains: newChainCipher(key, true), sseq: sseq}
	if hmacKey != nil {
		s.mac = hmac.New(sha256.New, hmacKey)
		s.macLen = hmacLen
	}
	return s
}

// NewDefaultSealer returns a Sealer for startup packets.
func NewDefaultSealer() *Sealer { return NewSealer(DefaultKey, nil, 0, false) }

// FrontMargin is the number of bytes the caller must leave between the
// 4-byte session ID field and the plain packet of the next Seal.
func (s *Sealer) FrontMargin() int {
	n := 0
	if s.mac == nil {
		n = 2
	}
	if s.sseq {
		n += wire.VLULen(s.next)
	}
	return n
}

// Seal encrypts pkt in place and returns the datagram. pkt must hold 4
// bytes for the session ID, FrontMargin() bytes, then the plain packet; its
// capacity must allow SealOverhead more bytes. farSessionID is the session
// ID the receiver asked for (0 for startup packets).
func (s *Sealer) Seal(pkt []byte, farSessionID uint32) []byte {
	one := [1][]byte{pkt}
	s.SealGroup(one[:], farSessionID)
	return one[0]
}

// Groupable reports whether several packets may be built before any is
// sealed and then go through SealGroup: without session sequence numbers
// the front margin is the same for every packet.
func (s *Sealer) Groupable() bool { return !s.sseq }

// GroupSize is the most packets SealGroup takes.
const GroupSize = maxChains

// SealGroup seals each of pkts (at most GroupSize) as Seal would and
// replaces it with its datagram, in one pass that runs the packets' CBC
// chains side by side (see chainCipher): a chain is a run of dependent
// AES operations, each waiting for the one before, and independent chains
// fill each other's gaps. Packets built before any of them was sealed
// need a Groupable Sealer (their front margins were reserved alike).
func (s *Sealer) SealGroup(pkts [][]byte, farSessionID uint32) {
	bodies := s.bodies[:len(pkts)]
	for i, p := range pkts {
		bodies[i] = s.prepare(p)
	}
	s.chains.encrypt(bodies)
	for i, p := range pkts {
		pkts[i] = s.finish(p, bodies[i], farSessionID)
		bodies[i] = nil
	}
}

// prepare pads the plain packet to whole blocks and writes the sequence
// number and checksum into the front margin; it returns the part to
// encrypt.
func (s *Sealer) prepare(pkt []byte) []byte {
	body := pkt[4:]
	for len(body)%aes.BlockSize != 0 {
		body = append(body, 0xff)
	}
	margin := s.FrontMargin()
	p := body[:0]
	if s.sseq {
		p = wire.AppendVLU(p, s.next)
		s.next++
	}
	if s.mac == nil {
		binary.BigEndian.PutUint16(body[len(p):], Checksum(body[margin:]))
	}
	return body
}

// finish adds the HMAC, if any, and the scrambled session ID to the
// encrypted body and returns the datagram.
func (s *Sealer) finish(pkt, body []byte, farSessionID uint32) []byte {
	out := pkt[:4+len(body)]
	if s.mac != nil {
		s.mac.Reset()
		s.mac.Write(body)
		out = append(out, s.mac.Sum(s.sum[:0])[:s.macLen]...)
	}
	binary.BigEndian.PutUint32(out, farSessionID^binary.BigEndian.Uint32(out[4:])^binary.BigEndian.Uint32(out[8:]))
	return out
}

// Opener decrypts and verifies the packets of one direction of a session.
// It is not safe for concurrent use.
type Opener struct {
	cbc    cbcMode
	mac    hash.Hash
	macLen int
	sseq   bool
	// Replay window: highest sequence number seen and a bitmap of the 64
	// numbers at and below it.
	highest uint64
	window  uint64
	seen    bool
	sum     [sha256.Size]byte
}

// NewOpener returns an Opener; the arguments mirror NewSealer's.
func NewOpener(key [16]byte, hmacKey []byte, hmacLen int, sseq bool) *Opener {
	o := &Opener{cbc: newCBCDecrypter(key[:]), sseq: sseq}
	if hmacKey != nil {
		o.mac = hmac.New(sha256.New, hmacKey)
		o.macLen = hmacLen
	}
	return o
}

// NewDefaultOpener returns an Opener for startup packets.
func NewDefaultOpener() *Opener { return NewOpener(DefaultKey, nil, 0, false) }

// maxSSEQGap is how far below the highest session sequence number a packet
// may be and still be accepted (rtmfp-cpp's MAX_SSEQ_GAP).
const maxSSEQGap = 32

// SessionID recovers the session ID from a datagram's scrambled session ID
// (RFC 7016 §2.2.2). Datagrams shorter than 12 bytes are treated as if
// zero-padded.
func SessionID(d []byte) uint32 {
	var w [12]byte
	copy(w[:], d)
	return binary.BigEndian.Uint32(w[0:]) ^ binary.BigEndian.Uint32(w[4:]) ^ binary.BigEndian.Uint32(w[8:])
}

// Open decrypts the datagram d in place and returns the plain packet (the
// flags byte onwards, padding included), which aliases d. On error the
// contents of d are unspecified and no state has changed.
func (o *Opener) Open(d []byte) ([]byte, error) {
	if len(d) < 4+o.macLen {
		return nil, ErrPacketLength
	}
	body := d[4 : len(d)-o.macLen]
	if len(body) == 0 || len(body)%aes.BlockSize != 0 {
		return nil, ErrPacketLength
	}
	if o.mac != nil {
		o.mac.Reset()
		o.mac.Write(body)
		tag := o.mac.Sum(o.sum[:0])[:o.macLen]
		if subtle.ConstantTimeCompare(tag, d[len(d)-o.macLen:]) != 1 {
			return nil, ErrIntegrity
		}
	}
	o.cbc.SetIV(zeroIV[:])
	o.cbc.CryptBlocks(body, body)
	p := body
	var seq uint64
	if o.sseq {
		v, n, err := wire.ParseVLU(p)
		if err != nil {
			return nil, ErrIntegrity
		}
		if !o.fresh(v) {
			return nil, ErrReplay
		}
		seq, p = v, p[n:]
	}
	if o.mac == nil {
		if len(p) < 2 || binary.BigEndian.Uint16(p) != Checksum(p[2:]) {
			return nil, ErrIntegrity
		}
		p = p[2:]
	}
	if o.sseq {
		o.mark(seq)
	}
	return p, nil
}

func (o *Opener) fresh(v uint64) bool {
	if !o.seen || v > o.highest {
		return true
	}
	d := o.highest - v
	return d < maxSSEQGap && o.window&(1<<d) == 0
}

func (o *Opener) mark(v uint64) {
	switch {
	case !o.seen:
		o.seen, o.highest, o.window = true, v, 1
	case v > o.highest:
		shift := v - o.highest
		if shift >= 64 {
			o.window = 0
		} else {
			o.window <<= shift
		}
		o.window |= 1
		o.highest = v
	default:
		o.window |= 1 << (o.highest - v)
	}
}
