package protocol

import (
	"encoding/binary"
	"errors"
)

// EventType is a User Control event type (RTMP 1.0 §7.1.7; RTMFP carries
// the same events in TC messages of type 4, RFC 7425 §5.1.3).
type EventType uint16

// User Control events.
const (
	EventStreamBegin      EventType = 0
	EventStreamEOF        EventType = 1
	EventStreamDry        EventType = 2
	EventSetBufferLength  EventType = 3
	EventStreamIsRecorded EventType = 4
	EventPingRequest      EventType = 6
	EventPingResponse     EventType = 7
	EventBufferEmpty      EventType = 31
	EventBufferReady      EventType = 32
)

// UserControl is a decoded User Control message. StreamID is set for stream
// events, BufferLength for SetBufferLength, Timestamp for ping events.
type UserControl struct {
	Event        EventType
	StreamID     uint32
	BufferLength uint32
	Timestamp    uint32
}

// ErrShortUserControl is returned for a User Control payload too short for its event.
var ErrShortUserControl = errors.New("protocol: short user control message")

// ParseUserControl decodes a User Control payload. Unknown events with a
// 4-byte body are returned with StreamID holding that body.
func ParseUserControl(p []byte) (UserControl, error) {
	if len(p) < 2 {
		return UserControl{}, ErrShortUserControl
	}
	uc := UserControl{Event: EventType(binary.BigEndian.Uint16(p))}
	p = p[2:]
	switch uc.Event {
	case EventPingRequest, EventPingResponse:
		if len(p) < 4 {
			return uc, ErrShortUserControl
		}
		uc.Timestamp = binary.BigEndian.Uint32(p)
	case EventSetBufferLength:
		if len(p) < 8 {
			return uc, ErrShortUserControl
		}
		uc.StreamID = binary.BigEndian.Uint32(p)
		uc.BufferLength = binary.BigEndian.Uint32(p[4:])
	default:
		if len(p) >= 4 {
			uc.StreamID = binary.BigEndian.Uint32(p)
		}
	}
	return uc, nil
}

// AppendUserControl appends the payload of a User Control message.
func AppendUserControl(b []byte, uc UserControl) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(uc.Event))
	switch uc.Event {
	case EventPingRequest, EventPingResponse:
		return binary.BigEndian.AppendUint32(b, uc.Timestamp)
	case EventSetBufferLength:
		b = binary.BigEndian.AppendUint32(b, uc.StreamID)
		return binary.BigEndian.AppendUint32(b, uc.BufferLength)
	}
	return binary.BigEndian.AppendUint32(b, uc.StreamID)
}
