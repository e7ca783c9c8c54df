package flvfile

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/protocol"
)

// Sizes of the FLV structures.
const (
	// HeaderSize is the file header with PreviousTagSize0.
	HeaderSize = 9 + 4
	// TagHeaderSize is a tag's header; each tag's data is followed by
	// its 4-byte previous-tag size.
	TagHeaderSize = 11
	// MaxTagData is the largest tag data the 24-bit size field allows.
	MaxTagData = 1<<24 - 1
)

// Errors of the reader.
var (
	// ErrNotFLV: the file does not start with an FLV header.
	ErrNotFLV = errors.New("flvfile: not an FLV file")
	// ErrNoMedia: the file has an FLV header but no complete audio or
	// video tag.
	ErrNoMedia = errors.New("flvfile: no audio or video in the file")
	// ErrCorrupt: a tag is not where the index said, or is malformed.
	ErrCorrupt = errors.New("flvfile: corrupt tag")
)

// Tag is one FLV tag: an audio (8), video (9) or script data (18) message
// with its timestamp in milliseconds.
type Tag struct {
	Type      protocol.Type
	Timestamp uint32
	Data      []byte
}

// parseHeader checks the 9-byte file header and returns where the first
// tag starts and the header's audio and video flags.
func parseHeader(h []byte) (first int64, hasAudio, hasVideo bool, err error) {
	if len(h) < 9 || h[0] != 'F' || h[1] != 'L' || h[2] != 'V' || h[3] != 1 {
		return 0, false, false, ErrNotFLV
	}
	off := int64(binary.BigEndian.Uint32(h[5:9]))
	if off < 9 || off > 1<<16 {
		return 0, false, false, fmt.Errorf("%w: header size %d", ErrNotFLV, off)
	}
	return off + 4, h[4]&4 != 0, h[4]&1 != 0, nil
}

// tagHeader is a parsed 11-byte tag header.
type tagHeader struct {
	typ  protocol.Type
	size int
	ts   uint32
}

// parseTagHeader parses h, which holds at least TagHeaderSize bytes. A tag
// type other than audio, video or script data, the filter (encryption)
// bit or a non-zero stream ID is corrupt: real files have none, and a
// reader that skipped them would be guessing where the next tag starts.
func parseTagHeader(h []byte) (tagHeader, error) {
	if h[0]&0xe0 != 0 {
		return tagHeader{}, fmt.Errorf("%w: reserved or filter bits 0x%02x", ErrCorrupt, h[0])
	}
	t := protocol.Type(h[0] & 0x1f)
	if t != protocol.TypeAudio && t != protocol.TypeVideo && t != protocol.TypeDataAMF0 {
		return tagHeader{}, fmt.Errorf("%w: tag type %d", ErrCorrupt, t)
	}
	if h[8] != 0 || h[9] != 0 || h[10] != 0 {
		return tagHeader{}, fmt.Errorf("%w: stream ID not zero", ErrCorrupt)
	}
	return tagHeader{
		typ:  t,
		size: int(h[1])<<16 | int(h[2])<<8 | int(h[3]),
		ts:   uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24,
	}, nil
}

// Cursor reads a file's tags in order from an offset an Index gave (a
// keyframe, a sequence header, the first tag) up to the index's End. It
// reads each tag together with the header of the next in one positioned
// read, so that playing a file costs one system call per tag; a Cursor
// holds nothing else, and many Cursors may share one io.ReaderAt.
type Cursor struct {
	r        io.ReaderAt
	off, end int64
	next     [TagHeaderSize]byte
	haveNext bool // next holds the header at off
}

// NewCursor reads r's tags from off up to end.
func NewCursor(r io.ReaderAt, off, end int64) *Cursor {
	return &Cursor{r: r, off: off, end: end}
}

// Offset is where the next tag starts.
func (c *Cursor) Offset() int64 { return c.off }

// Reposition moves the cursor to off, a tag's start.
func (c *Cursor) Reposition(off int64) { c.off, c.haveNext = off, false }

// Next returns the next tag; io.EOF at End. The tag's data is a new slice
// the caller keeps: a player hands it to its connection, which sends it
// later.
func (c *Cursor) Next() (Tag, error) {
	if c.off+TagHeaderSize+4 > c.end {
		return Tag{}, io.EOF
	}
	if !c.haveNext {
		if _, err := c.r.ReadAt(c.next[:], c.off); err != nil {
			return Tag{}, fmt.Errorf("flvfile: tag header at %d: %w", c.off, err)
		}
	}
	c.haveNext = false
	h, err := parseTagHeader(c.next[:])
	if err != nil {
		return Tag{}, fmt.Errorf("at %d: %w", c.off, err)
	}
	start := c.off + TagHeaderSize
	after := start + int64(h.size) + 4
	if after > c.end {
		return Tag{}, fmt.Errorf("%w: tag at %d ends past %d", ErrCorrupt, c.off, c.end)
	}
	n := int64(h.size) + 4
	if after+TagHeaderSize <= c.end {
		n += TagHeaderSize
	}
	buf := make([]byte, n)
	if _, err := c.r.ReadAt(buf, start); err != nil {
		return Tag{}, fmt.Errorf("flvfile: tag data at %d: %w", start, err)
	}
	if n > int64(h.size)+4 {
		copy(c.next[:], buf[h.size+4:])
		c.haveNext = true
	}
	c.off = after
	return Tag{Type: h.typ, Timestamp: h.ts, Data: buf[:h.size:h.size]}, nil
}
