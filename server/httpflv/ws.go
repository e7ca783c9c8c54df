package httpflv

// WebSocket opcodes (RFC 6455 §5.2) of the frames the server writes itself.
const (
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// appendWSHeader appends the header of an unfragmented, unmasked (server
// to client) WebSocket frame of n payload bytes. The server writes its
// frames itself rather than through gorilla/websocket's writer, which
// would copy every frame's payload into its buffer: a tag's header goes
// in the same vectored write as the shared frame payload.
func appendWSHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, 0, 0, 0, byte(uint64(n)>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendWSControl appends a control frame (ping, pong, close) with its
// payload, at most 125 bytes (RFC 6455 §5.5).
func appendWSControl(b []byte, op byte, payload []byte) []byte {
	payload = payload[:min(len(payload), 125)]
	return append(appendWSHeader(b, op, len(payload)), payload...)
}
