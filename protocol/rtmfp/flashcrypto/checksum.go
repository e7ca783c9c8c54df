package flashcrypto

import "encoding/binary"

// Checksum computes the 16-bit integrity check of the Flash profile's
// default mode: the Internet one's-complement checksum (RFC 1071) over b,
// with an odd trailing byte added as the low-order byte of a word, which is
// what rtmfp-cpp and Cumulus do (and differs from RFC 1071 zero-padding on
// the right). The odd case only arises when a session sequence number of odd
// length precedes the checksum field.
//
// The sum is accumulated 32 bits at a time: the one's-complement sum is
// independent of word size once folded, and wider words halve the loop.
func Checksum(b []byte) uint16 {
	var sum uint64
	for len(b) >= 8 {
		v := binary.BigEndian.Uint64(b)
		sum += v>>32 + v&0xffffffff
		b = b[8:]
	}
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
