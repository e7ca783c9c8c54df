package wire

// IHello is the Initiator Hello chunk (0x30, RFC 7016 §2.3.2): the endpoint
// discriminator naming whom the initiator wants to reach and a tag that the
// responder echoes so the initiator can match replies independently of the
// responder's address.
type IHello struct {
	EPD []byte
	Tag []byte
}

// AppendIHello appends an IHello chunk.
func AppendIHello(b []byte, c *IHello) ([]byte, error) {
	b, off := BeginChunk(b, ChunkIHello)
	b = appendLenBytes(b, c.EPD)
	b = append(b, c.Tag...)
	return EndChunk(b, off)
}

// ParseIHello decodes an IHello payload; the result aliases p.
func ParseIHello(p []byte) (IHello, error) {
	epd, n, err := parseLenBytes(p)
	if err != nil {
		return IHello{}, err
	}
	return IHello{EPD: epd, Tag: p[n:]}, nil
}
