//go:build amd64 && !purego

package flashcrypto

// haveAESNI reports whether the processor has the AES instructions the
// assembly chains need.
var haveAESNI = cpuHasAES()

func cpuHasAES() bool

// cbcEncrypt4 encrypts n blocks of each of four buffers in place, each as
// a CBC chain with a zero IV, with the round keys rk.
//
//go:noescape
func cbcEncrypt4(rk *[176]byte, a, b, c, d *byte, n int)

// cbcEncrypt2 is cbcEncrypt4 for two buffers.
//
//go:noescape
func cbcEncrypt2(rk *[176]byte, a, b *byte, n int)

// cbcEncrypt1 encrypts n blocks of p in place as a CBC chain that starts
// from the block at iv.
//
//go:noescape
func cbcEncrypt1(rk *[176]byte, p *byte, n int, iv *byte)
