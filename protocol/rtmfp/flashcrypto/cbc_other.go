//go:build !amd64 || purego

package flashcrypto

// haveAESNI is false: chains go through cipher.Block here.
const haveAESNI = false

func cbcEncrypt4(rk *[176]byte, a, b, c, d *byte, n int, ia, ib, ic, id *byte) {
	panic("flashcrypto: no assembly chains")
}

func cbcEncrypt2(rk *[176]byte, a, b *byte, n int, ia, ib *byte) {
	panic("flashcrypto: no assembly chains")
}

func cbcEncrypt1(rk *[176]byte, p *byte, n int, iv *byte) {
	panic("flashcrypto: no assembly chains")
}
