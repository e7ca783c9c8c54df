package wire

// Chunk type codes (RFC 7016 §2.3).
const (
	ChunkPadding            byte = 0x00
	ChunkPing               byte = 0x01
	ChunkClose              byte = 0x0c
	ChunkFIHello            byte = 0x0f
	ChunkUserData           byte = 0x10
	ChunkNextUserData       byte = 0x11
	ChunkBufferProbe        byte = 0x18
	ChunkIHello             byte = 0x30
	ChunkIIKeying           byte = 0x38
	ChunkPingReply          byte = 0x41
	ChunkCloseAck           byte = 0x4c
	ChunkAckBitmap          byte = 0x50
	ChunkAckRanges          byte = 0x51
	ChunkFlowException      byte = 0x5e
	ChunkRHello             byte = 0x70
	ChunkRedirect           byte = 0x71
	ChunkRIKeying           byte = 0x78
	ChunkRHelloCookieChange byte = 0x79
	ChunkPacketFragment     byte = 0x7f
	ChunkPaddingFF          byte = 0xff
)

// IsStartupChunk reports whether typ is only allowed in startup-mode packets
// (RFC 7016 §2.2.4: session startup chunks use mode 3 only).
func IsStartupChunk(typ byte) bool {
	switch typ {
	case ChunkIHello, ChunkRHello, ChunkRedirect, ChunkRHelloCookieChange, ChunkIIKeying, ChunkRIKeying:
		return true
	}
	return false
}
