package flashcrypto

import (
	"crypto/hmac"
	"crypto/sha256"
)

// SessionKeys are the per-session secrets derived from the Diffie-Hellman
// secret and the two session key components (RFC 7425 §4.6.5, as
// implemented by rtmfp-cpp, Cumulus and MonaServer alike):
//
//	encrypt = HMAC(S, HMAC(far, near))   decrypt = HMAC(S, HMAC(near, far))
//	nearNonce = HMAC(S, near)            farNonce = HMAC(S, far)
//
// where near is this end's component and far the peer's, so the initiator's
// encrypt key is the responder's decrypt key. AES uses the first 16 bytes;
// the HMAC keys (used only if HMAC is negotiated) are HMAC(S, encrypt) and
// HMAC(S, decrypt) over the full 32 bytes.
type SessionKeys struct {
	Encrypt, Decrypt    [32]byte
	SendHMAC, RecvHMAC  [32]byte
	NearNonce, FarNonce [32]byte
}

func hmac256(dst *[32]byte, key, msg []byte) {
	m := hmac.New(sha256.New, key)
	m.Write(msg)
	m.Sum(dst[:0])
}

// DeriveKeys computes the session keys from the shared secret and the near
// and far components exactly as carried in IIKeying and RIKeying.
func DeriveKeys(secret, near, far []byte) SessionKeys {
	var k SessionKeys
	var md [32]byte
	hmac256(&k.NearNonce, secret, near)
	hmac256(&k.FarNonce, secret, far)
	hmac256(&md, far, near)
	hmac256(&k.Encrypt, secret, md[:])
	hmac256(&md, near, far)
	hmac256(&k.Decrypt, secret, md[:])
	hmac256(&k.SendHMAC, secret, k.Encrypt[:])
	hmac256(&k.RecvHMAC, secret, k.Decrypt[:])
	return k
}
