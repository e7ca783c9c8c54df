package flvfile

import (
	"encoding/binary"
	"fmt"
	"io"
	"math"
	"sort"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// Writer writes FLV tags to a file, each with its trailing size in one
// write, so that the file is valid up to the last whole write.
type Writer struct {
	w   io.Writer
	buf []byte
	off int64
	// DurationAt is the file offset of the first onMetaData's duration
	// number, for PatchDuration; -1 until WriteMeta has written one.
	DurationAt int64
}

// NewWriter writes an FLV header to w, the start of a new file.
func NewWriter(w io.Writer, hasAudio, hasVideo bool) (*Writer, error) {
	if _, err := w.Write(media.AppendFLVHeader(nil, hasAudio, hasVideo)); err != nil {
		return nil, fmt.Errorf("flvfile: write header: %w", err)
	}
	return &Writer{w: w, off: HeaderSize, DurationAt: -1}, nil
}

// AppendWriter continues a file whose indexed tags end at end (Index.End):
// w must write from end on (the caller truncates whatever follows it, a
// tag cut short). durationAt is Index.MetaDurationAt.
func AppendWriter(w io.Writer, end, durationAt int64) *Writer {
	return &Writer{w: w, off: end, DurationAt: durationAt}
}

// Offset is the file size once what was written is flushed.
func (fw *Writer) Offset() int64 { return fw.off }

// WriteTag writes one tag.
func (fw *Writer) WriteTag(t Tag) error {
	if len(t.Data) > MaxTagData {
		return fmt.Errorf("flvfile: tag of %d bytes is too large", len(t.Data))
	}
	b := media.AppendFLVTagHeader(fw.buf[:0], t.Type, t.Timestamp, len(t.Data))
	b = append(b, t.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(TagHeaderSize+len(t.Data)))
	fw.buf = b
	if _, err := fw.w.Write(b); err != nil {
		return fmt.Errorf("flvfile: write tag at %d: %w", fw.off, err)
	}
	fw.off += int64(len(b))
	return nil
}

// WriteMeta writes an onMetaData payload (WithDuration makes one) as a
// script data tag. The first one with a duration written to the file is
// the one PatchDuration fills in at the end.
func (fw *Writer) WriteMeta(ts uint32, meta []byte) error {
	at := fw.off + TagHeaderSize + int64(DurationOffset(meta))
	if err := fw.WriteTag(Tag{Type: protocol.TypeDataAMF0, Timestamp: ts, Data: meta}); err != nil {
		return err
	}
	if fw.DurationAt < 0 && DurationOffset(meta) >= 0 {
		fw.DurationAt = at
	}
	return nil
}

// PatchDuration writes seconds into the duration number at at (Writer's
// DurationAt, or Index.MetaDurationAt), once the recording is complete.
func PatchDuration(w io.WriterAt, at int64, seconds float64) error {
	if at < 0 {
		return nil
	}
	var b [8]byte
	binary.BigEndian.PutUint64(b[:], math.Float64bits(seconds))
	if _, err := w.WriteAt(b[:], at); err != nil {
		return fmt.Errorf("flvfile: patch duration at %d: %w", at, err)
	}
	return nil
}

// SeekPoint returns the seek point at or before ms, or the first one when
// ms precedes them all; ok is false for an index without seek points.
func (ix *Index) SeekPoint(ms uint32) (p SeekPoint, ok bool) {
	if len(ix.SeekPoints) == 0 {
		return SeekPoint{}, false
	}
	i := sort.Search(len(ix.SeekPoints), func(i int) bool { return ix.SeekPoints[i].Timestamp > ms })
	if i == 0 {
		return ix.SeekPoints[0], true
	}
	return ix.SeekPoints[i-1], true
}

// SeqHeadersBefore returns the latest video and audio sequence headers
// that precede off in the file: what a decoder starting at off needs.
func (ix *Index) SeqHeadersBefore(off int64) []TagRef {
	var video, audio *TagRef
	for i := range ix.SeqHeaders {
		h := &ix.SeqHeaders[i]
		if h.Offset >= off {
			break
		}
		if h.Type == protocol.TypeVideo {
			video = h
		} else {
			audio = h
		}
	}
	var out []TagRef
	for _, h := range []*TagRef{video, audio} {
		if h != nil {
			out = append(out, *h)
		}
	}
	return out
}
