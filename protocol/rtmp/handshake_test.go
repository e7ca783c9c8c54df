package rtmp

import (
	"bytes"
	"crypto/hmac"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"io"
	"math/rand/v2"
	"net"
	"testing"
	"time"
)

// The test side computes digests from scratch, spelling the keys out
// again, so that a mistake in handshake_digest.go cannot cancel itself out.
var (
	testKeySuffix, _ = hex.DecodeString("f0eec24a8068bee82e00d0d1029e7e576eec5d2d29806fab93b8e636cfeb31ae")
	testPlayerKey    = append([]byte("Genuine Adobe Flash Player 001"), testKeySuffix...)
	testServerKey    = append([]byte("Genuine Adobe Flash Media Server 001"), testKeySuffix...)
)

func testHMAC(key []byte, parts ...[]byte) []byte {
	h := hmac.New(sha256.New, key)
	for _, p := range parts {
		h.Write(p)
	}
	return h.Sum(nil)
}

func testDigestOffset(p []byte, base int) int {
	return (int(p[base])+int(p[base+1])+int(p[base+2])+int(p[base+3]))%728 + base + 4
}

// testFindDigest returns the offset of a valid digest in p, or -1.
func testFindDigest(p, key []byte) int {
	for _, base := range []int{8, 772} {
		off := testDigestOffset(p, base)
		if bytes.Equal(p[off:off+32], testHMAC(key, p[:off], p[off+32:])) {
			return off
		}
	}
	return -1
}

// ffmpegC1 builds a C1 the way ffmpeg's rtmp_handshake does: time 0,
// version 9.0.124.2, pseudo-random filler, and a Flash Player digest at
// the position given by the bytes at base (ffmpeg uses 8).
func ffmpegC1(seed uint64, base int) []byte {
	rng := rand.New(rand.NewPCG(seed, seed))
	c1 := make([]byte, 1536)
	copy(c1[4:], []byte{9, 0, 124, 2})
	for i := 8; i < len(c1); i++ {
		c1[i] = byte(rng.Uint32() >> 24)
	}
	off := testDigestOffset(c1, base)
	copy(c1[off:], testHMAC(testPlayerKey[:30], c1[:off], c1[off+32:]))
	return c1
}

// scriptConn replays scripted input and records output.
type scriptConn struct {
	r io.Reader
	w bytes.Buffer
}

func (c *scriptConn) Read(p []byte) (int, error)  { return c.r.Read(p) }
func (c *scriptConn) Write(p []byte) (int, error) { return c.w.Write(p) }

func concat(parts ...[]byte) []byte { return bytes.Join(parts, nil) }

func TestServerHandshakeDigest(t *testing.T) {
	for _, tc := range []struct {
		name   string
		c1     []byte
		scheme int
	}{
		{"ffmpeg base 8", ffmpegC1(1, 8), SchemeBase8},
		{"base 772", ffmpegC1(2, 772), SchemeBase772},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c2 := bytes.Repeat([]byte{0xC2}, 1536)
			conn := &scriptConn{r: bytes.NewReader(concat([]byte{3}, tc.c1, c2))}
			info, err := ServerHandshake(conn, false)
			if err != nil {
				t.Fatal(err)
			}
			want := HandshakeInfo{Digest: true, Scheme: tc.scheme, ClientVersion: [4]byte{9, 0, 124, 2}, Version: 3}
			if info != want {
				t.Fatalf("info = %+v, want %+v", info, want)
			}
			out := conn.w.Bytes()
			if len(out) != 3073 || out[0] != 3 {
				t.Fatalf("wrote %d bytes starting %d, want 3073 starting 3", len(out), out[0])
			}
			s1, s2 := out[1:1537], out[1537:]
			if s1[4] < 3 {
				t.Errorf("S1 version %v: ffmpeg only verifies servers with a major version of 3 or more", s1[4:8])
			}
			off := testFindDigest(s1, testServerKey[:36])
			if off < 0 {
				t.Fatal("S1 carries no valid server digest")
			}
			if got := testDigestOffset(s1, map[int]int{SchemeBase8: 8, SchemeBase772: 772}[tc.scheme]); got != off {
				t.Errorf("S1 digest at %d, want the client's scheme (%d)", off, got)
			}
			// ffmpeg's check of S2: key = HMAC(full server key, C1 digest).
			c1off := testDigestOffset(tc.c1, map[int]int{SchemeBase8: 8, SchemeBase772: 772}[tc.scheme])
			key := testHMAC(testServerKey, tc.c1[c1off:c1off+32])
			if !bytes.Equal(s2[1504:], testHMAC(key, s2[:1504])) {
				t.Error("S2 signature does not verify")
			}
		})
	}
}

func TestServerHandshakeSimple(t *testing.T) {
	garbage := ffmpegC1(3, 8)
	garbage[1000] ^= 0xFF // breaks the digest wherever it is
	if testFindDigest(garbage, testPlayerKey[:30]) >= 0 {
		t.Fatal("test C1 still has a valid digest")
	}
	zero := ffmpegC1(4, 8)
	copy(zero[4:8], []byte{0, 0, 0, 0})
	copy(zero[0:4], []byte{0, 0, 0x30, 0x39})
	for _, tc := range []struct {
		name string
		c1   []byte
	}{
		{"zero version", zero},
		{"invalid digest", garbage},
	} {
		t.Run(tc.name, func(t *testing.T) {
			conn := &scriptConn{r: bytes.NewReader(concat([]byte{3}, tc.c1, make([]byte, 1536)))}
			info, err := ServerHandshake(conn, false)
			if err != nil {
				t.Fatal(err)
			}
			if info.Digest || info.Scheme != SchemeNone {
				t.Errorf("info = %+v, want simple handshake", info)
			}
			if info.ClientTime != uint32(tc.c1[2])<<8|uint32(tc.c1[3]) || info.ClientVersion != [4]byte(tc.c1[4:8]) {
				t.Errorf("info = %+v does not reflect C1", info)
			}
			out := conn.w.Bytes()
			if [4]byte(out[5:9]) != [4]byte{} {
				t.Errorf("simple S1 version = %v, want zero", out[5:9])
			}
			if !bytes.Equal(out[1537:], tc.c1) {
				t.Error("S2 is not an echo of C1")
			}
		})
	}
}

func TestServerHandshakeVersion(t *testing.T) {
	for _, tc := range []struct {
		c0      byte
		wantErr error
	}{
		{0, nil}, {1, nil}, {2, nil}, {3, nil}, {4, nil}, {31, nil},
		{6, ErrUnsupportedVersion}, {8, ErrUnsupportedVersion}, {9, ErrUnsupportedVersion},
		{32, ErrNotRTMP}, {'G', ErrNotRTMP}, {'P', ErrNotRTMP}, {0x16, nil}, {255, ErrNotRTMP},
	} {
		conn := &scriptConn{r: bytes.NewReader(concat([]byte{tc.c0}, make([]byte, 2*1536)))}
		_, err := ServerHandshake(conn, false)
		if !errors.Is(err, tc.wantErr) {
			t.Errorf("C0 %d: err = %v, want %v", tc.c0, err, tc.wantErr)
			continue
		}
		if tc.wantErr == nil && conn.w.Bytes()[0] != 3 {
			t.Errorf("C0 %d: S0 = %d, want 3", tc.c0, conn.w.Bytes()[0])
		}
		if tc.wantErr != nil && conn.w.Len() != 0 {
			t.Errorf("C0 %d: wrote %d bytes before refusing", tc.c0, conn.w.Len())
		}
	}
}

// An HTTP client sends less than C0+C1 and waits: it must be refused at
// once, not when a deadline expires.
func TestServerHandshakeHTTPRefusedAtOnce(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	go client.Write([]byte("GET / HTTP/1.1\r\nHost: x\r\n\r\n"))
	server.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := ServerHandshake(server, false); !errors.Is(err, ErrNotRTMP) {
		t.Fatalf("err = %v, want ErrNotRTMP", err)
	}
}

func TestServerHandshakeTruncated(t *testing.T) {
	full := concat([]byte{3}, ffmpegC1(5, 8), make([]byte, 1536))
	for n := range len(full) {
		conn := &scriptConn{r: bytes.NewReader(full[:n])}
		_, err := ServerHandshake(conn, false)
		want := io.ErrUnexpectedEOF
		if n == 0 {
			want = io.EOF
		}
		if !errors.Is(err, want) {
			t.Fatalf("%d bytes: err = %v, want %v", n, err, want)
		}
	}
}

func TestClientHandshakeTruncated(t *testing.T) {
	// A real server's answer to our C1, cut short at every length.
	for _, digest := range []bool{false, true} {
		client, server := net.Pipe()
		go ServerHandshake(server, false)
		rec := &recordConn{Conn: client}
		if err := ClientHandshake(rec, digest); err != nil {
			t.Fatal(err)
		}
		client.Close()
		server.Close()
		answer := rec.read.Bytes()
		for n := range len(answer) {
			conn := &scriptConn{r: bytes.NewReader(answer[:n])}
			if err := ClientHandshake(conn, digest); !errors.Is(err, io.ErrUnexpectedEOF) {
				t.Fatalf("digest %v, %d bytes: err = %v, want io.ErrUnexpectedEOF", digest, n, err)
			}
		}
	}
}

// recordConn records what is read through it.
type recordConn struct {
	net.Conn
	read bytes.Buffer
}

func (c *recordConn) Read(p []byte) (int, error) {
	n, err := c.Conn.Read(p)
	c.read.Write(p[:n])
	return n, err
}

// mutateConn lets a test tamper with what the server writes.
type mutateConn struct {
	net.Conn
	mutate func([]byte)
}

func (c *mutateConn) Write(p []byte) (int, error) {
	q := bytes.Clone(p)
	c.mutate(q)
	return c.Conn.Write(q)
}

func TestHandshakeClientServer(t *testing.T) {
	for _, tc := range []struct {
		name       string
		digest     bool
		mutate     func(s0s1s2 []byte)
		wantDigest bool
		wantErr    error
	}{
		{name: "simple", digest: false},
		{name: "digest", digest: true, wantDigest: true},
		{name: "digest client, simple server", digest: true, wantDigest: true,
			mutate: func(b []byte) { copy(b[5:9], []byte{0, 0, 0, 0}) }},
		{name: "bad S1 digest", digest: true, wantDigest: true, wantErr: ErrDigestMismatch,
			mutate: func(b []byte) { b[1+500] ^= 1 }},
		{name: "bad S2 signature", digest: true, wantDigest: true, wantErr: ErrDigestMismatch,
			mutate: func(b []byte) { b[len(b)-1] ^= 1 }},
		{name: "bad S0", digest: true, wantDigest: true, wantErr: ErrUnsupportedVersion,
			mutate: func(b []byte) { b[0] = 6 }},
	} {
		t.Run(tc.name, func(t *testing.T) {
			client, server := net.Pipe()
			defer client.Close()
			client.SetDeadline(time.Now().Add(10 * time.Second))
			server.SetDeadline(time.Now().Add(10 * time.Second))
			type result struct {
				info HandshakeInfo
				err  error
				c2   []byte
			}
			done := make(chan result, 1)
			go func() {
				defer server.Close()
				var conn io.ReadWriter = server
				if tc.mutate != nil {
					conn = &mutateConn{Conn: server, mutate: func(b []byte) {
						if len(b) == 3073 {
							tc.mutate(b)
						}
					}}
				}
				rec := &recordConn{Conn: &rwConn{Conn: server, rw: conn}}
				info, err := ServerHandshake(rec, false)
				if err == nil {
					// The connection must be left at the first chunk.
					var next [5]byte
					_, err = io.ReadFull(server, next[:])
					if err == nil && string(next[:]) != "after" {
						err = errors.New("bytes after the handshake were consumed")
					}
				}
				done <- result{info, err, rec.read.Bytes()[min(rec.read.Len(), 1537):]}
			}()
			err := ClientHandshake(client, tc.digest)
			if !errors.Is(err, tc.wantErr) {
				t.Fatalf("client: err = %v, want %v", err, tc.wantErr)
			}
			if tc.wantErr != nil {
				client.Close()
				<-done
				return
			}
			if _, err := client.Write([]byte("after")); err != nil {
				t.Fatal(err)
			}
			res := <-done
			if res.err != nil {
				t.Fatalf("server: %v", res.err)
			}
			if res.info.Digest != tc.wantDigest {
				t.Errorf("server saw digest %v, want %v", res.info.Digest, tc.wantDigest)
			}
			if tc.wantDigest && (res.info.Scheme != SchemeBase8 || res.info.ClientVersion != [4]byte{9, 0, 124, 2}) {
				t.Errorf("server info = %+v, want scheme 1 and version 9.0.124.2", res.info)
			}
			if len(res.c2) != 1536 {
				t.Fatalf("server read a %d-byte C2", len(res.c2))
			}
		})
	}
}

// rwConn is a net.Conn whose reads and writes go through rw.
type rwConn struct {
	net.Conn
	rw io.ReadWriter
}

func (c *rwConn) Read(p []byte) (int, error)  { return c.rw.Read(p) }
func (c *rwConn) Write(p []byte) (int, error) { return c.rw.Write(p) }

// The C2 our digest client sends is what a server that did verify C2 would
// expect: signed with HMAC(full player key, S1 digest).
func TestClientHandshakeDigestC2(t *testing.T) {
	client, server := net.Pipe()
	defer client.Close()
	defer server.Close()
	rec := &recordConn{Conn: server}
	tee := &teeConn{Conn: rec}
	done := make(chan error, 1)
	go func() { _, err := ServerHandshake(tee, false); done <- err }()
	if err := ClientHandshake(client, true); err != nil {
		t.Fatal(err)
	}
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	s1 := tee.written.Bytes()[1:1537]
	c2 := rec.read.Bytes()[1537:]
	off := testFindDigest(s1, testServerKey[:36])
	key := testHMAC(testPlayerKey, s1[off:off+32])
	if !bytes.Equal(c2[1504:], testHMAC(key, c2[:1504])) {
		t.Error("C2 signature does not verify")
	}
}

// teeConn records what is written through it.
type teeConn struct {
	net.Conn
	written bytes.Buffer
}

func (c *teeConn) Write(p []byte) (int, error) {
	c.written.Write(p)
	return c.Conn.Write(p)
}

// A peer that hangs up in the middle of the handshake ends it with an
// error on both sides rather than a hang.
func TestHandshakePeerCloses(t *testing.T) {
	for _, tc := range []struct {
		cut  int
		want error
	}{
		{1, io.ErrUnexpectedEOF},
		{1000, io.ErrUnexpectedEOF},
		{1537, io.ErrClosedPipe}, // C0+C1 complete: S0+S1+S2 cannot be written
		{2000, io.ErrUnexpectedEOF},
	} {
		cut := tc.cut
		client, server := net.Pipe()
		go func() {
			c1 := concat([]byte{3}, ffmpegC1(6, 8))
			client.Write(c1[:min(cut, len(c1))])
			if cut > len(c1) {
				io.CopyN(io.Discard, client, 3073)
				client.Write(make([]byte, cut-len(c1)))
			}
			client.Close()
		}()
		server.SetDeadline(time.Now().Add(10 * time.Second))
		if _, err := ServerHandshake(server, false); !errors.Is(err, tc.want) {
			t.Errorf("cut at %d: err = %v, want %v", cut, err, tc.want)
		}
		server.Close()
	}
}

func FuzzServerHandshake(f *testing.F) {
	f.Add(concat([]byte{3}, ffmpegC1(7, 8), make([]byte, 1536)))
	f.Add(concat([]byte{3}, ffmpegC1(8, 772), make([]byte, 1536)))
	f.Add(concat([]byte{3}, make([]byte, 3072)))
	f.Add([]byte("GET / HTTP/1.1\r\n\r\n"))
	f.Add([]byte{6})
	f.Fuzz(func(t *testing.T, data []byte) {
		conn := &scriptConn{r: bytes.NewReader(data)}
		info, err := ServerHandshake(conn, false)
		if err != nil {
			return
		}
		out := conn.w.Bytes()
		if len(out) != 3073 || out[0] != 3 {
			t.Fatalf("wrote %d bytes starting %d", len(out), out[0])
		}
		if !info.Digest && !bytes.Equal(out[1537:], data[1:1537]) {
			t.Fatal("simple S2 is not an echo of C1")
		}
	})
}

func BenchmarkServerHandshakeDigest(b *testing.B) {
	in := concat([]byte{3}, ffmpegC1(9, 8), make([]byte, 1536))
	r := bytes.NewReader(in)
	conn := &scriptConn{r: r}
	b.ReportAllocs()
	b.SetBytes(int64(len(in)))
	for b.Loop() {
		r.Reset(in)
		conn.w.Reset()
		if _, err := ServerHandshake(conn, false); err != nil {
			b.Fatal(err)
		}
	}
}
