package wire

import "encoding/binary"

// RIKeying is the Responder Initial Keying chunk (0x78, RFC 7016 §2.3.8).
type RIKeying struct {
	ResponderSessionID uint32
	SKRC               []byte // session key responder component
	Signature          []byte
}

// AppendRIKeying appends an RIKeying chunk.
func AppendRIKeying(b []byte, c *RIKeying) ([]byte, error) {
	b, off := BeginChunk(b, ChunkRIKeying)
	b = binary.BigEndian.AppendUint32(b, c.ResponderSessionID)
	b = appendLenBytes(b, c.SKRC)
	b = append(b, c.Signature...)
	return EndChunk(b, off)
}

// ParseRIKeying decodes an RIKeying payload; the result aliases p.
func ParseRIKeying(p []byte) (RIKeying, error) {
	if len(p) < 4 {
		return RIKeying{}, ErrShort
	}
	skrc, n, err := parseLenBytes(p[4:])
	if err != nil {
		return RIKeying{}, err
	}
	return RIKeying{
		ResponderSessionID: binary.BigEndian.Uint32(p),
		SKRC:               skrc,
		Signature:          p[4+n:],
	}, nil
}
