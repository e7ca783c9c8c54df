// Package protocol is the transport-neutral message model shared by the RTMP
// and RTMFP transports and the NetConnection/NetStream core.
//
// Both transports carry the same messages: RTMP frames them as chunk-stream
// messages (RTMP 1.0 §5), RTMFP carries them as "TC messages" on flows whose
// metadata names the NetStream they belong to (RFC 7425 §5.1). The message
// type numbers are shared, which is why one model serves both.
package protocol

// Type is an RTMP/RTMFP message type (RTMP 1.0 §5.4, §7.1).
type Type uint8

// Message types. 7 is used only between AMS edge and origin and is not handled.
const (
	TypeSetChunkSize     Type = 1
	TypeAbort            Type = 2
	TypeAck              Type = 3
	TypeUserControl      Type = 4
	TypeWindowAckSize    Type = 5
	TypeSetPeerBandwidth Type = 6
	TypeAudio            Type = 8
	TypeVideo            Type = 9
	TypeDataAMF3         Type = 15
	TypeSharedObjectAMF3 Type = 16
	TypeCommandAMF3      Type = 17
	TypeDataAMF0         Type = 18
	TypeSharedObjectAMF0 Type = 19
	TypeCommandAMF0      Type = 20
	TypeAggregate        Type = 22
)

// String names the type for logs.
func (t Type) String() string {
	switch t {
	case TypeSetChunkSize:
		return "SetChunkSize"
	case TypeAbort:
		return "Abort"
	case TypeAck:
		return "Ack"
	case TypeUserControl:
		return "UserControl"
	case TypeWindowAckSize:
		return "WindowAckSize"
	case TypeSetPeerBandwidth:
		return "SetPeerBandwidth"
	case TypeAudio:
		return "Audio"
	case TypeVideo:
		return "Video"
	case TypeDataAMF3:
		return "DataAMF3"
	case TypeSharedObjectAMF3:
		return "SharedObjectAMF3"
	case TypeCommandAMF3:
		return "CommandAMF3"
	case TypeDataAMF0:
		return "DataAMF0"
	case TypeSharedObjectAMF0:
		return "SharedObjectAMF0"
	case TypeCommandAMF0:
		return "CommandAMF0"
	case TypeAggregate:
		return "Aggregate"
	}
	return "Unknown"
}

// IsControl reports whether t is a protocol control message (types 1-6),
// which RTMP sends on chunk stream 2 and message stream 0.
func (t Type) IsControl() bool { return t >= TypeSetChunkSize && t <= TypeSetPeerBandwidth }

// Message is one complete message. Payload is the message body exactly as on
// the wire (for type 17 and 15 it includes the leading format byte).
//
// Who owns Payload is stated by whoever hands a Message over: readers return
// payloads that alias their buffers until the next read.
type Message struct {
	Type      Type
	StreamID  uint32 // message stream ID; 0 for the NetConnection
	Timestamp uint32 // absolute, milliseconds, wraps at 2^32
	Payload   []byte
}
