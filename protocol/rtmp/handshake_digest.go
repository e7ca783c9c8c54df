package rtmp

import (
	"crypto/hmac"
	"crypto/sha256"
)

// The digest ("complex") handshake was introduced by Flash Player 9.0.115
// and is not in the published RTMP specification; the facts used here are
// collected in ams-behaviour.md §1.3–§1.5. C1 and S1 carry an HMAC-SHA256
// of themselves at a position derived from four of their own bytes, keyed
// with a well-known string; S2 and C2 carry an HMAC of 1504 random bytes
// keyed by the peer's digest. None of this is secret — the keys are public —
// so it is feature negotiation, not authentication: Flash Player withholds
// H.264/AAC playback from servers that do not answer in kind.

const (
	handshakeSize = 1536 // C1, S1, C2 and S2 (RTMP 1.0 §5.2.3, §5.2.4)
	digestSize    = sha256.Size
	// signedSize is the part of S2 or C2 covered by its trailing signature.
	signedSize = handshakeSize - digestSize
)

// Digest positions. The four bytes at base are summed modulo 728 to place
// the digest after them; the two schemes differ only in base.
const (
	schemeBase8   = 8
	schemeBase772 = 772
	digestModulus = 728
)

// Scheme values reported in HandshakeInfo.Scheme.
const (
	SchemeNone    = 0 // simple handshake (RTMP 1.0 §5.2)
	SchemeBase8   = 1 // digest located from C1 bytes 8..11
	SchemeBase772 = 2 // digest located from C1 bytes 772..775
)

// keySuffix completes the two partial keys into the full keys used to sign
// S2 and C2.
var keySuffix = [...]byte{
	0xF0, 0xEE, 0xC2, 0x4A, 0x80, 0x68, 0xBE, 0xE8,
	0x2E, 0x00, 0xD0, 0xD1, 0x02, 0x9E, 0x7E, 0x57,
	0x6E, 0xEC, 0x5D, 0x2D, 0x29, 0x80, 0x6F, 0xAB,
	0x93, 0xB8, 0xE6, 0x36, 0xCF, 0xEB, 0x31, 0xAE,
}

var (
	// playerKey is the Flash Player key: its first 30 bytes sign C1, all 62
	// derive the key that signs C2.
	playerKey = append([]byte("Genuine Adobe Flash Player 001"), keySuffix[:]...)
	// serverKey is the Flash Media Server key: its first 36 bytes sign S1,
	// all 68 derive the key that signs S2.
	serverKey = append([]byte("Genuine Adobe Flash Media Server 001"), keySuffix[:]...)
)

const (
	playerPartialKeyLen = 30
	serverPartialKeyLen = 36
)

// schemeBase maps a Scheme value to its base offset.
func schemeBase(scheme int) int {
	if scheme == SchemeBase772 {
		return schemeBase772
	}
	return schemeBase8
}

// digestOffset returns where the digest of a 1536-byte C1 or S1 sits for
// the given base offset.
func digestOffset(p []byte, base int) int {
	sum := int(p[base]) + int(p[base+1]) + int(p[base+2]) + int(p[base+3])
	return sum%digestModulus + base + 4
}

// appendDigest appends to dst the HMAC-SHA256 of p with the digestSize
// bytes at off left out.
func appendDigest(dst, p []byte, off int, key []byte) []byte {
	h := hmac.New(sha256.New, key)
	h.Write(p[:off])
	h.Write(p[off+digestSize:])
	return h.Sum(dst)
}

// findDigest looks for a valid digest in a C1 or S1, trying base 772 first
// and then base 8 as nginx-rtmp and SRS do (at most one can match). It
// returns SchemeNone when neither does, and otherwise the scheme and the
// digest's offset.
func findDigest(p, key []byte) (scheme, off int) {
	var sum [digestSize]byte
	for _, s := range [...]int{SchemeBase772, SchemeBase8} {
		off := digestOffset(p, schemeBase(s))
		if hmac.Equal(appendDigest(sum[:0], p, off, key), p[off:off+digestSize]) {
			return s, off
		}
	}
	return SchemeNone, 0
}

// imprintDigest writes the digest of p into p at the position the scheme
// selects and returns that position. The rest of p must already be final.
func imprintDigest(p []byte, scheme int, key []byte) int {
	off := digestOffset(p, schemeBase(scheme))
	appendDigest(p[off:off], p, off, key)
	return off
}

// responseKey returns the key that signs an S2 or C2:
// HMAC-SHA256(fullKey, peerDigest).
func responseKey(fullKey, peerDigest []byte) [digestSize]byte {
	h := hmac.New(sha256.New, fullKey)
	h.Write(peerDigest)
	var k [digestSize]byte
	h.Sum(k[:0])
	return k
}

// signature writes the HMAC-SHA256 of msg under key into dst.
func signature(dst, msg []byte, key [digestSize]byte) {
	m := hmac.New(sha256.New, key[:])
	m.Write(msg)
	m.Sum(dst[:0])
}

// sign fills in the signature of an S2 or C2 whose first signedSize bytes
// are already random.
func sign(p []byte, key [digestSize]byte) {
	signature(p[signedSize:], p[:signedSize], key)
}

// signResponse signs an S2 or C2 with the key derived from fullKey and the
// peer's digest.
func signResponse(p, fullKey, peerDigest []byte) {
	sign(p, responseKey(fullKey, peerDigest))
}

// validResponse reports whether an S2 or C2 carries the signature that
// signResponse would have written.
func validResponse(p, fullKey, peerDigest []byte) bool {
	var sum [digestSize]byte
	signature(sum[:], p[:signedSize], responseKey(fullKey, peerDigest))
	return hmac.Equal(sum[:], p[signedSize:])
}
