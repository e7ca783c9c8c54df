package wire

import "encoding/binary"

// Packet header flag bits (RFC 7016 §2.2.4).
const (
	FlagTimeCritical        = 0x80 // TC: packet carries real-time user data
	FlagTimeCriticalReverse = 0x40 // TCR: sender is receiving time-critical data elsewhere
	FlagTimestamp           = 0x08 // TS: timestamp field present
	FlagTimestampEcho       = 0x04 // TSE: timestamp echo field present
)

// Mode is the packet mode in the two low bits of the flags byte.
type Mode uint8

// Packet modes.
const (
	ModeInitiator Mode = 1 // non-startup packet from the session's initiator
	ModeResponder Mode = 2 // non-startup packet from the session's responder
	ModeStartup   Mode = 3 // handshake packet (IHello, RHello, IIKeying, ...)
)

// Header is the common header of a plain packet.
type Header struct {
	Flags         byte // TC, TCR, TS, TSE bits; the mode bits are ignored
	Mode          Mode
	Timestamp     uint16 // valid if Flags&FlagTimestamp
	TimestampEcho uint16 // valid if Flags&FlagTimestampEcho
}

// HeaderLen returns the encoded size of h.
func (h *Header) HeaderLen() int {
	n := 1
	if h.Flags&FlagTimestamp != 0 {
		n += 2
	}
	if h.Flags&FlagTimestampEcho != 0 {
		n += 2
	}
	return n
}

// AppendHeader appends the packet header h to b.
func AppendHeader(b []byte, h *Header) []byte {
	flags := h.Flags&0xfc | byte(h.Mode&3)
	b = append(b, flags)
	if flags&FlagTimestamp != 0 {
		b = binary.BigEndian.AppendUint16(b, h.Timestamp)
	}
	if flags&FlagTimestampEcho != 0 {
		b = binary.BigEndian.AppendUint16(b, h.TimestampEcho)
	}
	return b
}

// ParseHeader decodes the packet header and returns it with the chunk area
// that follows (chunks and padding).
func ParseHeader(b []byte) (Header, []byte, error) {
	if len(b) < 1 {
		return Header{}, nil, ErrShort
	}
	h := Header{Flags: b[0] & 0xfc, Mode: Mode(b[0] & 3)}
	if h.Mode == 0 {
		return h, nil, ErrMode
	}
	b = b[1:]
	if h.Flags&FlagTimestamp != 0 {
		if len(b) < 2 {
			return h, nil, ErrShort
		}
		h.Timestamp = binary.BigEndian.Uint16(b)
		b = b[2:]
	}
	if h.Flags&FlagTimestampEcho != 0 {
		if len(b) < 2 {
			return h, nil, ErrShort
		}
		h.TimestampEcho = binary.BigEndian.Uint16(b)
		b = b[2:]
	}
	return h, b, nil
}

// ChunkReader walks the chunks of a packet. Parsing stops, as RFC 7016
// §2.2.4 requires, when fewer than three bytes remain, when a chunk's length
// would run past the end (the rest is padding), or at a padding chunk type
// (0x00 or 0xff), which Flash-profile senders use to fill the last cipher
// block.
type ChunkReader struct {
	b    []byte
	typ  byte
	body []byte
}

// NewChunkReader returns a reader over the chunk area of a packet.
func NewChunkReader(b []byte) ChunkReader { return ChunkReader{b: b} }

// Next advances to the next chunk and reports whether there is one.
func (r *ChunkReader) Next() bool {
	if len(r.b) < 3 {
		return false
	}
	typ := r.b[0]
	if typ == ChunkPadding || typ == ChunkPaddingFF {
		return false
	}
	l := int(binary.BigEndian.Uint16(r.b[1:3]))
	if l > len(r.b)-3 {
		return false
	}
	r.typ, r.body = typ, r.b[3:3+l]
	r.b = r.b[3+l:]
	return true
}

// Type is the current chunk's type code.
func (r *ChunkReader) Type() byte { return r.typ }

// Payload is the current chunk's payload, aliasing the packet.
func (r *ChunkReader) Payload() []byte { return r.body }

// ChunkHeaderLen is the size of a chunk's type and length fields.
const ChunkHeaderLen = 3

// BeginChunk appends a chunk header with a placeholder length and returns the
// extended slice and the offset to pass to EndChunk once the payload has been
// appended. This lets variable-size payloads be written in place.
func BeginChunk(b []byte, typ byte) ([]byte, int) {
	return append(b, typ, 0, 0), len(b)
}

// EndChunk fills in the length of the chunk begun at off.
func EndChunk(b []byte, off int) ([]byte, error) {
	l := len(b) - off - ChunkHeaderLen
	if l > 0xffff {
		return b[:off], ErrChunkTooLong
	}
	binary.BigEndian.PutUint16(b[off+1:], uint16(l))
	return b, nil
}

// appendChunk appends a complete chunk with a known payload.
func appendChunk(b []byte, typ byte, payload []byte) []byte {
	b = append(b, typ)
	b = binary.BigEndian.AppendUint16(b, uint16(len(payload)))
	return append(b, payload...)
}

// FlashStartupFlags is the only flags byte a Flash-profile receiver takes
// on a startup packet: a timestamp, no echo, startup mode.
const FlashStartupFlags = FlagTimestamp | byte(ModeStartup)

// FlashAccepts reports whether a Flash-profile receiver (Flash Player, AIR,
// and librtmfp, which copies them) processes a packet with this flags byte
// at all. RFC 7016 §2.2.4 lets a sender omit a timestamp that has not
// changed; those receivers read the timestamp field unconditionally and
// drop any packet whose flags lack it. The package rtmfp documentation
// lists the Flash-profile receive rules.
//
// A startup packet must carry exactly FlashStartupFlags. A session packet
// must carry a timestamp and the far end's mode (fromInitiator: the
// sender started the session); the time-critical bits and the echo are
// free.
func FlashAccepts(flags byte, fromInitiator bool) bool {
	switch Mode(flags & 3) {
	case ModeStartup:
		return flags == FlashStartupFlags
	case ModeInitiator:
		return fromInitiator && flags&FlagTimestamp != 0
	case ModeResponder:
		return !fromInitiator && flags&FlagTimestamp != 0
	}
	return false
}
