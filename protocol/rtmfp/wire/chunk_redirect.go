package wire

// Redirect is the Responder Redirect chunk (0x71, RFC 7016 §2.3.5). With no
// addresses it is an Implied Redirect meaning "the address this came from".
type Redirect struct {
	TagEcho   []byte
	Addresses []Address
}

// AppendRedirect appends a Redirect chunk.
func AppendRedirect(b []byte, c *Redirect) ([]byte, error) {
	b, off := BeginChunk(b, ChunkRedirect)
	b = appendLenBytes(b, c.TagEcho)
	for _, a := range c.Addresses {
		b = AppendAddress(b, a)
	}
	return EndChunk(b, off)
}

// ParseRedirect decodes a Redirect payload, appending the addresses to dst
// (pass a reused slice to avoid allocation). At most max addresses are
// decoded so a hostile chunk cannot grow dst without bound.
func ParseRedirect(p []byte, dst []Address, max int) (Redirect, error) {
	tag, n, err := parseLenBytes(p)
	if err != nil {
		return Redirect{}, err
	}
	p = p[n:]
	for len(p) > 0 && len(dst) < max {
		a, an, err := ParseAddress(p)
		if err != nil {
			return Redirect{}, err
		}
		dst = append(dst, a)
		p = p[an:]
	}
	return Redirect{TagEcho: tag, Addresses: dst}, nil
}
