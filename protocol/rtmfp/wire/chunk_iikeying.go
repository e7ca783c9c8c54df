package wire

import "encoding/binary"

// IIKeying is the Initiator Initial Keying chunk (0x38, RFC 7016 §2.3.7).
type IIKeying struct {
	InitiatorSessionID uint32
	CookieEcho         []byte
	Certificate        []byte
	SKIC               []byte // session key initiator component
	Signature          []byte
}

// AppendIIKeying appends an IIKeying chunk.
func AppendIIKeying(b []byte, c *IIKeying) ([]byte, error) {
	b, off := BeginChunk(b, ChunkIIKeying)
	b = binary.BigEndian.AppendUint32(b, c.InitiatorSessionID)
	b = appendLenBytes(b, c.CookieEcho)
	b = appendLenBytes(b, c.Certificate)
	b = appendLenBytes(b, c.SKIC)
	b = append(b, c.Signature...)
	return EndChunk(b, off)
}

// ParseIIKeying decodes an IIKeying payload; the result aliases p.
func ParseIIKeying(p []byte) (IIKeying, error) {
	if len(p) < 4 {
		return IIKeying{}, ErrShort
	}
	c := IIKeying{InitiatorSessionID: binary.BigEndian.Uint32(p)}
	rest := p[4:]
	var n int
	var err error
	if c.CookieEcho, n, err = parseLenBytes(rest); err != nil {
		return IIKeying{}, err
	}
	rest = rest[n:]
	if c.Certificate, n, err = parseLenBytes(rest); err != nil {
		return IIKeying{}, err
	}
	rest = rest[n:]
	if c.SKIC, n, err = parseLenBytes(rest); err != nil {
		return IIKeying{}, err
	}
	c.Signature = rest[n:]
	return c, nil
}
