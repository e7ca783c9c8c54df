package flashcrypto

import (
	"crypto/aes"
	"crypto/cipher"
	"encoding/binary"
	"sync"
)

// Several CBC chains at once. Every RTMFP packet is a CBC chain of its own
// (zero IV), and a chain is serial: each block's encryption waits for the
// one before, so one chain keeps the processor's AES unit busy a fraction
// of the time. Sealing a group of packets together runs their chains
// side by side. On amd64 with AES-NI an assembly loop takes four chains
// (or two) a block at a time with the round keys held in registers, which
// also saves the standard library's per-block calls; elsewhere two chains
// alternate through cipher.Block.

// maxChains is the most packets SealGroup takes at once.
const maxChains = 4

// chainCipher encrypts whole-block buffers in place, each as its own CBC
// chain with a zero IV.
type chainCipher struct {
	block cipher.Block
	// rk holds the AES-128 round keys for the assembly loop; asm is set
	// when it runs here.
	rk  [176]byte
	asm bool
}

func newChainCipher(key [16]byte, asm bool) *chainCipher {
	block, err := aes.NewCipher(key[:])
	if err != nil {
		panic(err) // key length is fixed at 16 by construction
	}
	c := &chainCipher{block: block, asm: asm && haveAESNI}
	if c.asm {
		c.rk = expandKey128(key)
	}
	return c
}

// encrypt encrypts each of bufs (whole blocks each) as its own chain.
func (c *chainCipher) encrypt(bufs [][]byte) {
	if !c.asm {
		for len(bufs) >= 2 {
			cbcEncryptPair(c.block, bufs[0], bufs[1])
			bufs = bufs[2:]
		}
		if len(bufs) == 1 {
			cbcEncryptPair(c.block, bufs[0], nil)
		}
		return
	}
	for len(bufs) > 0 {
		k := 1
		switch {
		case len(bufs) >= 4:
			k = 4
		case len(bufs) >= 2:
			k = 2
		}
		group := bufs[:k]
		bufs = bufs[k:]
		n := 0 // blocks every chain of the group has, run side by side
		if k > 1 {
			n = len(group[0])
			for _, b := range group[1:] {
				n = min(n, len(b))
			}
			n /= aes.BlockSize
		}
		switch {
		case n > 0 && k == 4:
			cbcEncrypt4(&c.rk, &group[0][0], &group[1][0], &group[2][0], &group[3][0], n)
		case n > 0 && k == 2:
			cbcEncrypt2(&c.rk, &group[0][0], &group[1][0], n)
		}
		// The rest of a longer chain (or a lone one) goes on by itself
		// from its last ciphertext block.
		for _, b := range group {
			if rest := len(b)/aes.BlockSize - n; rest > 0 {
				iv := &zeroIV[0]
				if n > 0 {
					iv = &b[(n-1)*aes.BlockSize]
				}
				cbcEncrypt1(&c.rk, &b[n*aes.BlockSize], rest, iv)
			}
		}
	}
}

// cbcEncryptPair encrypts x and y (whole blocks each; y may be empty) in
// place in CBC mode with a zero IV, alternating between the two chains
// while both last.
func cbcEncryptPair(block cipher.Block, x, y []byte) {
	var x0, x1, y0, y1 uint64 // each chain's previous ciphertext block
	for len(x) >= aes.BlockSize && len(y) >= aes.BlockSize {
		bx, by := x[:aes.BlockSize], y[:aes.BlockSize]
		binary.LittleEndian.PutUint64(bx, binary.LittleEndian.Uint64(bx)^x0)
		binary.LittleEndian.PutUint64(bx[8:], binary.LittleEndian.Uint64(bx[8:])^x1)
		binary.LittleEndian.PutUint64(by, binary.LittleEndian.Uint64(by)^y0)
		binary.LittleEndian.PutUint64(by[8:], binary.LittleEndian.Uint64(by[8:])^y1)
		block.Encrypt(bx, bx)
		block.Encrypt(by, by)
		x0, x1 = binary.LittleEndian.Uint64(bx), binary.LittleEndian.Uint64(bx[8:])
		y0, y1 = binary.LittleEndian.Uint64(by), binary.LittleEndian.Uint64(by[8:])
		x, y = x[aes.BlockSize:], y[aes.BlockSize:]
	}
	if len(y) > 0 {
		x, x0, x1 = y, y0, y1
	}
	for len(x) >= aes.BlockSize {
		bx := x[:aes.BlockSize]
		binary.LittleEndian.PutUint64(bx, binary.LittleEndian.Uint64(bx)^x0)
		binary.LittleEndian.PutUint64(bx[8:], binary.LittleEndian.Uint64(bx[8:])^x1)
		block.Encrypt(bx, bx)
		x0, x1 = binary.LittleEndian.Uint64(bx), binary.LittleEndian.Uint64(bx[8:])
		x = x[aes.BlockSize:]
	}
}

// expandKey128 returns the eleven AES-128 round keys of FIPS-197 §5.2, in
// the byte order the AESENC instructions take them.
func expandKey128(key [16]byte) (rk [176]byte) {
	sbox := sboxTable()
	var w [44]uint32
	for i := range 4 {
		w[i] = binary.BigEndian.Uint32(key[4*i:])
	}
	rcon := byte(1)
	for i := 4; i < 44; i++ {
		t := w[i-1]
		if i%4 == 0 {
			t = t<<8 | t>>24 // RotWord
			t = uint32(sbox[t>>24])<<24 | uint32(sbox[t>>16&0xff])<<16 | uint32(sbox[t>>8&0xff])<<8 | uint32(sbox[t&0xff])
			t ^= uint32(rcon) << 24
			rcon = xtime(rcon)
		}
		w[i] = w[i-4] ^ t
	}
	for i, v := range w {
		binary.BigEndian.PutUint32(rk[4*i:], v)
	}
	return rk
}

// xtime multiplies by x in GF(2^8) modulo the AES polynomial.
func xtime(b byte) byte {
	if b&0x80 != 0 {
		return b<<1 ^ 0x1b
	}
	return b << 1
}

// sboxTable is the AES S-box, computed once from its definition (the
// multiplicative inverse in GF(2^8) followed by the affine map) rather
// than written out: the key schedule is its only user.
var sboxTable = sync.OnceValue(func() (s [256]byte) {
	rotl := func(b byte, n uint) byte { return b<<n | b>>(8-n) }
	// p runs through the multiplicative group by powers of 3 and q
	// through the powers of 3's inverse, so q is p's inverse.
	p, q := byte(1), byte(1)
	for {
		p ^= xtime(p) // p *= 3
		q ^= q << 1   // q /= 3
		q ^= q << 2
		q ^= q << 4
		if q&0x80 != 0 {
			q ^= 0x09
		}
		s[p] = q ^ rotl(q, 1) ^ rotl(q, 2) ^ rotl(q, 3) ^ rotl(q, 4) ^ 0x63
		if p == 1 {
			break
		}
	}
	s[0] = 0x63
	return s
})
