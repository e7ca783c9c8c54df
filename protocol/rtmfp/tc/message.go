package tc

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/nimbus-media/nimbus/protocol"
)

// HeaderSize is the TC message header: type and timestamp.
const HeaderSize = 5

// ErrShortMessage is returned for a TC message shorter than its header.
var ErrShortMessage = errors.New("tc: message shorter than 5 bytes")

// AppendMessage appends m as one TC flow message (RFC 7425 §5.1.2): the
// RTMP message type, the 32-bit timestamp and the payload. The stream ID is
// not in the message: the flow's metadata carries it.
func AppendMessage(b []byte, m protocol.Message) []byte {
	var h [HeaderSize]byte
	PutHeader(h[:], m)
	return append(append(b, h[:]...), m.Payload...)
}

// PutHeader writes m's TC message header (HeaderSize bytes) into b, for a
// sender that passes the payload separately.
func PutHeader(b []byte, m protocol.Message) {
	b[0] = byte(m.Type)
	binary.BigEndian.PutUint32(b[1:HeaderSize], m.Timestamp)
}

// ParseMessage decodes a TC flow message of the NetStream streamID. The
// payload aliases b.
func ParseMessage(b []byte, streamID uint32) (protocol.Message, error) {
	if len(b) < HeaderSize {
		return protocol.Message{}, fmt.Errorf("%w: %d bytes", ErrShortMessage, len(b))
	}
	return protocol.Message{
		Type:      protocol.Type(b[0]),
		Timestamp: binary.BigEndian.Uint32(b[1:5]),
		StreamID:  streamID,
		Payload:   b[HeaderSize:],
	}, nil
}
