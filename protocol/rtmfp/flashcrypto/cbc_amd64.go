//go:build amd64 && !purego

package flashcrypto

// haveAESNI reports whether the processor has the AES instructions the
// assembly chains need.
var haveAESNI = cpuHasAES()

func cpuHasAES() bool

// cbcEncrypt4 encrypts n blocks of each of four buffers in place with the
// round keys rk, each as a CBC chain going on from the block its IV
// pointer (ia for a, ...) points at.
//
//go:noescape
func cbcEncrypt4(rk *[176]byte, a, b, c, d *byte, n int, ia, ib, ic, id *byte)

// cbcEncrypt2 is cbcEncrypt4 for two buffers.
//
//go:noescape
func cbcEncrypt2(rk *[176]byte, a, b *byte, n int, ia, ib *byte)

// cbcEncrypt1 encrypts n blocks of p in place as a CBC chain that starts
// from the block at iv.
//
//go:noescape
func cbcEncrypt1(rk *[176]byte, p *byte, n int, iv *byte)
