package tc

import (
	"bytes"
	"errors"
	"fmt"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Kind is what a flow's metadata says it carries.
type Kind int

// Flow kinds a server meets (reference/rtmfp-flash-profile.md §3.1).
const (
	KindOther        Kind = iota
	KindTC                // 'T' 'C': NetConnection (stream 0) or NetStream traffic
	KindGroupControl      // 'G' 'C': NetGroup bootstrap with the server
)

// Metadata flags of a TC flow.
const (
	flagStreamID  = 0x04 // the stream ID follows (always set)
	flagUnordered = 0x01 // the receiver may deliver out of order
)

// Metadata is a TC flow's metadata.
type Metadata struct {
	StreamID  uint32
	Unordered bool
}

// ErrMetadata is returned for malformed TC metadata.
var ErrMetadata = errors.New("tc: malformed flow metadata")

// AppendMetadata appends TC flow metadata: "TC", flags, VLU stream ID.
func AppendMetadata(b []byte, m Metadata) []byte {
	flags := byte(flagStreamID)
	if m.Unordered {
		flags |= flagUnordered
	}
	b = append(b, 'T', 'C', flags)
	return wire.AppendVLU(b, uint64(m.StreamID))
}

// GroupControlMetadata is the metadata of a NetGroup bootstrap flow.
var GroupControlMetadata = []byte("GC")

// ParseMetadata tells what a flow's metadata describes and, for TC flows,
// decodes it. Flows without the stream-ID flag are refused, as rtmfp-cpp
// refuses them.
func ParseMetadata(b []byte) (Kind, Metadata, error) {
	switch {
	case bytes.HasPrefix(b, []byte("TC")):
	case bytes.HasPrefix(b, GroupControlMetadata):
		return KindGroupControl, Metadata{}, nil
	default:
		return KindOther, Metadata{}, nil
	}
	if len(b) < 4 || b[2]&flagStreamID == 0 {
		return KindTC, Metadata{}, fmt.Errorf("%w: % x", ErrMetadata, b)
	}
	id, _, err := wire.ParseVLU(b[3:])
	if err != nil || id > 0xFFFFFFFF {
		return KindTC, Metadata{}, fmt.Errorf("%w: stream ID: % x", ErrMetadata, b)
	}
	return KindTC, Metadata{StreamID: uint32(id), Unordered: b[2]&flagUnordered != 0}, nil
}
