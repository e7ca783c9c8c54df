package flashcrypto

import "errors"

// Sentinel errors; callers test them with errors.Is.
var (
	// ErrUnsupportedGroup means a Diffie-Hellman group is not implemented.
	ErrUnsupportedGroup = errors.New("flashcrypto: unsupported Diffie-Hellman group")
	// ErrNoCommonGroup means the two certificates share no group.
	ErrNoCommonGroup = errors.New("flashcrypto: no common Diffie-Hellman group")
	// ErrWeakPublicKey means a peer's public key failed validation.
	ErrWeakPublicKey = errors.New("flashcrypto: weak Diffie-Hellman public key")
	// ErrCertificate means a certificate is malformed or mixes the static
	// and ephemeral styles.
	ErrCertificate = errors.New("flashcrypto: invalid certificate")
	// ErrKeyingComponent means a session key component is malformed or
	// lacks the key material it must carry.
	ErrKeyingComponent = errors.New("flashcrypto: invalid session key component")
	// ErrNegotiation means the peer cannot provide an integrity feature
	// (HMAC or session sequence numbers) that we require.
	ErrNegotiation = errors.New("flashcrypto: HMAC/sequence negotiation failed")
	// ErrPacketLength means a packet is too short or not a whole number of
	// cipher blocks.
	ErrPacketLength = errors.New("flashcrypto: bad packet length")
	// ErrIntegrity means a checksum or HMAC did not verify.
	ErrIntegrity = errors.New("flashcrypto: integrity check failed")
	// ErrReplay means a session sequence number was repeated or too old.
	ErrReplay = errors.New("flashcrypto: replayed or stale packet")
	// ErrEPD means an endpoint discriminator is malformed.
	ErrEPD = errors.New("flashcrypto: invalid endpoint discriminator")
)
