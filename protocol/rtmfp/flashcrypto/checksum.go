package flashcrypto

import (
	"encoding/binary"
	"math/bits"
)

// Checksum computes the 16-bit integrity check of the Flash profile's
// default mode: the Internet one's-complement checksum (RFC 1071) over b,
// with an odd trailing byte added as the low-order byte of a word, which is
// what rtmfp-cpp and Cumulus do (and differs from RFC 1071 zero-padding on
// the right). The odd case only arises when a session sequence number of odd
// length precedes the checksum field.
//
// The sum is accumulated 64 bits at a time with the carry fed back in
// (an add-with-carry chain): the one's-complement sum is independent of
// word size once folded, and this is the per-packet part of sealing that
// is not AES.
func Checksum(b []byte) uint16 {
	var sum, carry uint64
	for len(b) >= 32 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[8:]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[16:]), carry)
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b[24:]), carry)
		b = b[32:]
	}
	for len(b) >= 8 {
		sum, carry = bits.Add64(sum, binary.BigEndian.Uint64(b), carry)
		b = b[8:]
	}
	sum, carry = bits.Add64(sum, carry, 0) // end-around carry
	sum += carry                           // cannot carry again
	// Fold to 32 bits, then add the tail's 16-bit words.
	sum = sum>>32 + sum&0xffffffff
	for len(b) >= 2 {
		sum += uint64(binary.BigEndian.Uint16(b))
		b = b[2:]
	}
	if len(b) == 1 {
		sum += uint64(b[0])
	}
	for sum>>16 != 0 {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}
