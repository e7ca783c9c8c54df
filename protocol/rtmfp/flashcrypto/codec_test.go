package flashcrypto

import (
	"bytes"
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"errors"
	"math/rand/v2"
	"testing"
)

type mode struct {
	name    string
	hmacKey []byte
	hmacLen int
	sseq    bool
}

var modes = []mode{
	{"checksum", nil, 0, false},
	{"checksum+sseq", nil, 0, true},
	{"hmac10", bytes.Repeat([]byte{1}, 32), 10, false},
	{"hmac16+sseq", bytes.Repeat([]byte{2}, 32), 16, true},
	{"hmac32+sseq", bytes.Repeat([]byte{3}, 32), 32, true},
}

// seal builds a datagram around plain the way the session layer does.
func seal(s *Sealer, sid uint32, plain []byte) []byte {
	buf := make([]byte, 4+s.FrontMargin(), 1300)
	buf = append(buf, plain...)
	return s.Seal(buf, sid)
}

func TestSealOpen(t *testing.T) {
	key := [16]byte{9, 8, 7}
	for _, m := range modes {
		s := NewSealer(key, m.hmacKey, m.hmacLen, m.sseq)
		o := NewOpener(key, m.hmacKey, m.hmacLen, m.sseq)
		for i, plain := range [][]byte{{0x89, 0, 1}, bytes.Repeat([]byte{0x42}, 13), bytes.Repeat([]byte{7}, 1100)} {
			d := seal(s, 0xdeadbeef, plain)
			if (len(d)-4-m.hmacLen)%16 != 0 {
				t.Fatalf("%s: ciphertext length %d", m.name, len(d))
			}
			if SessionID(d) != 0xdeadbeef {
				t.Fatalf("%s: session ID %#x", m.name, SessionID(d))
			}
			got, err := o.Open(d)
			if err != nil {
				t.Fatalf("%s #%d: %v", m.name, i, err)
			}
			if !bytes.HasPrefix(got, plain) || len(bytes.TrimLeft(got[len(plain):], "\xff")) != 0 {
				t.Fatalf("%s #%d: plain %x", m.name, i, got)
			}
		}
		// Any flipped bit is detected.
		d := seal(s, 1, []byte{0x89, 1, 2, 3, 4, 5})
		d[len(d)-1-m.hmacLen] ^= 0x10
		if _, err := o.Open(d); !errors.Is(err, ErrIntegrity) && !errors.Is(err, ErrReplay) {
			t.Fatalf("%s: corruption not detected: %v", m.name, err)
		}
	}
}

func TestReplayWindow(t *testing.T) {
	key := [16]byte{1}
	s := NewSealer(key, nil, 0, true)
	o := NewOpener(key, nil, 0, true)
	var ds [][]byte
	for i := 0; i < 40; i++ {
		ds = append(ds, seal(s, 5, []byte{0x89, byte(i)}))
	}
	cp := func(d []byte) []byte { return append([]byte(nil), d...) }
	if _, err := o.Open(cp(ds[39])); err != nil {
		t.Fatal(err)
	}
	if _, err := o.Open(cp(ds[39])); !errors.Is(err, ErrReplay) {
		t.Fatalf("duplicate accepted: %v", err)
	}
	if _, err := o.Open(cp(ds[30])); err != nil {
		t.Fatalf("in-window reordered packet rejected: %v", err)
	}
	if _, err := o.Open(cp(ds[3])); !errors.Is(err, ErrReplay) {
		t.Fatalf("stale packet accepted: %v", err)
	}
}

func TestOpenRejectsBadLengths(t *testing.T) {
	o := NewDefaultOpener()
	for _, d := range [][]byte{nil, {1, 2, 3, 4}, make([]byte, 4+15), make([]byte, 4+17)} {
		if _, err := o.Open(d); !errors.Is(err, ErrPacketLength) {
			t.Errorf("len %d: %v", len(d), err)
		}
	}
}

func TestCodecAllocs(t *testing.T) {
	key := [16]byte{1}
	for _, m := range modes {
		s := NewSealer(key, m.hmacKey, m.hmacLen, m.sseq)
		o := NewOpener(key, m.hmacKey, m.hmacLen, m.sseq)
		buf := make([]byte, 0, 1300)
		plain := bytes.Repeat([]byte{1}, 1000)
		n := testing.AllocsPerRun(100, func() {
			b := append(buf[:4+s.FrontMargin()], plain...)
			d := s.Seal(b, 7)
			if _, err := o.Open(d); err != nil {
				t.Fatal(err)
			}
		})
		if n != 0 {
			t.Errorf("%s: %v allocations per packet", m.name, n)
		}
	}
}

func benchmarkCodec(b *testing.B, m mode) {
	key := [16]byte{1}
	s := NewSealer(key, m.hmacKey, m.hmacLen, m.sseq)
	o := NewOpener(key, m.hmacKey, m.hmacLen, m.sseq)
	buf := make([]byte, 0, 1300)
	plain := bytes.Repeat([]byte{1}, 1150)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		bb := append(buf[:4+s.FrontMargin()], plain...)
		if _, err := o.Open(s.Seal(bb, 7)); err != nil {
			b.Fatal(err)
		}
	}
}

// TestSealGroup: sealing packets together gives what sealing them one
// after the other gives, and each opens, for groups of one to GroupSize
// packets of equal and of different lengths, in every mode without
// session sequence numbers.
func TestSealGroup(t *testing.T) {
	groups := [][]int{{1}, {1150}, {1, 1}, {100, 100}, {40, 1150}, {1150, 17}, {0, 64},
		{1150, 1150, 1150}, {1150, 1150, 1150, 1150}, {1150, 600, 1150, 33}, {5, 1150, 1150, 1150}, {64, 64, 64, 1}}
	for _, m := range modes {
		if m.sseq {
			continue
		}
		for _, lens := range groups {
			key := [16]byte{7}
			one := NewSealer(key, m.hmacKey, m.hmacLen, m.sseq)
			group := NewSealer(key, m.hmacKey, m.hmacLen, m.sseq)
			if !group.Groupable() {
				t.Fatalf("%s: not groupable", m.name)
			}
			build := func(s *Sealer, n int, fill byte) []byte {
				b := make([]byte, 4+s.FrontMargin(), 1300)
				return append(b, bytes.Repeat([]byte{fill}, n)...)
			}
			var pkts [][]byte
			for i, n := range lens {
				pkts = append(pkts, build(group, n, byte(i+1)))
			}
			group.SealGroup(pkts, 9)
			o := NewOpener(key, m.hmacKey, m.hmacLen, m.sseq)
			for i, n := range lens {
				want := one.Seal(build(one, n, byte(i+1)), 9)
				if !bytes.Equal(pkts[i], want) {
					t.Errorf("%s, lengths %v: packet %d differs from Seal's", m.name, lens, i)
				}
				if n == 0 {
					continue // nothing to open: a real packet has a header
				}
				if _, err := o.Open(pkts[i]); err != nil {
					t.Errorf("%s, lengths %v: packet %d does not open: %v", m.name, lens, i, err)
				}
			}
		}
	}
}

// TestChainCipher checks the chains, assembly and portable, against the
// standard library's CBC mode for every group size and ragged lengths.
func TestChainCipher(t *testing.T) {
	key := [16]byte{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}
	block, _ := aes.NewCipher(key[:])
	rnd := rand.New(rand.NewPCG(1, 2))
	for _, asm := range []bool{false, true} {
		c := newChainCipher(key, asm)
		if asm && !c.asm {
			t.Log("no AES instructions here: assembly chains not tested")
			continue
		}
		for trial := range 300 {
			bufs := make([][]byte, 1+trial%6)
			var want [][]byte
			for i := range bufs {
				bufs[i] = make([]byte, aes.BlockSize*rnd.IntN(80))
				if trial%3 == 0 {
					bufs[i] = make([]byte, aes.BlockSize*75) // equal lengths, the common case
				}
				for j := range bufs[i] {
					bufs[i][j] = byte(rnd.Uint32())
				}
				w := bytes.Clone(bufs[i])
				cipher.NewCBCEncrypter(block, zeroIV[:]).CryptBlocks(w, w)
				want = append(want, w)
			}
			c.encrypt(bufs)
			for i := range bufs {
				if !bytes.Equal(bufs[i], want[i]) {
					t.Fatalf("asm %v, trial %d: chain %d of %d (%d bytes) differs from crypto/cipher's CBC", asm, trial, i, len(bufs), len(bufs[i]))
				}
			}
		}
	}
}

// TestExpandKey128 checks the key schedule against FIPS-197 Appendix A.1
// and a few S-box entries against the standard's table.
func TestExpandKey128(t *testing.T) {
	key := [16]byte{0x2b, 0x7e, 0x15, 0x16, 0x28, 0xae, 0xd2, 0xa6, 0xab, 0xf7, 0x15, 0x88, 0x09, 0xcf, 0x4f, 0x3c}
	rk := expandKey128(key)
	for _, w := range []struct {
		i    int
		word uint32
	}{{4, 0xa0fafe17}, {5, 0x88542cb1}, {23, 0x11f915bc}, {43, 0xb6630ca6}} {
		if got := binary.BigEndian.Uint32(rk[4*w.i:]); got != w.word {
			t.Errorf("w[%d] = %08x, want %08x", w.i, got, w.word)
		}
	}
	sbox := sboxTable()
	for in, out := range map[byte]byte{0x00: 0x63, 0x01: 0x7c, 0x53: 0xed, 0xff: 0x16, 0x9a: 0xb8} {
		if sbox[in] != out {
			t.Errorf("S-box(%02x) = %02x, want %02x", in, sbox[in], out)
		}
	}
}

// BenchmarkSealGroup is BenchmarkSeal for GroupSize packets sealed
// together (per packet: divide by GroupSize).
func BenchmarkSealGroup(b *testing.B) {
	s := NewSealer([16]byte{1}, nil, 0, false)
	var bufs, pkts [GroupSize][]byte
	for i := range bufs {
		bufs[i] = make([]byte, 0, 1300)
	}
	plain := bytes.Repeat([]byte{1}, 1150)
	b.SetBytes(GroupSize * int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		for i := range pkts {
			pkts[i] = append(bufs[i][:4+s.FrontMargin()], plain...)
		}
		s.SealGroup(pkts[:], 7)
	}
}

// BenchmarkSeal is the per-packet, per-player cost of the fan-out's
// encryption: one full-size packet sealed in checksum mode.
func BenchmarkSeal(b *testing.B) {
	s := NewSealer([16]byte{1}, nil, 0, false)
	buf := make([]byte, 0, 1300)
	plain := bytes.Repeat([]byte{1}, 1150)
	b.SetBytes(int64(len(plain)))
	b.ReportAllocs()
	for b.Loop() {
		s.Seal(append(buf[:4+s.FrontMargin()], plain...), 7)
	}
}

func BenchmarkSealOpenChecksum(b *testing.B) { benchmarkCodec(b, modes[0]) }
func BenchmarkSealOpenHMAC(b *testing.B)     { benchmarkCodec(b, modes[3]) }

// FuzzOpen feeds arbitrary datagrams to the default-key opener (handshake
// path, before decryption) and to an HMAC+SSEQ session opener.
func FuzzOpen(f *testing.F) {
	s := NewDefaultSealer()
	f.Add(seal(s, 0, []byte{0x0b, 0, 1, 0x30, 0, 3, 1, 0x0a, 0}))
	f.Add(seal(s, 0, bytes.Repeat([]byte{0xff}, 40)))
	f.Add([]byte{0, 0, 0, 0})
	hk := bytes.Repeat([]byte{4}, 32)
	f.Fuzz(func(t *testing.T, d []byte) {
		o := NewDefaultOpener()
		if p, err := o.Open(append([]byte(nil), d...)); err == nil && len(p) > len(d) {
			t.Fatal("plain longer than datagram")
		}
		o2 := NewOpener([16]byte{1}, hk, 16, true)
		_, _ = o2.Open(d)
	})
}
