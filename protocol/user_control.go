package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"strconv"
)

// ErrShortUserControl is returned for a User Control payload too short for its event.
var ErrShortUserControl = errors.New("protocol: short user control message")

// EventType is the type of a User Control message (message type 4; RTMP
// 1.0 §7.1.7; ams-behaviour.md §3.8). RTMFP carries the same messages in
// its TC flows and adds two events of its own (RFC 7425 §5.2, §5.3.4).
type EventType uint16

// User Control event types. 31 and 32 are not in the specification; AMS
// and Red5 send them around VOD buffering.
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
	// RTMFP only: flows carrying this sync ID resume together once Count
	// of them have delivered it.
	EventFlowSync EventType = 34
	// RTMFP only: the keepalive periods the server asks for.
	EventSetKeepalive EventType = 41
)

// String names the event for logs.
func (e EventType) String() string {
	switch e {
	case EventStreamBegin:
		return "StreamBegin"
	case EventStreamEOF:
		return "StreamEOF"
	case EventStreamDry:
		return "StreamDry"
	case EventSetBufferLength:
		return "SetBufferLength"
	case EventStreamIsRecorded:
		return "StreamIsRecorded"
	case EventPingRequest:
		return "PingRequest"
	case EventPingResponse:
		return "PingResponse"
	case EventBufferEmpty:
		return "BufferEmpty"
	case EventBufferReady:
		return "BufferReady"
	case EventFlowSync:
		return "FlowSync"
	case EventSetKeepalive:
		return "SetKeepalive"
	}
	return "Event(" + strconv.Itoa(int(e)) + ")"
}

// UserControl is a User Control message: a 2-byte event type followed by
// event data. Which fields are meaningful depends on the event: StreamID
// for the stream events (StreamBegin, StreamEOF, StreamDry,
// StreamIsRecorded, BufferEmpty, BufferReady) and SetBufferLength,
// BufferLength (milliseconds) for SetBufferLength, Timestamp for the ping
// events, SyncID and SyncCount for FlowSync, ServerKeepalive and
// PeerKeepalive (milliseconds) for SetKeepalive.
type UserControl struct {
	Event           EventType
	StreamID        uint32
	BufferLength    uint32
	Timestamp       uint32
	SyncID          uint32
	SyncCount       uint32
	ServerKeepalive uint32
	PeerKeepalive   uint32
}

// userControlDataSize returns the size of the event data for known events
// and 0 for the others, whose data is not interpreted.
func userControlDataSize(e EventType) int {
	switch e {
	case EventStreamBegin, EventStreamEOF, EventStreamDry, EventStreamIsRecorded,
		EventBufferEmpty, EventBufferReady, EventPingRequest, EventPingResponse:
		return 4
	case EventSetBufferLength, EventFlowSync, EventSetKeepalive:
		return 8
	}
	return 0
}

// ParseUserControl decodes a User Control payload. Events this package does
// not know (SWF verification, 26 and 27, for one) decode to their event
// type alone, so that the caller can ignore them; known events shorter
// than their layout fail with ErrShortUserControl.
func ParseUserControl(p []byte) (UserControl, error) {
	if len(p) < 2 {
		return UserControl{}, fmt.Errorf("%w: user control of %d bytes", ErrShortUserControl, len(p))
	}
	uc := UserControl{Event: EventType(binary.BigEndian.Uint16(p))}
	d := p[2:]
	if n := userControlDataSize(uc.Event); len(d) < n {
		return UserControl{}, fmt.Errorf("%w: %v with %d bytes of data, want %d", ErrShortUserControl, uc.Event, len(d), n)
	}
	switch uc.Event {
	case EventPingRequest, EventPingResponse:
		uc.Timestamp = binary.BigEndian.Uint32(d)
	case EventSetBufferLength:
		uc.StreamID = binary.BigEndian.Uint32(d)
		uc.BufferLength = binary.BigEndian.Uint32(d[4:])
	case EventFlowSync:
		uc.SyncID = binary.BigEndian.Uint32(d)
		uc.SyncCount = binary.BigEndian.Uint32(d[4:])
	case EventSetKeepalive:
		uc.ServerKeepalive = binary.BigEndian.Uint32(d)
		uc.PeerKeepalive = binary.BigEndian.Uint32(d[4:])
	default:
		if userControlDataSize(uc.Event) == 4 {
			uc.StreamID = binary.BigEndian.Uint32(d)
		}
	}
	return uc, nil
}

// AppendUserControl appends the payload of a User Control message. Events
// this package does not know are written as their type alone.
func AppendUserControl(b []byte, uc UserControl) []byte {
	b = binary.BigEndian.AppendUint16(b, uint16(uc.Event))
	switch uc.Event {
	case EventPingRequest, EventPingResponse:
		return binary.BigEndian.AppendUint32(b, uc.Timestamp)
	case EventSetBufferLength:
		b = binary.BigEndian.AppendUint32(b, uc.StreamID)
		return binary.BigEndian.AppendUint32(b, uc.BufferLength)
	case EventFlowSync:
		b = binary.BigEndian.AppendUint32(b, uc.SyncID)
		return binary.BigEndian.AppendUint32(b, uc.SyncCount)
	case EventSetKeepalive:
		b = binary.BigEndian.AppendUint32(b, uc.ServerKeepalive)
		return binary.BigEndian.AppendUint32(b, uc.PeerKeepalive)
	}
	if userControlDataSize(uc.Event) == 4 {
		return binary.BigEndian.AppendUint32(b, uc.StreamID)
	}
	return b
}
