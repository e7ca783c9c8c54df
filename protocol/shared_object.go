package protocol

// Remote SharedObject messages (RTMP 1.0 Part C §3.3 "Shared Object Message";
// types 19 and 16). RTMFP carries the same bodies as TC messages, so the
// codec here is shared by both transports.
//
// Body layout (type 16 adds one leading format byte, 0x00):
//
//	u16 name length, name (UTF-8, no AMF marker)
//	u32 version
//	u32 flags (2 = persistent)
//	u32 reserved (0)
//	repeated until the end of the message:
//	  u8  event type (1..11)
//	  u32 event data length
//	  ... event data
//
// Keys inside events are u16-length strings without a marker; values are
// one AMF0 value (type 19) or one AMF3 value (type 16).

import (
	"encoding/binary"
	"errors"
	"fmt"
	"math"

	"github.com/nimbus-media/nimbus/amf"
)

// SOEventType is a SharedObject event type (Part C §3.3 event table).
type SOEventType uint8

// SharedObject event types. "C→S" events come from clients, "S→C" from the
// server; SendMessage travels both ways.
const (
	SOUse           SOEventType = 1  // C→S: subscribe
	SORelease       SOEventType = 2  // C→S: unsubscribe
	SORequestChange SOEventType = 3  // C→S: key, value
	SOChange        SOEventType = 4  // S→C: key, value
	SOSuccess       SOEventType = 5  // S→C: key (the requester's change was applied)
	SOSendMessage   SOEventType = 6  // both: handler name, arguments
	SOStatus        SOEventType = 7  // S→C: code, level
	SOClear         SOEventType = 8  // S→C: empty
	SORemove        SOEventType = 9  // S→C: key
	SORequestRemove SOEventType = 10 // C→S: key
	SOUseSuccess    SOEventType = 11 // S→C: empty
)

// String names the event for logs.
func (t SOEventType) String() string {
	switch t {
	case SOUse:
		return "Use"
	case SORelease:
		return "Release"
	case SORequestChange:
		return "RequestChange"
	case SOChange:
		return "Change"
	case SOSuccess:
		return "Success"
	case SOSendMessage:
		return "SendMessage"
	case SOStatus:
		return "Status"
	case SOClear:
		return "Clear"
	case SORemove:
		return "Remove"
	case SORequestRemove:
		return "RequestRemove"
	case SOUseSuccess:
		return "UseSuccess"
	}
	return fmt.Sprintf("SOEvent(%d)", uint8(t))
}

// SharedObject status codes (event 7), as AMS and Red5 name them.
const (
	SOBadPersistence = "SharedObject.BadPersistence"
	SONoWriteAccess  = "SharedObject.NoWriteAccess"
	SONoReadAccess   = "SharedObject.NoReadAccess"
)

// SOFlagPersistent is the header flag of a persistent SharedObject.
const SOFlagPersistent = 2

// SOEvent is one event of a SharedObject message. Which fields are used
// depends on Type:
//
//	RequestChange, Change: Key, Value
//	Success, Remove, RequestRemove: Key
//	SendMessage: Key is the handler name, Args its arguments
//	Status: Key is the code, Value the level (a string)
//	Use, Release, Clear, UseSuccess: nothing
type SOEvent struct {
	Type  SOEventType
	Key   string
	Value any
	Args  []any
}

// SharedObjectMessage is a decoded SharedObject message.
type SharedObjectMessage struct {
	Name       string
	Version    uint32
	Persistent bool
	Events     []SOEvent
}

// Errors of the SharedObject codec.
var (
	// ErrSOTruncated means the body ends inside its header or an event.
	ErrSOTruncated = errors.New("protocol: truncated shared object message")
	// ErrSOEvent means an event type outside 1..11 or event data that does
	// not match its type.
	ErrSOEvent = errors.New("protocol: bad shared object event")
	// ErrSOTooLarge means a name, key or event too long for its length field.
	ErrSOTooLarge = errors.New("protocol: shared object field too long")
)

// soHeaderLen is the fixed part of the header after the name.
const soHeaderLen = 12

// DecodeSharedObject decodes a type 19 or 16 body into m, reusing m.Events.
// Every length is checked against the bytes present, so memory is bounded by
// the message size the transport already limited; AMF values are bounded by
// d's limits. Strings and values are copies: m does not alias payload.
func DecodeSharedObject(d *amf.Decoder, t Type, payload []byte, m *SharedObjectMessage) error {
	if t == TypeSharedObjectAMF3 {
		if len(payload) == 0 {
			return ErrSOTruncated
		}
		payload = payload[1:]
	}
	name, rest, ok := readSOString(payload)
	if !ok || len(rest) < soHeaderLen {
		return ErrSOTruncated
	}
	m.Name = name
	m.Version = binary.BigEndian.Uint32(rest)
	m.Persistent = binary.BigEndian.Uint32(rest[4:])&SOFlagPersistent != 0
	rest = rest[soHeaderLen:]
	clear(m.Events)
	m.Events = m.Events[:0]
	for len(rest) > 0 {
		if len(rest) < 5 {
			return ErrSOTruncated
		}
		typ := SOEventType(rest[0])
		n := binary.BigEndian.Uint32(rest[1:])
		rest = rest[5:]
		if uint64(n) > uint64(len(rest)) {
			return ErrSOTruncated
		}
		ev, err := decodeSOEvent(d, t, typ, rest[:n])
		if err != nil {
			return fmt.Errorf("shared object %q event %d (%v): %w", name, len(m.Events), typ, err)
		}
		m.Events = append(m.Events, ev)
		rest = rest[n:]
	}
	return nil
}

func decodeSOEvent(d *amf.Decoder, t Type, typ SOEventType, data []byte) (SOEvent, error) {
	ev := SOEvent{Type: typ}
	var ok bool
	switch typ {
	case SOUse, SORelease, SOClear, SOUseSuccess:
		// AMS and Red5 send these empty; trailing bytes are ignored.
		return ev, nil
	case SORequestChange, SOChange:
		if ev.Key, data, ok = readSOString(data); !ok {
			return ev, ErrSOTruncated
		}
		d.Reset(data)
		v, err := decodeSOValue(d, t)
		if err != nil {
			return ev, err
		}
		ev.Value = v
		return ev, nil
	case SOSuccess, SORemove, SORequestRemove:
		if ev.Key, _, ok = readSOString(data); !ok {
			return ev, ErrSOTruncated
		}
		return ev, nil
	case SOStatus:
		var level string
		if ev.Key, data, ok = readSOString(data); !ok {
			return ev, ErrSOTruncated
		}
		if level, _, ok = readSOString(data); !ok {
			return ev, ErrSOTruncated
		}
		ev.Value = level
		return ev, nil
	case SOSendMessage:
		d.Reset(data)
		v, err := decodeSOValue(d, t)
		if err != nil {
			return ev, err
		}
		if ev.Key, ok = v.(string); !ok {
			return ev, fmt.Errorf("%w: handler name is %T", ErrSOEvent, v)
		}
		for d.Len() > 0 {
			v, err := decodeSOValue(d, t)
			if err != nil {
				return ev, err
			}
			ev.Args = append(ev.Args, v)
		}
		return ev, nil
	}
	return ev, ErrSOEvent
}

func decodeSOValue(d *amf.Decoder, t Type) (any, error) {
	if t == TypeSharedObjectAMF3 {
		return d.DecodeAMF3()
	}
	return d.DecodeAMF0() // follows 0x11 switches into AMF3
}

// readSOString reads a u16-length string without a type marker.
func readSOString(b []byte) (string, []byte, bool) {
	if len(b) < 2 {
		return "", b, false
	}
	n := int(binary.BigEndian.Uint16(b))
	if len(b)-2 < n {
		return "", b, false
	}
	return string(b[2 : 2+n]), b[2+n:], true
}

// AppendSharedObject appends the body of m as a message of type t (19 or 16)
// to b. On error b is returned as it was.
func AppendSharedObject(b []byte, t Type, m *SharedObjectMessage) ([]byte, error) {
	start := len(b)
	if t == TypeSharedObjectAMF3 {
		b = append(b, 0)
	}
	var err error
	if b, err = appendSOString(b, m.Name); err != nil {
		return b[:start], err
	}
	var flags uint32
	if m.Persistent {
		flags = SOFlagPersistent
	}
	b = binary.BigEndian.AppendUint32(b, m.Version)
	b = binary.BigEndian.AppendUint32(b, flags)
	b = binary.BigEndian.AppendUint32(b, 0)
	for i := range m.Events {
		if b, err = AppendSOEvent(b, t, &m.Events[i]); err != nil {
			return b[:start], fmt.Errorf("shared object %q event %d (%v): %w", m.Name, i, m.Events[i].Type, err)
		}
	}
	return b, nil
}

// AppendSOEvent appends one event, for callers that build a message's event
// list incrementally after the header written by AppendSharedObject. On
// error b is returned as it was.
func AppendSOEvent(b []byte, t Type, ev *SOEvent) ([]byte, error) {
	start := len(b)
	b = append(b, byte(ev.Type), 0, 0, 0, 0)
	body := len(b)
	var err error
	switch ev.Type {
	case SOUse, SORelease, SOClear, SOUseSuccess:
	case SORequestChange, SOChange:
		if b, err = appendSOString(b, ev.Key); err == nil {
			b, err = appendSOValue(b, t, ev.Value)
		}
	case SOSuccess, SORemove, SORequestRemove:
		b, err = appendSOString(b, ev.Key)
	case SOStatus:
		level, _ := ev.Value.(string)
		if b, err = appendSOString(b, ev.Key); err == nil {
			b, err = appendSOString(b, level)
		}
	case SOSendMessage:
		b, err = appendSOValue(b, t, ev.Key)
		for i := 0; err == nil && i < len(ev.Args); i++ {
			b, err = appendSOValue(b, t, ev.Args[i])
		}
	default:
		err = ErrSOEvent
	}
	if err != nil {
		return b[:start], err
	}
	n := len(b) - body
	if uint64(n) > math.MaxUint32 {
		return b[:start], ErrSOTooLarge
	}
	binary.BigEndian.PutUint32(b[body-4:], uint32(n))
	return b, nil
}

func appendSOString(b []byte, s string) ([]byte, error) {
	if len(s) > math.MaxUint16 {
		return b, ErrSOTooLarge
	}
	b = binary.BigEndian.AppendUint16(b, uint16(len(s)))
	return append(b, s...), nil
}

func appendSOValue(b []byte, t Type, v any) ([]byte, error) {
	if t == TypeSharedObjectAMF3 {
		return amf.AppendAMF3(b, v)
	}
	return amf.AppendAMF0(b, v)
}
