// Package rtmp is the wire layer of RTMP over TCP: the handshake, the chunk
// stream, and the payloads of the protocol control and user control
// messages. It turns bytes into the transport-neutral protocol.Message and
// back, and knows nothing of commands, streams or applications.
//
// # Handshake
//
// ServerHandshake and ClientHandshake implement RTMP 1.0 §5.2 together with
// the digest ("complex") handshake that Flash Player 9.0.115 and later
// expect before they play H.264 and AAC (ams-behaviour.md §1). The server
// answers a digest C1 in kind and anything else with the simple handshake;
// it never rejects a client over a digest, and never checks C2 (errata §3).
//
// RTMPE (C0 = 6, or 8 with XTEA-enciphered signatures) is the digest
// handshake with a Diffie-Hellman exchange in C1 and S1 and RC4 on every
// byte after it (docs/rtmpe.md). ServerHandshake accepts it when asked to
// and returns the ciphers, ClientHandshakeRTMPE is the client side, and
// NewRTMPEConn applies the ciphers to any net.Conn, so that RTMPE composes
// with the transport underneath.
//
// # Chunk stream
//
// Reader and Writer implement RTMP 1.0 §5.3 with the corrections of the
// errata: little-endian 3-byte basic headers (§4.1) and message stream IDs
// (§4.2), and extended timestamps repeated in every type 3 chunk header
// while in effect, including type 3 chunks that start a message (§5.1).
//
// The Reader is written for a server facing untrusted peers. Every length a
// peer declares is checked against a limit the caller sets before memory is
// committed to it; reassembly buffers are sized by the data that arrives,
// capped in total, and reused, so that reading a steady stream of media
// allocates nothing. Set Chunk Size and Abort (§5.4.1, §5.4.2) act inside
// the Reader because they change how the following bytes are framed. It
// tolerates the senders that leave the extended timestamp out of
// continuation chunks, as SRS does.
//
// The Writer compresses headers per chunk stream and appends chunks to a
// reused buffer, writing it out at 64 KiB and never in the middle of a
// message that fits, so that a message reaches the connection in one write
// and writing it allocates nothing.
//
// Live media is chunked once for all players: ChunkVector splits a
// message into a type 0 header and type 3 continuations, a form that does
// not depend on what went before on the connection, so every player with
// the same chunk size and stream ID can send the same bytes (the server
// caches them on the frame). It copies nothing: its result is the headers
// interleaved with slices of the payload. WritePrechunked queues those
// shared slices, and Flush hands the buffer's segments and the shared
// slices to the connection in one vectored write — writev on a TCP
// connection, or the connection's own BuffersWriter, which is how the
// server writes to a player's socket without blocking from the
// publisher's goroutine. Pending hands the same vector out instead, for a
// caller that makes the write itself (the server sends a fan-out's
// players' vectors together, with one system call), and Sent empties the
// Writer after it.
//
// # Messages
//
// The Append functions encode control and user control payloads into a
// caller's buffer (RTMP 1.0 §5.4, §7.1.7) and the Parse functions decode
// them. SplitAggregate unpacks aggregate messages (§7.1.6).
//
// Citations: "RTMP 1.0" is Adobe's RTMP specification, with the section
// numbers of the combined document (§5.2 handshake, §5.3 chunking, §5.4
// protocol control messages, §7.1 message types) that the errata also use;
// "errata" is Thornburgh's RTMP Errata and Addenda (2024).
package rtmp
