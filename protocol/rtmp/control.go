package rtmp

import (
	"encoding/binary"
	"fmt"
)

// Protocol control messages (RTMP 1.0 §5.4) travel on chunk stream 2 and
// message stream 0. The functions here encode and decode their payloads
// only; the caller wraps them in a protocol.Message of the matching type.

// Limit types of Set Peer Bandwidth (RTMP 1.0 §5.4.5).
const (
	// LimitHard: the peer should limit its output bandwidth to the window.
	LimitHard uint8 = 0
	// LimitSoft: the peer should limit its output to the window or the
	// limit already in effect, whichever is smaller.
	LimitSoft uint8 = 1
	// LimitDynamic: treat as hard if the previous limit was hard, else
	// ignore. Servers send it after connect.
	LimitDynamic uint8 = 2
)

// AppendSetChunkSize appends a Set Chunk Size payload (type 1, §5.4.1).
// The size must be 1..0x7FFFFFFF.
func AppendSetChunkSize(b []byte, size uint32) []byte {
	return binary.BigEndian.AppendUint32(b, size)
}

// AppendAbort appends an Abort payload (type 2, §5.4.2) naming the chunk
// stream whose partial message the peer should discard.
func AppendAbort(b []byte, csid uint32) []byte {
	return binary.BigEndian.AppendUint32(b, csid)
}

// AppendAck appends an Acknowledgement payload (type 3, §5.4.3): the number
// of bytes received so far, wrapping at 2^32.
func AppendAck(b []byte, seq uint32) []byte {
	return binary.BigEndian.AppendUint32(b, seq)
}

// AppendWindowAckSize appends a Window Acknowledgement Size payload
// (type 5, §5.4.4).
func AppendWindowAckSize(b []byte, size uint32) []byte {
	return binary.BigEndian.AppendUint32(b, size)
}

// AppendSetPeerBandwidth appends a Set Peer Bandwidth payload (type 6,
// §5.4.5): the window size and a limit type (LimitHard, LimitSoft or
// LimitDynamic).
func AppendSetPeerBandwidth(b []byte, size uint32, limit uint8) []byte {
	return append(binary.BigEndian.AppendUint32(b, size), limit)
}

// ParseUint32 decodes the payload of the control messages that carry one
// 32-bit value: Set Chunk Size, Abort, Acknowledgement and Window
// Acknowledgement Size. Bytes after the first four are ignored.
func ParseUint32(p []byte) (uint32, error) {
	if len(p) < 4 {
		return 0, fmt.Errorf("%w: %d bytes, want 4", ErrShortPayload, len(p))
	}
	return binary.BigEndian.Uint32(p), nil
}

// ParseSetPeerBandwidth decodes a Set Peer Bandwidth payload. The limit
// type is returned as sent; values other than 0..2 are the caller's to
// judge.
func ParseSetPeerBandwidth(p []byte) (size uint32, limit uint8, err error) {
	if len(p) < 5 {
		return 0, 0, fmt.Errorf("%w: %d bytes, want 5", ErrShortPayload, len(p))
	}
	return binary.BigEndian.Uint32(p), p[4], nil
}
