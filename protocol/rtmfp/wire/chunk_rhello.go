package wire

// RHello is the Responder Hello chunk (0x70, RFC 7016 §2.3.4): the echoed
// tag, the responder's cookie and its certificate.
type RHello struct {
	TagEcho     []byte
	Cookie      []byte
	Certificate []byte
}

// AppendRHello appends an RHello chunk.
func AppendRHello(b []byte, c *RHello) ([]byte, error) {
	b, off := BeginChunk(b, ChunkRHello)
	b = appendLenBytes(b, c.TagEcho)
	b = appendLenBytes(b, c.Cookie)
	b = append(b, c.Certificate...)
	return EndChunk(b, off)
}

// ParseRHello decodes an RHello payload; the result aliases p.
func ParseRHello(p []byte) (RHello, error) {
	tag, n, err := parseLenBytes(p)
	if err != nil {
		return RHello{}, err
	}
	cookie, m, err := parseLenBytes(p[n:])
	if err != nil {
		return RHello{}, err
	}
	return RHello{TagEcho: tag, Cookie: cookie, Certificate: p[n+m:]}, nil
}
