package flvfile

import (
	"errors"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// SeekPoint is a place playback may start: a video keyframe, or in a file
// without video an audio tag (every audioSeekGap).
type SeekPoint struct {
	Timestamp uint32
	Offset    int64
}

// TagRef locates one tag of the file.
type TagRef struct {
	Type      protocol.Type
	Timestamp uint32
	Offset    int64
}

// Index is what Scan learned about a file: enough to start playing at
// any time and to know the duration, without the tags themselves.
type Index struct {
	// HasAudio and HasVideo tell which media the tags carry (the file
	// header's flags are often wrong).
	HasAudio, HasVideo bool
	// First is the offset of the first tag; End the offset just past the
	// last complete, well-formed tag. Playback reads [First, End).
	First, End int64
	// Truncated is set when the file goes on past End: cut mid-tag, or a
	// malformed tag, after which nothing is trusted.
	Truncated bool
	// FirstTimestamp and LastTimestamp are the smallest and largest audio
	// or video timestamps (ms).
	FirstTimestamp, LastTimestamp uint32
	// SeekPoints are the video keyframes in file order, or audio tags
	// when the file has no video.
	SeekPoints []SeekPoint
	// SeqHeaders are the codec sequence headers in file order: a player
	// starting mid-file sends the latest of each kind before its start.
	SeqHeaders []TagRef
	// Meta is an onMetaData data payload ("onMetaData", {...}) for
	// players: the file's first onMetaData with its duration replaced by
	// the indexed one, or one with only the duration when the file has
	// none.
	Meta []byte
	// MetaDurationAt is the file offset of the first onMetaData's
	// duration number (8 bytes, big-endian float64), -1 when it has none.
	// A recorder that appends patches it.
	MetaDurationAt int64
	// Tags counts the indexed tags.
	Tags int
}

// Duration is the media's length in milliseconds, first to last timestamp.
func (ix *Index) Duration() uint32 { return ix.LastTimestamp - ix.FirstTimestamp }

// audioSeekGap spaces the seek points of a file without video: about
// twenty a second, as an audio-only file can start on any frame.
const audioSeekGap = 50

// maxMetaSize bounds the onMetaData tag Scan decodes: real ones are a few
// hundred bytes (a keyframe table may make it tens of kilobytes).
const maxMetaSize = 1 << 20

// peekSize is how much of each tag's data Scan reads: enough for
// media.ParseVideo and ParseAudio to find keyframes and sequence headers
// in legacy and Enhanced RTMP headers, multitrack included.
const peekSize = 16

// Scan indexes the FLV file r of size bytes, reading each tag's header and
// first bytes. A file cut short or corrupt after some tags is indexed up to
// its last good tag (Truncated); one with no audio or video before that
// fails with ErrNoMedia, one without an FLV header with ErrNotFLV.
func Scan(r io.ReaderAt, size int64) (*Index, error) {
	var buf [TagHeaderSize + peekSize]byte
	if size < HeaderSize {
		return nil, fmt.Errorf("%w: %d bytes", ErrNotFLV, size)
	}
	if _, err := r.ReadAt(buf[:9], 0); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFLV, err)
	}
	first, _, _, err := parseHeader(buf[:9])
	if err != nil {
		return nil, err
	}
	ix := &Index{First: first, End: first, MetaDurationAt: -1}
	var audioPoints []SeekPoint
	var metaAt int64 = -1
	var metaSize int
	seen := false
	for off := first; off < size; {
		if off+TagHeaderSize+4 > size {
			ix.Truncated = true
			break
		}
		n := min(int64(len(buf)), size-off)
		if _, err := r.ReadAt(buf[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return nil, fmt.Errorf("flvfile: read at %d: %w", off, err)
		}
		h, err := parseTagHeader(buf[:])
		next := off + TagHeaderSize + int64(h.size) + 4
		if err != nil || next > size {
			ix.Truncated = true
			break
		}
		data := buf[TagHeaderSize:min(n, TagHeaderSize+int64(h.size))]
		switch h.typ {
		case protocol.TypeVideo:
			vi := media.ParseVideo(data)
			ix.HasVideo = true
			switch {
			case vi.SeqHeader:
				ix.SeqHeaders = append(ix.SeqHeaders, TagRef{Type: h.typ, Timestamp: h.ts, Offset: off})
			case vi.Keyframe:
				ix.SeekPoints = append(ix.SeekPoints, SeekPoint{Timestamp: h.ts, Offset: off})
			}
		case protocol.TypeAudio:
			ix.HasAudio = true
			if media.ParseAudio(data).SeqHeader {
				ix.SeqHeaders = append(ix.SeqHeaders, TagRef{Type: h.typ, Timestamp: h.ts, Offset: off})
			} else if len(audioPoints) == 0 || h.ts >= audioPoints[len(audioPoints)-1].Timestamp+audioSeekGap {
				audioPoints = append(audioPoints, SeekPoint{Timestamp: h.ts, Offset: off})
			}
		case protocol.TypeDataAMF0:
			if metaAt < 0 && isMetaData(data) {
				metaAt, metaSize = off, h.size
			}
		}
		if h.typ != protocol.TypeDataAMF0 {
			if !seen || h.ts < ix.FirstTimestamp {
				ix.FirstTimestamp = h.ts
			}
			if !seen || h.ts > ix.LastTimestamp {
				ix.LastTimestamp = h.ts
			}
			seen = true
		}
		ix.Tags++
		off = next
		ix.End = off
	}
	if !seen {
		return nil, ErrNoMedia
	}
	if !ix.HasVideo {
		ix.SeekPoints = audioPoints
	}
	if err := ix.readMeta(r, metaAt, metaSize); err != nil {
		return nil, err
	}
	return ix, nil
}
