package wire

// FIHello is the Forwarded Initiator Hello chunk (0x0f, RFC 7016 §2.3.3),
// sent by an introducer inside an established session on behalf of an
// initiator at ReplyAddress. Flash peers use it for P2P introductions.
type FIHello struct {
	EPD          []byte
	ReplyAddress Address
	Tag          []byte
}

// AppendFIHello appends a Forwarded IHello chunk.
func AppendFIHello(b []byte, c *FIHello) ([]byte, error) {
	b, off := BeginChunk(b, ChunkFIHello)
	b = appendLenBytes(b, c.EPD)
	b = AppendAddress(b, c.ReplyAddress)
	b = append(b, c.Tag...)
	return EndChunk(b, off)
}

// ParseFIHello decodes a Forwarded IHello payload; the result aliases p.
func ParseFIHello(p []byte) (FIHello, error) {
	epd, n, err := parseLenBytes(p)
	if err != nil {
		return FIHello{}, err
	}
	addr, an, err := ParseAddress(p[n:])
	if err != nil {
		return FIHello{}, err
	}
	return FIHello{EPD: epd, ReplyAddress: addr, Tag: p[n+an:]}, nil
}
