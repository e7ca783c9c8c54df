package rtmfp

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"hash"
	"hash/maphash"
	"net/netip"
	"sync"
	"time"
)

// Stateless cookies (RFC 7016 §3.5.1.1.2): the responder keeps nothing for
// an IHello. Everything it needs to accept the IIKeying later is in the
// 64-byte cookie (64 because librtmfp, Cumulus and MonaServer insist on it):
//
//	[0:4]   issue time, Unix seconds
//	[4:16]  nonce = HMAC(secret, "n" time tag)[:12], so a retransmitted
//	        IHello in the same second gets the identical RHello
//	[16:32] address binding = HMAC(secret, "a" cookie[0:16] address)[:16]
//	[32:64] HMAC(secret, "c" cookie[0:32]), authenticating all of it
//
// A cookie whose MAC verifies but whose address binding does not was ours
// but arrives from a new address (NAT rebinding between RHello and
// IIKeying): that is the case for a Cookie Change (§3.5.1.2).
const cookieLen = 64

// cookieJar is used by the read loop and, for forwarded IHellos, by
// session goroutines: mu guards the MAC state.
type cookieJar struct {
	mu       sync.Mutex
	mac      hash.Hash
	lifetime time.Duration
	sum      [sha256.Size]byte
}

func newCookieJar(lifetime time.Duration) *cookieJar {
	var secret [32]byte
	_, _ = rand.Read(secret[:])
	return &cookieJar{mac: hmac.New(sha256.New, secret[:]), lifetime: lifetime}
}

func (j *cookieJar) hmacOf(parts ...[]byte) []byte {
	j.mac.Reset()
	for _, p := range parts {
		j.mac.Write(p)
	}
	return j.mac.Sum(j.sum[:0])
}

func addrBytes(a netip.AddrPort) []byte {
	ip := a.Addr().As16()
	b := make([]byte, 0, 18)
	b = append(b, ip[:]...)
	return binary.BigEndian.AppendUint16(b, a.Port())
}

// issue appends a cookie for tag and addr to b.
func (j *cookieJar) issue(b []byte, now time.Time, tag []byte, addr netip.AddrPort) []byte {
	j.mu.Lock()
	defer j.mu.Unlock()
	start := len(b)
	b = binary.BigEndian.AppendUint32(b, uint32(now.Unix()))
	b = append(b, j.hmacOf([]byte("n"), b[start:start+4], tag)[:12]...)
	b = append(b, j.hmacOf([]byte("a"), b[start:start+16], addrBytes(addr))[:16]...)
	return append(b, j.hmacOf([]byte("c"), b[start:start+32])...)
}

type cookieVerdict int

const (
	cookieInvalid      cookieVerdict = iota // not ours, tampered or expired
	cookieValid                             // ours, fresh, same address
	cookieWrongAddress                      // ours and fresh, other address
)

func (j *cookieJar) verify(c []byte, now time.Time, addr netip.AddrPort) cookieVerdict {
	j.mu.Lock()
	defer j.mu.Unlock()
	if len(c) != cookieLen || !hmac.Equal(j.hmacOf([]byte("c"), c[:32]), c[32:]) {
		return cookieInvalid
	}
	issued := time.Unix(int64(binary.BigEndian.Uint32(c)), 0)
	if age := now.Sub(issued); age > j.lifetime || age < -time.Minute {
		return cookieInvalid
	}
	if !hmac.Equal(j.hmacOf([]byte("a"), c[:16], addrBytes(addr))[:16], c[16:32]) {
		return cookieWrongAddress
	}
	return cookieValid
}

// helloLimiter bounds the handshake replies sent to any one address with a
// fixed table of token buckets indexed by a keyed hash of the address: its
// memory is constant however many addresses send IHellos, so it adds no
// per-peer state. Collisions only make the limit stricter. It is used from
// the read goroutine only.
type helloLimiter struct {
	seed    maphash.Seed
	rate    float64
	buckets [4096]struct {
		tokens float32
		last   int64 // unix nanoseconds
	}
}

func newHelloLimiter(rate int) *helloLimiter {
	return &helloLimiter{seed: maphash.MakeSeed(), rate: float64(rate)}
}

func (l *helloLimiter) allow(addr netip.AddrPort, now time.Time) bool {
	var h maphash.Hash
	h.SetSeed(l.seed)
	ip := addr.Addr().As16()
	h.Write(ip[:])
	b := &l.buckets[h.Sum64()%uint64(len(l.buckets))]
	t := now.UnixNano()
	tokens := float64(b.tokens) + float64(t-b.last)/1e9*l.rate
	if b.last == 0 || tokens > l.rate {
		tokens = l.rate // burst of one second's worth
	}
	b.last = t
	if tokens < 1 {
		b.tokens = float32(tokens)
		return false
	}
	b.tokens = float32(tokens - 1)
	return true
}
