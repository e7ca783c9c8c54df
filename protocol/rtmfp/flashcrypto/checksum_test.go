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
