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
	for len(bufs) > maxChains {
		c.encrypt(bufs[:maxChains])
		bufs = bufs[maxChains:]
	}
	// Chains of different lengths (a frame's last fragment, an
	// acknowledgement) are run side by side for as long as they last
	// together; the longer ones then go on in a smaller group.
	var done [maxChains]int // blocks encrypted, per chain
	for {
		var act [maxChains]int // chains with blocks left
		k := 0
		for i, b := range bufs {
			if len(b)/aes.BlockSize > done[i] {
				act[k] = i
				k++
			}
		}
		switch {
		case k == 0:
			return
		case k == 3:
			k = 2 // the third joins the longer of these next round
		}
		n := len(bufs[act[0]])/aes.BlockSize - done[act[0]]
		for _, i := range act[1:k] {
			n = min(n, len(bufs[i])/aes.BlockSize-done[i])
		}
		var at, iv [maxChains]*byte
		for j, i := range act[:k] {
			b := bufs[i]
			at[j], iv[j] = &b[done[i]*aes.BlockSize], &zeroIV[0]
			if done[i] > 0 {
				iv[j] = &b[(done[i]-1)*aes.BlockSize]
			}
			done[i] += n
		}
		switch k {
		case 4:
			cbcEncrypt4(&c.rk, at[0], at[1], at[2], at[3], n, iv[0], iv[1], iv[2], iv[3])
		case 2:
			cbcEncrypt2(&c.rk, at[0], at[1], n, iv[0], iv[1])
		default:
			cbcEncrypt1(&c.rk, at[0], n, iv[0])
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
