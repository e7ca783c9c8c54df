// Package wire encodes and decodes the plain (decrypted) RTMFP packet and its
// chunks as specified by RFC 7016 §2.
//
// Every chunk type lives in its own file (chunk_<name>.go) with an Append
// function that writes the whole chunk, header included, into a caller's
// buffer and a Parse function that decodes the chunk payload without copying:
// parsed structures alias the input. Nothing in this package allocates on the
// data path (user data, acknowledgements, pings), which is what lets the
// session layer promise zero allocations per packet.
//
// Encryption, checksums and the multiplex header (the scrambled session ID)
// are a separate concern handled by package flashcrypto; this package starts
// at the first byte of the plain packet (the flags byte of RFC 7016 §2.2.4).
//
// Lengths declared by a peer are never trusted: every VLU length is checked
// against the bytes that remain before it is used, so a hostile packet can at
// worst be rejected, never cause an allocation.
package wire
