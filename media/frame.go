package media

import (
	"bytes"
	"sync"
	"sync/atomic"

	"github.com/nimbus-media/nimbus/protocol"
)

// Frame is one audio, video or data message of a live stream. Frames are
// immutable once built and shared by every subscriber; nobody may modify
// Payload after NewFrame.
type Frame struct {
	Type      protocol.Type // TypeAudio, TypeVideo or TypeDataAMF0
	Timestamp uint32
	Payload   []byte

	Keyframe  bool   // video picture that starts a GOP
	SeqHeader bool   // codec configuration to replay to late joiners
	Metadata  bool   // onMetaData data message
	ConfigKey uint64 // which sequence header this one replaces
	Codec     string

	// Wire encodings shared by every subscriber that needs the same one
	// (RTMP: one per chunk size, chunk stream and message stream ID).
	// Almost every player of a stream uses the same encoding, so the first
	// is read without locking.
	first atomic.Pointer[encoding]
	encMu sync.Mutex
	encs  []*encoding
}

type encoding struct {
	key uint64
	v   [][]byte
}

// Encoded returns the frame's wire encoding for key, building it with
// build the first time any subscriber asks. The result is shared and must
// not be modified; it may alias Payload (RTMP's is the chunk headers
// between slices of it).
func (f *Frame) Encoded(key uint64, build func() [][]byte) [][]byte {
	if e := f.first.Load(); e != nil && e.key == key {
		return e.v
	}
	f.encMu.Lock()
	defer f.encMu.Unlock()
	if e := f.first.Load(); e != nil && e.key == key {
		return e.v
	}
	for _, e := range f.encs {
		if e.key == key {
			return e.v
		}
	}
	e := &encoding{key: key, v: build()}
	if !f.first.CompareAndSwap(nil, e) {
		f.encs = append(f.encs, e)
	}
	return e.v
}

// Size is the frame's payload size, the unit of queue bounds.
func (f *Frame) Size() int { return len(f.Payload) }

// NewFrame classifies a publisher's message. payload is kept, not copied: the
// caller hands over ownership.
func NewFrame(t protocol.Type, ts uint32, payload []byte) *Frame {
	f := &Frame{Type: t, Timestamp: ts, Payload: payload}
	switch t {
	case protocol.TypeVideo:
		vi := ParseVideo(payload)
		f.Keyframe, f.SeqHeader, f.ConfigKey, f.Codec = vi.Keyframe, vi.SeqHeader, vi.ConfigKey, vi.Codec
	case protocol.TypeAudio:
		ai := ParseAudio(payload)
		f.SeqHeader, f.ConfigKey, f.Codec = ai.SeqHeader, ai.ConfigKey, ai.Codec
	}
	return f
}

// AMF0 encodings of the data-frame handler names the server rewrites.
var (
	amfSetDataFrame   = []byte("\x02\x00\x0d@setDataFrame")
	amfClearDataFrame = []byte("\x02\x00\x0f@clearDataFrame")
	amfOnMetaData     = []byte("\x02\x00\x0aonMetaData")
)

// DataKind tells what a publisher's data message asks for.
type DataKind int

// Data message kinds.
const (
	DataRelay      DataKind = iota // relay to subscribers as is
	DataSetFrame                   // @setDataFrame: keep (metadata) and relay without the prefix
	DataClearFrame                 // @clearDataFrame: forget kept metadata
)

// ClassifyData inspects an AMF0 data payload (type 18, or 15 without its
// format byte) and, for @setDataFrame, returns the payload without the
// prefix — what subscribers receive ("onMetaData", {...}).
func ClassifyData(p []byte) (DataKind, []byte) {
	switch {
	case bytes.HasPrefix(p, amfSetDataFrame):
		return DataSetFrame, p[len(amfSetDataFrame):]
	case bytes.HasPrefix(p, amfClearDataFrame):
		return DataClearFrame, nil
	}
	return DataRelay, p
}

// IsMetaData reports whether a data payload is an onMetaData message.
func IsMetaData(p []byte) bool { return bytes.HasPrefix(p, amfOnMetaData) }
