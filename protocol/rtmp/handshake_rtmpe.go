package rtmp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/rc4"
	"crypto/sha256"
	"encoding/binary"
	"fmt"
	"io"
	"math/big"
)

// RTMPE is the digest handshake of handshake_digest.go with a Diffie-Hellman
// exchange folded into C1 and S1, after which both directions are RC4
// encrypted. It is not in the published RTMP specification; docs/rtmpe.md
// sets out the layout and key schedule implemented here. The keys it agrees
// on protect the stream from a passive observer only: nothing authenticates
// the peer.

// dhKeySize is the length of a public key in C1 or S1: the 1024-bit group's
// elements, big-endian, left-padded with zeros.
const dhKeySize = 128

// dhPositionModulus spreads the public key over the half of C1 or S1 that
// does not hold the digest (docs/rtmpe.md §2).
const dhPositionModulus = 632

// dhPrivateBits is the size of our private exponent. RFC 3526 §8 asks for
// twice the group's security strength (about 80 bits for this group); 256
// bits keeps each exponentiation a quarter of a full-size one, which bounds
// what a flood of RTMPE handshakes costs the server.
const dhPrivateBits = 256

// dhPrime is the 1024-bit MODP group of RFC 2409 §6.2 (Oakley group 2),
// generator 2, that Flash Player and AMS use for RTMPE. It is never
// modified.
var dhPrime, _ = new(big.Int).SetString(
	"FFFFFFFFFFFFFFFFC90FDAA22168C234C4C6628B80DC1CD1"+
		"29024E088A67CC74020BBEA63B139B22514A08798E3404DD"+
		"EF9519B3CD3A431B302B0A6DF25F14374FE1356D6D51C245"+
		"E485B576625E7EC6F44C42E9A637ED6B0BFF5CB6F406B7ED"+
		"EE386BFB5A899FA5AE9F24117C4B1FE649286651ECE65381"+
		"FFFFFFFFFFFFFFFF", 16)

// rc4Skip is how far both keystreams advance before the first encrypted
// byte: each side runs its ciphers over 1536 bytes as though C2 and S2, which
// travel in the clear, had been encrypted (docs/rtmpe.md §4).
const rc4Skip = handshakeSize

// Ciphers are the RC4 keystreams of an RTMPE connection, positioned at the
// first byte after the handshake. NewRTMPEConn applies them to a connection.
type Ciphers struct {
	Read, Write *rc4.Cipher
}

// dhOffset returns where the public key of a C1 or S1 sits, for the digest
// scheme that the same message uses: base 8 puts the key in the second half,
// placed by bytes 1532..1535; base 772 puts it in the first half, placed by
// bytes 768..771. Neither range overlaps the bytes that place it or the
// digest.
func dhOffset(p []byte, scheme int) int {
	base, add := 1532, 772
	if scheme == SchemeBase772 {
		base, add = 768, 8
	}
	sum := int(p[base]) + int(p[base+1]) + int(p[base+2]) + int(p[base+3])
	return sum%dhPositionModulus + add
}

// dhKey is one side's Diffie-Hellman key pair.
type dhKey struct {
	private *big.Int
	public  [dhKeySize]byte
}

// newDHKey draws a private exponent and computes the public key 2^x mod p.
func newDHKey() (dhKey, error) {
	var secret [dhPrivateBits / 8]byte
	if _, err := rand.Read(secret[:]); err != nil {
		return dhKey{}, fmt.Errorf("rtmp: RTMPE private key: %w", err)
	}
	k := dhKey{private: new(big.Int).SetBytes(secret[:])}
	new(big.Int).Exp(big.NewInt(2), k.private, dhPrime).FillBytes(k.public[:])
	return k, nil
}

// peerPublicKey parses the peer's public key and refuses the values that
// would give away the shared secret: 0 and 1, p-1 (which confines the secret
// to ±1), and anything at or above p. With a safe prime those are the only
// elements of small order, so no further subgroup check is needed.
func peerPublicKey(b []byte) (*big.Int, error) {
	y := new(big.Int).SetBytes(b)
	limit := new(big.Int).Sub(dhPrime, big.NewInt(1))
	if y.Cmp(big.NewInt(1)) <= 0 || y.Cmp(limit) >= 0 {
		return nil, fmt.Errorf("%w: %d bits, outside 2..p-2", ErrRTMPEKey, y.BitLen())
	}
	return y, nil
}

// ciphers computes the shared secret with the peer's public key and derives
// the two RC4 keys: the one we write with is keyed by the HMAC-SHA256 of the
// peer's public key under the secret, the one we read with by that of our
// own, so that each direction's key is the same on both sides.
func (k dhKey) ciphers(peer *big.Int, peerPublic []byte) *Ciphers {
	var secret [dhKeySize]byte
	new(big.Int).Exp(peer, k.private, dhPrime).FillBytes(secret[:])
	key := func(public []byte) *rc4.Cipher {
		m := hmac.New(sha256.New, secret[:])
		m.Write(public)
		c, _ := rc4.NewCipher(m.Sum(nil)[:16]) // 16 bytes is always a valid RC4 key
		var skip [rc4Skip]byte
		c.XORKeyStream(skip[:], skip[:])
		return c
	}
	return &Ciphers{Read: key(k.public[:]), Write: key(peerPublic)}
}

// isRTMPE reports whether a C0 value asks for an RTMPE handshake we speak.
func isRTMPE(v byte) bool { return v == versionRTMPE || v == versionRTMPEXTEA }

// serverRTMPE answers an RTMPE C1 (after C0 = version): it checks the C1
// digest and the client's public key, and fills in s0s1s2. S1 carries our
// public key and digest in the client's scheme; S2 is signed from the C1
// digest as in the digest handshake, its signature enciphered with XTEA for
// version 8. A C1 without a valid digest is refused: its key cannot be
// located without the scheme.
func serverRTMPE(version byte, c1, s0s1s2 []byte) (HandshakeInfo, *Ciphers, error) {
	info := HandshakeInfo{ClientTime: binary.BigEndian.Uint32(c1), Version: version}
	copy(info.ClientVersion[:], c1[4:8])
	var off int
	info.Scheme, off = findDigest(c1, playerKey[:playerPartialKeyLen])
	if info.Scheme == SchemeNone {
		return info, nil, fmt.Errorf("%w: RTMPE C1 digest does not verify", ErrDigestMismatch)
	}
	info.Digest = true
	clientPublic := c1[dhOffset(c1, info.Scheme):][:dhKeySize]
	peer, err := peerPublicKey(clientPublic)
	if err != nil {
		return info, nil, err
	}
	key, err := newDHKey()
	if err != nil {
		return info, nil, err
	}

	s0s1s2[0] = version
	s1, s2 := s0s1s2[1:1+handshakeSize], s0s1s2[1+handshakeSize:]
	copy(s1[4:8], serverVersion[:]) // time stays 0, as in the digest handshake
	rand.Read(s1[8:])
	copy(s1[dhOffset(s1, info.Scheme):], key.public[:])
	imprintDigest(s1, info.Scheme, serverKey[:serverPartialKeyLen])

	rand.Read(s2[:signedSize])
	respKey := responseKey(serverKey, c1[off:off+digestSize])
	sign(s2, respKey)
	if version == versionRTMPEXTEA {
		xteaSignature(s2[signedSize:], respKey)
	}
	return info, key.ciphers(peer, clientPublic), nil
}

// ClientHandshakeRTMPE performs the client side of an RTMPE handshake on rw
// with C0 = version (6, or 8 for the XTEA variant) and returns the ciphers
// for what follows (NewRTMPEConn). C1 carries our public key and digest in
// the base-772 scheme, as rtmpdump's do (docs/rtmpe.md §2); the server's
// S1 digest, public key and S2 signature must all verify. Like
// ClientHandshake it reads exactly the handshake bytes and leaves deadlines
// to the caller.
func ClientHandshakeRTMPE(rw io.ReadWriter, version byte) (*Ciphers, error) {
	return clientRTMPE(rw, version, SchemeBase772)
}

// clientRTMPE is ClientHandshakeRTMPE with the C1 scheme chosen, so that the
// tests can exercise both.
func clientRTMPE(rw io.ReadWriter, version byte, scheme int) (*Ciphers, error) {
	if !isRTMPE(version) {
		return nil, fmt.Errorf("%w: RTMPE version %d", ErrUnsupportedVersion, version)
	}
	key, err := newDHKey()
	if err != nil {
		return nil, err
	}
	buf := make([]byte, 1+handshakeSize+1+2*handshakeSize)
	c0c1, s0s1s2 := buf[:1+handshakeSize], buf[1+handshakeSize:]
	c0c1[0] = version
	c1 := c0c1[1:]
	copy(c1[4:8], clientVersion[:])
	rand.Read(c1[8:])
	copy(c1[dhOffset(c1, scheme):], key.public[:])
	off := imprintDigest(c1, scheme, playerKey[:playerPartialKeyLen])
	c1Digest := c1[off : off+digestSize]
	if _, err := rw.Write(c0c1); err != nil {
		return nil, fmt.Errorf("rtmp: writing C0+C1: %w", err)
	}
	if _, err := io.ReadFull(rw, s0s1s2); err != nil {
		return nil, fmt.Errorf("rtmp: reading S0+S1+S2: %w", unexpected(err))
	}
	if s0s1s2[0] != version {
		return nil, fmt.Errorf("%w: S0 = %d for an RTMPE C0 of %d", ErrUnsupportedVersion, s0s1s2[0], version)
	}
	s1, s2 := s0s1s2[1:1+handshakeSize], s0s1s2[1+handshakeSize:]
	s1Scheme, s1Off := findDigest(s1, serverKey[:serverPartialKeyLen])
	if s1Scheme == SchemeNone {
		return nil, fmt.Errorf("%w: S1 digest does not verify", ErrDigestMismatch)
	}
	serverPublic := s1[dhOffset(s1, s1Scheme):][:dhKeySize]
	peer, err := peerPublicKey(serverPublic)
	if err != nil {
		return nil, err
	}
	var want [digestSize]byte
	respKey := responseKey(serverKey, c1Digest)
	signature(want[:], s2[:signedSize], respKey)
	if version == versionRTMPEXTEA {
		xteaSignature(want[:], respKey)
	}
	if !hmac.Equal(want[:], s2[signedSize:]) {
		return nil, fmt.Errorf("%w: S2 signature does not verify", ErrDigestMismatch)
	}
	c2 := c1 // C1 is no longer needed; build C2 in its place.
	rand.Read(c2[:signedSize])
	respKey = responseKey(playerKey, s1[s1Off:s1Off+digestSize])
	sign(c2, respKey)
	if version == versionRTMPEXTEA {
		xteaSignature(c2[signedSize:], respKey)
	}
	ciphers := key.ciphers(peer, serverPublic)
	if _, err := rw.Write(c2); err != nil {
		return nil, fmt.Errorf("rtmp: writing C2: %w", err)
	}
	return ciphers, nil
}
