package wire

// AppendBufferProbe appends a Buffer Probe chunk (0x18, RFC 7016 §2.3.15),
// which asks the flow receiver to re-advertise its receive window.
func AppendBufferProbe(b []byte, flowID uint64) []byte {
	b = append(b, ChunkBufferProbe, 0, byte(VLULen(flowID)))
	return AppendVLU(b, flowID)
}

// ParseBufferProbe decodes a Buffer Probe payload.
func ParseBufferProbe(p []byte) (flowID uint64, err error) {
	flowID, _, err = ParseVLU(p)
	return flowID, err
}
