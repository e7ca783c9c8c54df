package rtmp

import (
	"crypto/rand"
	"encoding/binary"
	"fmt"
	"io"
)

// Version is the RTMP version carried in C0 and S0 (RTMP 1.0 §5.2.2).
const Version = 3

// C0 values at or above notRTMPVersion are printable characters, which
// RTMP 1.0 §5.2.2 reserves so that text protocols can be told apart.
const notRTMPVersion = 32

// RTMPE asks for these versions in C0: 6 for the Diffie-Hellman + RC4
// handshake, 8 and 9 for its variants with an XTEA or Blowfish enciphered
// S2 and C2 signature (docs/rtmpe.md). 9 is refused: no client we can test
// against sends it.
const (
	versionRTMPE         = 6
	versionRTMPEXTEA     = 8
	versionRTMPEBlowfish = 9
)

var (
	// serverVersion is the non-zero version our digest-style S1 carries.
	// ffmpeg verifies a server's S1 and S2 only when the first byte is 3 or
	// more, so we present ourselves as an FMS 5 server.
	serverVersion = [4]byte{5, 0, 17, 0}
	// clientVersion is the Flash Player version our digest-style C1
	// carries, the one ffmpeg sends (LNX 9,0,124,2).
	clientVersion = [4]byte{9, 0, 124, 2}
)

// HandshakeInfo describes the handshake a client performed.
type HandshakeInfo struct {
	// Digest reports whether C1 carried a valid Flash Player digest and the
	// server answered with the digest handshake.
	Digest bool
	// Scheme is SchemeNone, SchemeBase8 or SchemeBase772.
	Scheme int
	// ClientVersion is C1 bytes 4..7: zero for a simple handshake,
	// otherwise the client's self-reported version (9.0.124.2 for ffmpeg).
	ClientVersion [4]byte
	// ClientTime is C1 bytes 0..3, the client's epoch (RTMP 1.0 §5.2.3).
	ClientTime uint32
	// Version is C0: 3 for RTMP (or whatever older value the client sent),
	// 6 or 8 for RTMPE.
	Version byte
	// RTMPE is set after an RTMPE handshake: every byte that follows, in
	// both directions, goes through these ciphers (NewRTMPEConn).
	RTMPE *Ciphers
}

// ServerHandshake performs the server side of the handshake on rw: it reads
// C0 and C1, writes S0, S1 and S2 in one write, and reads C2.
//
// A C1 whose version bytes are zero gets the simple handshake of RTMP 1.0
// §5.2 with S2 an echo of C1. Otherwise the C1 digest is checked with the
// Flash Player key (base 772, then base 8); if it validates, S1 is signed
// with the server key using the client's scheme and S2 is signed from the
// C1 digest. A C1 that fails validation falls back to the simple handshake:
// that is never a reason to refuse a client. C2 is read but not checked
// (errata §3; ffmpeg's C2 would not verify).
//
// With rtmpe set, a C0 of 6 or 8 gets the RTMPE handshake (serverRTMPE):
// S0 repeats the client's version, and the result's RTMPE holds the ciphers
// for the rest of the connection. An RTMPE C1 without a valid digest fails
// with ErrDigestMismatch and one with an unusable public key with
// ErrRTMPEKey, before any key is computed.
//
// C0 of 32 or more fails with ErrNotRTMP without waiting for C1, and RTMPE
// that is off or not spoken (9) fails with ErrUnsupportedVersion. Any other
// C0 is answered with S0 = 3, as §5.2.2 recommends. ServerHandshake reads
// exactly the handshake bytes, so rw can be handed to NewReader afterwards
// (through NewRTMPEConn after RTMPE). It has no timeouts of its own: the
// caller sets deadlines on the connection.
func ServerHandshake(rw io.ReadWriter, rtmpe bool) (HandshakeInfo, error) {
	buf := make([]byte, 1+handshakeSize+1+2*handshakeSize)
	c0c1, s0s1s2 := buf[:1+handshakeSize], buf[1+handshakeSize:]

	// Read at least C0 first so that a non-RTMP client shorter than C0+C1
	// is refused at once instead of when the caller's deadline expires.
	n, err := io.ReadAtLeast(rw, c0c1, 1)
	if err != nil {
		return HandshakeInfo{}, fmt.Errorf("rtmp: reading C0: %w", err)
	}
	if err := checkClientVersion(c0c1[0], rtmpe); err != nil {
		return HandshakeInfo{}, err
	}
	if _, err := io.ReadFull(rw, c0c1[n:]); err != nil {
		return HandshakeInfo{}, fmt.Errorf("rtmp: reading C1: %w", unexpected(err))
	}
	c1 := c0c1[1:]
	if isRTMPE(c0c1[0]) {
		info, ciphers, err := serverRTMPE(c0c1[0], c1, s0s1s2)
		if err != nil {
			return info, err
		}
		if err := finishServerHandshake(rw, s0s1s2, c1); err != nil {
			return info, err
		}
		info.RTMPE = ciphers
		return info, nil
	}
	info := HandshakeInfo{ClientTime: binary.BigEndian.Uint32(c1), Version: c0c1[0]}
	copy(info.ClientVersion[:], c1[4:8])

	s0s1s2[0] = Version
	s1, s2 := s0s1s2[1:1+handshakeSize], s0s1s2[1+handshakeSize:]
	// S1 time and version stay zero unless we sign it; §5.2.3 allows an
	// epoch of 0 and requires the zero field for the simple handshake.
	rand.Read(s1[8:])
	var off int
	if info.ClientVersion != [4]byte{} {
		info.Scheme, off = findDigest(c1, playerKey[:playerPartialKeyLen])
	}
	if info.Scheme != SchemeNone {
		info.Digest = true
		copy(s1[4:8], serverVersion[:])
		imprintDigest(s1, info.Scheme, serverKey[:serverPartialKeyLen])
		rand.Read(s2[:signedSize])
		signResponse(s2, serverKey, c1[off:off+digestSize])
	} else {
		copy(s2, c1)
	}
	return info, finishServerHandshake(rw, s0s1s2, c1)
}

// finishServerHandshake writes S0, S1 and S2 and reads C2 into c2.
func finishServerHandshake(rw io.ReadWriter, s0s1s2, c2 []byte) error {
	if _, err := rw.Write(s0s1s2); err != nil {
		return fmt.Errorf("rtmp: writing S0+S1+S2: %w", err)
	}
	if _, err := io.ReadFull(rw, c2); err != nil {
		return fmt.Errorf("rtmp: reading C2: %w", unexpected(err))
	}
	return nil
}

// checkClientVersion applies RTMP 1.0 §5.2.2 to the version byte in C0,
// with the RTMPE versions accepted when rtmpe is set.
func checkClientVersion(v byte, rtmpe bool) error {
	switch {
	case v >= notRTMPVersion:
		return fmt.Errorf("%w: C0 = %#02x", ErrNotRTMP, v)
	case v == versionRTMPEBlowfish:
		return fmt.Errorf("%w: C0 = %d (RTMPE with Blowfish signatures)", ErrUnsupportedVersion, v)
	case isRTMPE(v) && !rtmpe:
		return fmt.Errorf("%w: C0 = %d (RTMPE, turned off)", ErrUnsupportedVersion, v)
	}
	return nil
}

// ClientHandshake performs the client side of the handshake on rw: it
// writes C0 and C1, reads S0, S1 and S2, and writes C2.
//
// With digest false, C1 has zero version bytes (the simple handshake of
// RTMP 1.0 §5.2) and C2 echoes S1. With digest true, C1 is built as Flash
// Player 9 and later (and ffmpeg) build it: version 9.0.124.2 and a digest
// signed with the Flash Player key at the base-8 position, which every
// server that checks digests tries. The server's answer is then checked the
// way ffmpeg checks it: an S1 with zero version bytes means the server only
// speaks the simple handshake, and C2 echoes S1; otherwise S1 must carry a
// valid digest signed with the server key and S2 a signature derived from
// our C1 digest, or the handshake fails with ErrDigestMismatch, and C2 is
// signed from the S1 digest.
//
// ClientHandshake reads exactly the handshake bytes, so rw can be handed to
// NewReader afterwards. The caller sets deadlines.
func ClientHandshake(rw io.ReadWriter, digest bool) error {
	buf := make([]byte, 1+handshakeSize+1+2*handshakeSize)
	c0c1, s0s1s2 := buf[:1+handshakeSize], buf[1+handshakeSize:]
	c0c1[0] = Version
	c1 := c0c1[1:]
	rand.Read(c1[8:])
	var c1Digest []byte
	if digest {
		copy(c1[4:8], clientVersion[:])
		off := imprintDigest(c1, SchemeBase8, playerKey[:playerPartialKeyLen])
		c1Digest = c1[off : off+digestSize]
	}
	if _, err := rw.Write(c0c1); err != nil {
		return fmt.Errorf("rtmp: writing C0+C1: %w", err)
	}
	// S2 is read before C2 is sent: servers send S0, S1 and S2 together, and
	// on a synchronous transport they may not read C2 until S2 is taken.
	if _, err := io.ReadFull(rw, s0s1s2); err != nil {
		return fmt.Errorf("rtmp: reading S0+S1+S2: %w", unexpected(err))
	}
	if s0s1s2[0] != Version {
		return fmt.Errorf("%w: S0 = %d", ErrUnsupportedVersion, s0s1s2[0])
	}
	s1, s2 := s0s1s2[1:1+handshakeSize], s0s1s2[1+handshakeSize:]
	c2 := s1
	if digest && [4]byte(s1[4:8]) != [4]byte{} {
		scheme, off := findDigest(s1, serverKey[:serverPartialKeyLen])
		if scheme == SchemeNone {
			return fmt.Errorf("%w: S1 digest does not verify", ErrDigestMismatch)
		}
		if !validResponse(s2, serverKey, c1Digest) {
			return fmt.Errorf("%w: S2 signature does not verify", ErrDigestMismatch)
		}
		c2 = c1 // C1 is no longer needed; build C2 in its place.
		rand.Read(c2[:signedSize])
		signResponse(c2, playerKey, s1[off:off+digestSize])
	}
	if _, err := rw.Write(c2); err != nil {
		return fmt.Errorf("rtmp: writing C2: %w", err)
	}
	return nil
}
