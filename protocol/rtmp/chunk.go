package rtmp

import (
	"encoding/binary"
	"iter"
)

// Chunk stream constants (RTMP 1.0 §5.3, errata §4 and §7).
const (
	// DefaultChunkSize is the chunk size both directions start with
	// (RTMP 1.0 §5.4.1).
	DefaultChunkSize = 128

	// MaxMessageLength is the largest message the 24-bit length field of a
	// chunk header can describe (errata §7).
	MaxMessageLength = 0xFFFFFF

	// MinChunkStreamID and MaxChunkStreamID bound the chunk stream IDs the
	// basic header can encode; 2 is reserved for protocol control messages.
	MinChunkStreamID = 2
	MaxChunkStreamID = 65599

	// ControlChunkStreamID carries protocol control and user control
	// messages (RTMP 1.0 §5.4).
	ControlChunkStreamID = 2

	// maxEffectiveChunkSize is where a larger chunk size stops making a
	// difference: no message is longer.
	maxEffectiveChunkSize = MaxMessageLength

	// extendedTimestamp in a 24-bit timestamp field means the real value
	// follows in a 4-byte extended timestamp field (RTMP 1.0 §5.3.1.3).
	extendedTimestamp = 0xFFFFFF

	// Basic header chunk stream ID markers for the 2- and 3-byte forms.
	basicHeader2 = 0
	basicHeader3 = 1

	// maxChunkHeaderSize is a 3-byte basic header, a type 0 message header
	// and an extended timestamp.
	maxChunkHeaderSize = 3 + 11 + 4
)

// Chunk header formats (the fmt field of the basic header).
const (
	fmtFull      = 0 // 11-byte header: timestamp, length, type, stream ID
	fmtSameID    = 1 // 7 bytes: timestamp delta, length, type
	fmtDelta     = 2 // 3 bytes: timestamp delta
	fmtContinued = 3 // no message header
)

// messageHeaderSize is the size of each format's message header, not
// counting the extended timestamp.
var messageHeaderSize = [4]int{11, 7, 3, 0}

// basicHeaderSize returns the size of the basic header for csid.
func basicHeaderSize(csid uint32) int {
	switch {
	case csid < 64:
		return 1
	case csid < 64+256:
		return 2
	}
	return 3
}

// appendBasicHeader appends the 1-, 2- or 3-byte basic header; the 3-byte
// form stores the ID less 64 in little-endian order (errata §4.1).
func appendBasicHeader(b []byte, format uint8, csid uint32) []byte {
	switch {
	case csid < 64:
		return append(b, format<<6|byte(csid))
	case csid < 64+256:
		return append(b, format<<6|basicHeader2, byte(csid-64))
	}
	return binary.LittleEndian.AppendUint16(append(b, format<<6|basicHeader3), uint16(csid-64))
}

func appendUint24(b []byte, v uint32) []byte {
	return append(b, byte(v>>16), byte(v>>8), byte(v))
}

func uint24(b []byte) uint32 {
	return uint32(b[0])<<16 | uint32(b[1])<<8 | uint32(b[2])
}

// lowChunkStreams is how many chunk stream IDs get a direct table slot:
// the low ones that Flash, ffmpeg, OBS and the server itself use for a
// connection's control, commands and first streams. Higher IDs go to the
// map; a larger table would cost every Reader and Writer of a server's
// thousands of players more than the lookups it saves.
const lowChunkStreams = 16

// chunkStreams holds per-chunk-stream state for a reader or a writer: a
// table for the IDs of the 1-byte basic header, a map for the rest, so that
// the common lookup is an index rather than a hash.
type chunkStreams[T any] struct {
	low  [lowChunkStreams]*T
	high map[uint32]*T
	n    int
}

func (s *chunkStreams[T]) get(csid uint32) *T {
	if csid < lowChunkStreams {
		return s.low[csid]
	}
	return s.high[csid]
}

// add creates state for a chunk stream that has none.
func (s *chunkStreams[T]) add(csid uint32) *T {
	v := new(T)
	if csid < lowChunkStreams {
		s.low[csid] = v
	} else {
		if s.high == nil {
			s.high = make(map[uint32]*T)
		}
		s.high[csid] = v
	}
	s.n++
	return v
}

// all yields the state of every chunk stream.
func (s *chunkStreams[T]) all() iter.Seq[*T] {
	return func(yield func(*T) bool) {
		for _, v := range s.low {
			if v != nil && !yield(v) {
				return
			}
		}
		for _, v := range s.high {
			if !yield(v) {
				return
			}
		}
	}
}
