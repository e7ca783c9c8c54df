package flvfile

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/protocol"
)

// durationProbe bounds the tags Duration reads at each end looking for
// audio or video: a file starts with metadata and sequence headers and
// may end with a few data tags, never with many.
const durationProbe = 64

// Duration is the media duration of the FLV file r of size bytes in
// milliseconds, first to last audio or video timestamp, as Scan's
// Index.Duration. It reads a few tags at each end, following the last
// tag's previous-tag size backwards, so that listing a folder of long
// recordings costs a handful of reads per file; a file whose end is not a
// complete tag (cut mid-write, corrupt) is scanned whole instead.
func Duration(r io.ReaderAt, size int64) (uint32, error) {
	var h [TagHeaderSize]byte
	if size < HeaderSize {
		return 0, fmt.Errorf("%w: %d bytes", ErrNotFLV, size)
	}
	if _, err := r.ReadAt(h[:9], 0); err != nil {
		return 0, fmt.Errorf("%w: %w", ErrNotFLV, err)
	}
	first, _, _, err := parseHeader(h[:9])
	if err != nil {
		return 0, err
	}
	firstTS, ok := firstMediaTimestamp(r, first, size)
	if !ok {
		return scanDuration(r, size)
	}
	lastTS, ok := lastMediaTimestamp(r, first, size)
	if !ok || lastTS < firstTS {
		return scanDuration(r, size)
	}
	return lastTS - firstTS, nil
}

func scanDuration(r io.ReaderAt, size int64) (uint32, error) {
	ix, err := Scan(r, size)
	if err != nil {
		return 0, err
	}
	return ix.Duration(), nil
}

// firstMediaTimestamp walks forward from the first tag to the first audio
// or video tag.
func firstMediaTimestamp(r io.ReaderAt, off, size int64) (uint32, bool) {
	var buf [TagHeaderSize]byte
	for range durationProbe {
		if off+TagHeaderSize+4 > size {
			return 0, false
		}
		if _, err := r.ReadAt(buf[:], off); err != nil {
			return 0, false
		}
		h, err := parseTagHeader(buf[:])
		if err != nil {
			return 0, false
		}
		if h.typ != protocol.TypeDataAMF0 {
			return h.ts, true
		}
		off += TagHeaderSize + int64(h.size) + 4
	}
	return 0, false
}

// lastMediaTimestamp walks backward from the end of the file by the
// previous-tag sizes to the last audio or video tag. Each step checks
// that the tag found there is well-formed and as long as the size said:
// a file that does not end on a tag boundary fails rather than yielding
// a timestamp read from the middle of some frame.
func lastMediaTimestamp(r io.ReaderAt, first, end int64) (uint32, bool) {
	var buf [TagHeaderSize]byte
	for range durationProbe {
		if end-4 < first {
			return 0, false
		}
		if _, err := r.ReadAt(buf[:4], end-4); err != nil {
			return 0, false
		}
		prev := int64(binary.BigEndian.Uint32(buf[:4]))
		start := end - 4 - prev
		if prev < TagHeaderSize || start < first {
			return 0, false
		}
		if _, err := r.ReadAt(buf[:], start); err != nil {
			return 0, false
		}
		h, err := parseTagHeader(buf[:])
		if err != nil || TagHeaderSize+int64(h.size) != prev {
			return 0, false
		}
		if h.typ != protocol.TypeDataAMF0 {
			return h.ts, true
		}
		end = start
	}
	return 0, false
}
