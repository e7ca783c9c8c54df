package wire

// Ping (0x01, RFC 7016 §2.3.9) and Ping Reply (0x41, §2.3.10) carry an
// opaque message that the reply echoes unaltered. An empty Ping is a
// keepalive; a Ping with a marked, authenticated body is a mobility probe.

// AppendPing appends a Ping chunk carrying msg.
func AppendPing(b, msg []byte) []byte { return appendChunk(b, ChunkPing, msg) }

// AppendPingReply appends a Ping Reply chunk echoing msg.
func AppendPingReply(b, msg []byte) []byte { return appendChunk(b, ChunkPingReply, msg) }
