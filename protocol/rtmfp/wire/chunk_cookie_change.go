package wire

// CookieChange is the RHello Cookie Change chunk (0x79, RFC 7016 §2.3.6),
// sent by a responder whose cookie arrived from an address other than the one
// it was issued to (typically a NAT rebinding between RHello and IIKeying).
type CookieChange struct {
	OldCookie []byte
	NewCookie []byte
}

// AppendCookieChange appends an RHello Cookie Change chunk.
func AppendCookieChange(b []byte, c *CookieChange) ([]byte, error) {
	b, off := BeginChunk(b, ChunkRHelloCookieChange)
	b = appendLenBytes(b, c.OldCookie)
	b = append(b, c.NewCookie...)
	return EndChunk(b, off)
}

// ParseCookieChange decodes a Cookie Change payload; the result aliases p.
func ParseCookieChange(p []byte) (CookieChange, error) {
	old, n, err := parseLenBytes(p)
	if err != nil {
		return CookieChange{}, err
	}
	return CookieChange{OldCookie: old, NewCookie: p[n:]}, nil
}
