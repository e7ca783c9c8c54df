package wire

// AppendFlowException appends a Flow Exception Report chunk (0x5e, RFC 7016
// §2.3.16): the receiver rejects flowID with an application exception code
// (0 when the transport rejects a flow on its own).
func AppendFlowException(b []byte, flowID, code uint64) []byte {
	b = append(b, ChunkFlowException, 0, byte(VLULen(flowID)+VLULen(code)))
	b = AppendVLU(b, flowID)
	return AppendVLU(b, code)
}

// ParseFlowException decodes a Flow Exception Report payload.
func ParseFlowException(p []byte) (flowID, code uint64, err error) {
	flowID, n, err := ParseVLU(p)
	if err != nil {
		return 0, 0, err
	}
	code, _, err = ParseVLU(p[n:])
	return flowID, code, err
}
