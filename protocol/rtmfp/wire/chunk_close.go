package wire

// Session Close Request (0x0c, RFC 7016 §2.3.17) and Session Close
// Acknowledgement (0x4c, §2.3.18) have no payload.

// AppendClose appends a Session Close Request chunk.
func AppendClose(b []byte) []byte { return append(b, ChunkClose, 0, 0) }

// AppendCloseAck appends a Session Close Acknowledgement chunk.
func AppendCloseAck(b []byte) []byte { return append(b, ChunkCloseAck, 0, 0) }
