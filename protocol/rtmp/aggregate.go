package rtmp

import (
	"fmt"

	"github.com/nimbus-media/nimbus/protocol"
)

const (
	// aggregateHeaderSize is the FLV-tag-shaped header of a sub-message:
	// type (1), data size (3), timestamp (3), timestamp extension (1) and
	// stream ID (3) (RTMP 1.0 §7.1.6; FLV spec, FLV tags).
	aggregateHeaderSize = 11
	// backPointerSize is the size of the previous-tag-size field that
	// follows each sub-message.
	backPointerSize = 4
)

// SplitAggregate calls fn for each sub-message of an aggregate message
// (type 22; ams-behaviour.md §4.6) and stops at the first error fn returns,
// which it returns unchanged.
//
// A sub-message is delivered on the aggregate's message stream (its own
// stream ID field is ignored) with timestamp m.Timestamp + (its timestamp −
// the first sub-message's timestamp), as nginx-rtmp and Red5 compute it;
// the arithmetic wraps, so a sub-message slightly earlier than the first
// one lands slightly before m.Timestamp. Its payload aliases m.Payload,
// capped so that appending to it cannot overwrite the next sub-message.
//
// Framing relies on the data size fields alone. The back-pointer after
// each sub-message is skipped without being compared with the size: muxers
// disagree on whether it counts the 11-byte header, and its value adds
// nothing the sizes do not already say. The back-pointer after the last
// sub-message may be missing. A sub-message type of 0 ends the aggregate,
// as does the end of the payload. A sub-message that runs past the end of
// the payload, a back-pointer cut short, or a nested aggregate fails with
// ErrInvalidAggregate after the sub-messages before it were delivered.
func SplitAggregate(m protocol.Message, fn func(protocol.Message) error) error {
	p := m.Payload
	var base uint32
	for first := true; len(p) > 0 && p[0] != 0; first = false {
		if len(p) < aggregateHeaderSize {
			return fmt.Errorf("%w: %d-byte sub-message header", ErrInvalidAggregate, len(p))
		}
		typ := protocol.Type(p[0])
		if typ == protocol.TypeAggregate {
			return fmt.Errorf("%w: nested aggregate", ErrInvalidAggregate)
		}
		size := int(uint24(p[1:]))
		ts := uint24(p[4:]) | uint32(p[7])<<24
		end := aggregateHeaderSize + size
		if len(p) < end {
			return fmt.Errorf("%w: sub-message of %d bytes with %d left", ErrInvalidAggregate, size, len(p)-aggregateHeaderSize)
		}
		switch rest := len(p) - end; {
		case rest >= backPointerSize:
			end += backPointerSize
		case rest > 0:
			return fmt.Errorf("%w: %d-byte back-pointer", ErrInvalidAggregate, rest)
		}
		if first {
			base = ts
		}
		sub := protocol.Message{
			Type:      typ,
			StreamID:  m.StreamID,
			Timestamp: m.Timestamp + (ts - base),
			Payload:   p[aggregateHeaderSize : aggregateHeaderSize+size : aggregateHeaderSize+size],
		}
		if err := fn(sub); err != nil {
			return err
		}
		p = p[end:]
	}
	return nil
}
