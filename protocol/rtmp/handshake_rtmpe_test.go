package rtmp

import (
	"bytes"
	"crypto/rc4"
	"errors"
	"io"
	"math/big"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// testDHOffset spells the public key positions of docs/rtmpe.md §2 out
// again, independently of dhOffset.
func testDHOffset(p []byte, base int) int {
	if base == 772 {
		return (int(p[768])+int(p[769])+int(p[770])+int(p[771]))%632 + 8
	}
	return (int(p[1532])+int(p[1533])+int(p[1534])+int(p[1535]))%632 + 772
}

// rtmpeC1 builds an RTMPE C1 as rtmpdump does (docs/rtmpe.md §2): version bytes,
// pseudo-random filler, the 128-byte public key at the scheme's key
// position, then the Flash Player digest over all of it.
func rtmpeC1(seed uint64, base int, public []byte) []byte {
	rng := rand.New(rand.NewPCG(seed, ^seed))
	c1 := make([]byte, 1536)
	copy(c1[4:], []byte{128, 0, 3, 2})
	for i := 8; i < len(c1); i++ {
		c1[i] = byte(rng.Uint32() >> 24)
	}
	copy(c1[testDHOffset(c1, base):], public)
	off := testDigestOffset(c1, base)
	copy(c1[off:], testHMAC(testPlayerKey[:30], c1[:off], c1[off+32:]))
	return c1
}

// testPublicKey returns 2^x mod p for a small x, left-padded to 128 bytes.
func testPublicKey(x int64) []byte {
	return new(big.Int).Exp(big.NewInt(2), big.NewInt(x), dhPrime).FillBytes(make([]byte, 128))
}

// The group must be Oakley group 2: a 1024-bit safe prime. p ≡ 7 (mod 8)
// makes the generator 2 a quadratic residue, so every public key 2^x lies
// in the subgroup of prime order (p-1)/2, a check a client may make of the
// keys it receives.
func TestRTMPEGroup(t *testing.T) {
	if dhPrime == nil || dhPrime.BitLen() != 1024 || !dhPrime.ProbablyPrime(32) {
		t.Fatal("dhPrime is not a 1024-bit prime")
	}
	q := new(big.Int).Rsh(dhPrime, 1)
	if !q.ProbablyPrime(32) {
		t.Fatal("(p-1)/2 is not prime")
	}
	if new(big.Int).Mod(dhPrime, big.NewInt(8)).Int64() != 7 {
		t.Fatal("p mod 8 != 7")
	}
	k, err := newDHKey()
	if err != nil {
		t.Fatal(err)
	}
	y := new(big.Int).SetBytes(k.public[:])
	if new(big.Int).Exp(y, q, dhPrime).Cmp(big.NewInt(1)) != 0 {
		t.Fatal("public key is outside the prime-order subgroup")
	}
}

// An RTMPE handshake between our client and server, in both schemes and
// both versions, yields ciphers that carry bytes each way, with nothing of
// the plaintext on the wire.
func TestRTMPEHandshakeRoundTrip(t *testing.T) {
	for _, version := range []byte{6, 8} {
		for _, scheme := range []int{SchemeBase8, SchemeBase772} {
			client, server := net.Pipe()
			wire := &wireConn{Conn: server}
			type result struct {
				info HandshakeInfo
				err  error
			}
			done := make(chan result, 1)
			go func() {
				info, err := ServerHandshake(wire, true)
				done <- result{info, err}
			}()
			deadline := time.Now().Add(10 * time.Second)
			client.SetDeadline(deadline)
			server.SetDeadline(deadline)
			ciphers, err := clientRTMPE(client, version, scheme)
			if err != nil {
				t.Fatalf("version %d scheme %d: client: %v", version, scheme, err)
			}
			res := <-done
			if res.err != nil {
				t.Fatalf("version %d scheme %d: server: %v", version, scheme, res.err)
			}
			if res.info.Version != version || res.info.Scheme != scheme || !res.info.Digest || res.info.RTMPE == nil {
				t.Fatalf("version %d scheme %d: info = %+v", version, scheme, res.info)
			}
			if got := wire.out.Bytes()[0]; got != version {
				t.Errorf("S0 = %d, want %d", got, version)
			}

			cc, sc := NewRTMPEConn(client, ciphers), NewRTMPEConn(wire, res.info.RTMPE)
			up := bytes.Repeat([]byte("client to server "), 5000) // more than one enciphering piece
			down := []byte("server to client")
			upCopy := bytes.Clone(up)
			go func() { cc.Write(up) }()
			got := make([]byte, len(up))
			if _, err := io.ReadFull(sc, got); err != nil || !bytes.Equal(got, up) {
				t.Fatalf("version %d scheme %d: server read %v, matches: %v", version, scheme, err, bytes.Equal(got, up))
			}
			if !bytes.Equal(up, upCopy) {
				t.Fatal("Write changed the caller's bytes")
			}
			go func() { sc.Write(down) }()
			got = make([]byte, len(down))
			if _, err := io.ReadFull(cc, got); err != nil || !bytes.Equal(got, down) {
				t.Fatalf("version %d scheme %d: client read %q, %v", version, scheme, got, err)
			}
			if bytes.Contains(wire.in.Bytes(), []byte("client to server")) || bytes.Contains(wire.out.Bytes(), down) {
				t.Error("plaintext on the wire")
			}
			client.Close()
			server.Close()
		}
	}
}

// wireConn records what passes through a connection.
type wireConn struct {
	net.Conn
	in, out bytes.Buffer
}

func (c *wireConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.in.Write(p[:n])
	return n, err
}

func (c *wireConn) Write(p []byte) (int, error) {
	c.out.Write(p)
	return c.Conn.Write(p)
}

// The key schedule, checked against a computation that spells it out: the
// server writes with RC4 keyed by HMAC-SHA256(secret, client public key)
// and reads with HMAC-SHA256(secret, server public key), both streams
// advanced 1536 bytes.
func TestRTMPEKeySchedule(t *testing.T) {
	clientPublic := testPublicKey(12345)
	c1 := rtmpeC1(1, 772, clientPublic)
	conn := &scriptConn{r: bytes.NewReader(concat([]byte{6}, c1, make([]byte, 1536)))}
	info, err := ServerHandshake(conn, true)
	if err != nil {
		t.Fatal(err)
	}
	s1 := conn.w.Bytes()[1:1537]
	if testFindDigest(s1, testServerKey[:36]) != testDigestOffset(s1, 772) {
		t.Fatal("S1 digest is not in the client's scheme")
	}
	serverPublic := new(big.Int).SetBytes(s1[testDHOffset(s1, 772):][:128])
	secret := new(big.Int).Exp(serverPublic, big.NewInt(12345), dhPrime).FillBytes(make([]byte, 128))
	stream := func(public []byte) *rc4.Cipher {
		c, _ := rc4.NewCipher(testHMAC(secret, public)[:16])
		skip := make([]byte, 1536)
		c.XORKeyStream(skip, skip)
		return c
	}
	for _, tc := range []struct {
		name      string
		got, want *rc4.Cipher
	}{
		{"write", info.RTMPE.Write, stream(clientPublic)},
		{"read", info.RTMPE.Read, stream(s1[testDHOffset(s1, 772):][:128])},
	} {
		a, b := make([]byte, 64), make([]byte, 64)
		tc.got.XORKeyStream(a, a)
		tc.want.XORKeyStream(b, b)
		if !bytes.Equal(a, b) {
			t.Errorf("%s keystream differs", tc.name)
		}
	}
	s2 := conn.w.Bytes()[1537:]
	c1Digest := c1[testDigestOffset(c1, 772):][:32]
	if !bytes.Equal(s2[1504:], testHMAC(testHMAC(testServerKey, c1Digest), s2[:1504])) {
		t.Error("S2 signature does not verify")
	}
}

// Public keys that would give the secret away, or are not group elements,
// are refused before anything is written or computed; so is an RTMPE C1
// without a digest, and RTMPE when it is off or asks for Blowfish (9).
func TestRTMPERefusals(t *testing.T) {
	pMinus1 := new(big.Int).Sub(dhPrime, big.NewInt(1))
	for _, tc := range []struct {
		name  string
		in    []byte
		rtmpe bool
		want  error
	}{
		{"key 0", concat([]byte{6}, rtmpeC1(1, 772, make([]byte, 128))), true, ErrRTMPEKey},
		{"key 1", concat([]byte{6}, rtmpeC1(2, 8, big.NewInt(1).FillBytes(make([]byte, 128)))), true, ErrRTMPEKey},
		{"key p-1", concat([]byte{8}, rtmpeC1(3, 772, pMinus1.FillBytes(make([]byte, 128)))), true, ErrRTMPEKey},
		{"key p", concat([]byte{6}, rtmpeC1(4, 8, dhPrime.FillBytes(make([]byte, 128)))), true, ErrRTMPEKey},
		{"key 2^1024-1", concat([]byte{6}, rtmpeC1(5, 772, bytes.Repeat([]byte{0xff}, 128))), true, ErrRTMPEKey},
		{"no digest", concat([]byte{6}, make([]byte, 1536)), true, ErrDigestMismatch},
		{"rtmpe off", concat([]byte{6}, rtmpeC1(6, 772, testPublicKey(7))), false, ErrUnsupportedVersion},
		{"blowfish", concat([]byte{9}, rtmpeC1(7, 772, testPublicKey(7))), true, ErrUnsupportedVersion},
	} {
		conn := &scriptConn{r: bytes.NewReader(concat(tc.in, make([]byte, 1536)))}
		if _, err := ServerHandshake(conn, tc.rtmpe); !errors.Is(err, tc.want) {
			t.Errorf("%s: err = %v, want %v", tc.name, err, tc.want)
		}
		if conn.w.Len() != 0 {
			t.Errorf("%s: wrote %d bytes before refusing", tc.name, conn.w.Len())
		}
	}
}

// The client refuses a server whose S2 does not carry the signature its
// version calls for: a version 6 signature where 8 was asked for.
func TestClientRTMPERefusesBadS2(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	deadline := time.Now().Add(10 * time.Second)
	client.SetDeadline(deadline)
	server.SetDeadline(deadline)
	go func() {
		c0c1 := make([]byte, 1537)
		if _, err := io.ReadFull(server, c0c1); err != nil {
			return
		}
		c0c1[0] = 6 // answer as for version 6, then claim 8
		out := make([]byte, 3073)
		if _, _, err := serverRTMPE(6, c0c1[1:], out); err != nil {
			return
		}
		out[0] = 8
		server.Write(out)
	}()
	if _, err := clientRTMPE(client, 8, SchemeBase772); !errors.Is(err, ErrDigestMismatch) {
		t.Fatalf("err = %v, want ErrDigestMismatch", err)
	}
}

func FuzzServerHandshakeRTMPE(f *testing.F) {
	f.Add(concat([]byte{6}, rtmpeC1(1, 772, testPublicKey(99)), make([]byte, 1536)))
	f.Add(concat([]byte{8}, rtmpeC1(2, 8, testPublicKey(99)), make([]byte, 1536)))
	f.Add(concat([]byte{6}, rtmpeC1(3, 772, make([]byte, 128)), make([]byte, 1536)))
	f.Add([]byte{8})
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &scriptConn{r: bytes.NewReader(data)}
		info, err := ServerHandshake(conn, true)
		if err != nil {
			return
		}
		out := conn.w.Bytes()
		if len(out) != 3073 {
			t.Fatalf("wrote %d bytes", len(out))
		}
		if (info.RTMPE != nil) != (data[0] == 6 || data[0] == 8) || (info.RTMPE != nil && out[0] != data[0]) {
			t.Fatalf("C0 %d: S0 %d, RTMPE %v", data[0], out[0], info.RTMPE != nil)
		}
	})
}

// BenchmarkServerHandshakeRTMPE is the CPU an RTMPE handshake costs the
// server: two 1024-bit exponentiations with a 256-bit exponent.
func BenchmarkServerHandshakeRTMPE(b *testing.B) {
	in := concat([]byte{6}, rtmpeC1(1, 772, testPublicKey(99)), make([]byte, 1536))
	r := bytes.NewReader(in)
	conn := &scriptConn{r: r}
	for b.Loop() {
		r.Reset(in)
		conn.w.Reset()
		if _, err := ServerHandshake(conn, true); err != nil {
			b.Fatal(err)
		}
	}
}
