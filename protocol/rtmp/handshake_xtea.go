package rtmp

import "encoding/binary"

// RTMPE version 8 (docs/rtmpe.md §3) enciphers the 32-byte signature of S2
// and C2 with XTEA, one 8-byte block at a time, each under a key picked from
// a fixed public table by a byte of the key that signed it. It hides
// nothing (the table is public); it is a version marker clients check.

// xteaKeys is the table of XTEA keys. A block's key is chosen by a byte
// modulo 15, so the table has 15 entries.
var xteaKeys = [15][4]uint32{
	{0xbff034b2, 0x11d9081f, 0xccdfb795, 0x748de732},
	{0x086a5eb6, 0x1743090e, 0x6ef05ab8, 0xfe5a39e2},
	{0x7b10956f, 0x76ce0521, 0x2388a73a, 0x440149a1},
	{0xa943f317, 0xebf11bb2, 0xa691a5ee, 0x17f36339},
	{0x7a30e00a, 0xb529e22c, 0xa087aea5, 0xc0cb79ac},
	{0xbdce0c23, 0x2febdeff, 0x1cfaae16, 0x1123239d},
	{0x55dd3f7b, 0x77e7e62e, 0x9bb8c499, 0xc9481ee4},
	{0x407bb6b4, 0x71e89136, 0xa7aebf55, 0xca33b839},
	{0xfcf6bdc3, 0xb63c3697, 0x7ce4f825, 0x04d959b2},
	{0x28e091fd, 0x41954c4c, 0x7fb7db00, 0xe3a066f8},
	{0x57845b76, 0x4f251b03, 0x46d45bcd, 0xa2c30d29},
	{0x0acceef8, 0xda55b546, 0x03473452, 0x5863713b},
	{0xb82075dc, 0xa75f1fee, 0xd84268e8, 0xa72a44cc},
	{0x07cf6e9e, 0xa16d7b25, 0x9fa7ae6c, 0xd92f5629},
	{0xfeb1eae4, 0x8c8c3ce1, 0x4e0064a7, 0x6a387c2a},
}

// xteaSignature enciphers a 32-byte signature in place: block i (bytes
// 8i..8i+7) under xteaKeys[signingKey[8i] % 15].
func xteaSignature(sig []byte, signingKey [digestSize]byte) {
	for i := 0; i < digestSize; i += 8 {
		xteaEncrypt(sig[i:i+8], &xteaKeys[signingKey[i]%15])
	}
}

// xteaEncrypt enciphers one block in place with 32 cycles of XTEA (Needham
// and Wheeler, 1997), reading the block as two little-endian words.
func xteaEncrypt(b []byte, k *[4]uint32) {
	const delta = 0x9E3779B9
	v0, v1 := binary.LittleEndian.Uint32(b), binary.LittleEndian.Uint32(b[4:])
	var sum uint32
	for range 32 {
		v0 += ((v1<<4 ^ v1>>5) + v1) ^ (sum + k[sum&3])
		sum += delta
		v1 += ((v0<<4 ^ v0>>5) + v0) ^ (sum + k[(sum>>11)&3])
	}
	binary.LittleEndian.PutUint32(b, v0)
	binary.LittleEndian.PutUint32(b[4:], v1)
}
