// Package flashcrypto is the Flash cryptography profile for RTMFP (RFC
// 7425 §4, re-derived from rtmfp-cpp, Cumulus and MonaServer because the
// RFC text is not at hand): per-packet AES-128-CBC with a zero IV, the
// 16-bit checksum and negotiated HMAC-SHA256 integrity modes, session
// sequence numbers, Diffie-Hellman groups 2, 5, 14 and 16, session key
// derivation, certificates with SHA-256 peer IDs, and endpoint
// discriminators.
//
// The packet codecs (Sealer, Opener) work in place on the caller's datagram
// buffer, reuse their cipher and HMAC state per direction and never
// allocate. A Sealer seals up to four packets together (SealGroup), running
// their CBC chains side by side: on amd64 with AES-NI through an assembly
// loop that keeps the round keys in registers (cbc_amd64.s), elsewhere in
// pairs through crypto/cipher. Handshake-time helpers (certificates, key agreement) allocate
// freely: they run once per session.
//
// Interop choices, each taken from a real peer:
//   - The responder answers Flash/librtmfp initiators, which only offer
//     HMAC "on request", with the literal legacy SKRC prefix librtmfp checks,
//     and rtmfp-cpp initiators, which require HMAC and sequence numbers, with
//     a real negotiation (see Responder).
//   - Public keys and secrets are minimal-length big-endian integers.
//   - Weak public keys are rejected (RFC 7425 §4.6.2).
package flashcrypto
