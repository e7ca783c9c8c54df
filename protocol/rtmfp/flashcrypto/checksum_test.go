package flashcrypto

import (
	"math/rand/v2"
	"testing"
)

// refChecksum is the textbook 16-bit loop with the profile's odd-byte rule.
func refChecksum(b []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(b); i += 2 {
		sum += uint32(b[i])<<8 | uint32(b[i+1])
	}
	if len(b)%2 == 1 {
		sum += uint32(b[len(b)-1])
	}
	sum = sum>>16 + sum&0xffff
	sum += sum >> 16
	return ^uint16(sum)
}

func TestChecksum(t *testing.T) {
	for _, tt := range []struct {
		in   []byte
		want uint16
	}{
		{nil, 0xffff},
		{[]byte{0x00, 0x01}, 0xfffe},
		{[]byte{0xff, 0xff}, 0x0000},
		{[]byte{0x01}, 0xfffe}, // odd byte is the low-order byte
		// RFC 1071 §3 example words 0001 f203 f4f5 f6f7 sum to ddf2 -> 220d.
		{[]byte{0x00, 0x01, 0xf2, 0x03, 0xf4, 0xf5, 0xf6, 0xf7}, 0x220d},
	} {
		if got := Checksum(tt.in); got != tt.want {
			t.Errorf("Checksum(%x) = %#04x, want %#04x", tt.in, got, tt.want)
		}
	}
	r := rand.New(rand.NewPCG(1, 2))
	for n := 0; n < 300; n++ {
		b := make([]byte, n)
		for i := range b {
			b[i] = byte(r.Uint32())
		}
		if Checksum(b) != refChecksum(b) {
			t.Fatalf("length %d: fast %#x, reference %#x", n, Checksum(b), refChecksum(b))
		}
	}
}

// TestChecksumCarries: words that overflow 64 bits many times over (all
// ones, all ones but one bit) sum as the 16-bit loop sums them.
func TestChecksumCarries(t *testing.T) {
	for _, n := range []int{8, 32, 40, 1150, 1151} {
		for _, fill := range []byte{0xff, 0xfe, 0x80} {
			b := make([]byte, n)
			for i := range b {
				b[i] = fill
			}
			b[n/2] ^= 1
			if Checksum(b) != refChecksum(b) {
				t.Fatalf("length %d of %#x: fast %#x, reference %#x", n, fill, Checksum(b), refChecksum(b))
			}
		}
	}
}

func BenchmarkChecksum(b *testing.B) {
	p := make([]byte, 1160)
	for i := range p {
		p[i] = byte(i * 7)
	}
	b.SetBytes(int64(len(p)))
	for b.Loop() {
		Checksum(p)
	}
}
