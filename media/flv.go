package media

import (
	"bufio"
	"encoding/binary"
	"errors"
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/protocol"
)

// FLV file format (FLV/F4V spec 10.1, Annex E): a 9-byte header, then tags
// each followed by the size of the tag before it.

// ErrNotFLV is returned for input that does not start with an FLV header.
var ErrNotFLV = errors.New("media: not an FLV file")

// FLVTag is one FLV tag: an audio (8), video (9) or script data (18)
// message with its timestamp.
type FLVTag struct {
	Type      protocol.Type
	Timestamp uint32
	Data      []byte
}

// FLVReader reads tags from an FLV file. Data returned by ReadTag is valid
// until the next call.
type FLVReader struct {
	r   *bufio.Reader
	hdr [15]byte
	buf []byte
	// HasAudio and HasVideo are the header's flags.
	HasAudio, HasVideo bool
}

// NewFLVReader reads and checks the FLV header.
func NewFLVReader(r io.Reader) (*FLVReader, error) {
	fr := &FLVReader{r: bufio.NewReaderSize(r, 64<<10)}
	h := fr.hdr[:9]
	if _, err := io.ReadFull(fr.r, h); err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFLV, err)
	}
	if h[0] != 'F' || h[1] != 'L' || h[2] != 'V' || h[3] != 1 {
		return nil, ErrNotFLV
	}
	fr.HasAudio, fr.HasVideo = h[4]&4 != 0, h[4]&1 != 0
	skip := int(binary.BigEndian.Uint32(h[5:9])) - 9
	if skip < 0 || skip > 1<<16 {
		return nil, fmt.Errorf("%w: header size %d", ErrNotFLV, skip+9)
	}
	if _, err := fr.r.Discard(skip + 4); err != nil { // + PreviousTagSize0
		return nil, fmt.Errorf("%w: %w", ErrNotFLV, err)
	}
	return fr, nil
}

// ReadTag returns the next tag; io.EOF at a clean end of file.
func (fr *FLVReader) ReadTag() (FLVTag, error) {
	h := fr.hdr[:11]
	if _, err := io.ReadFull(fr.r, h); err != nil {
		if errors.Is(err, io.ErrUnexpectedEOF) {
			return FLVTag{}, fmt.Errorf("media: truncated FLV tag header: %w", err)
		}
		return FLVTag{}, err
	}
	if h[0]&0x20 != 0 {
		return FLVTag{}, errors.New("media: encrypted FLV tags are not supported")
	}
	size := int(h[1])<<16 | int(h[2])<<8 | int(h[3])
	ts := uint32(h[4])<<16 | uint32(h[5])<<8 | uint32(h[6]) | uint32(h[7])<<24
	if cap(fr.buf) < size {
		fr.buf = make([]byte, size)
	}
	data := fr.buf[:size]
	if _, err := io.ReadFull(fr.r, data); err != nil {
		return FLVTag{}, fmt.Errorf("media: truncated FLV tag: %w", err)
	}
	if _, err := fr.r.Discard(4); err != nil && !errors.Is(err, io.EOF) {
		return FLVTag{}, err
	}
	return FLVTag{Type: protocol.Type(h[0] & 0x1f), Timestamp: ts, Data: data}, nil
}

// AppendFLVHeader appends an FLV file header flagged for the media the
// file has, and the zero previous-tag size that follows it: the 13 bytes
// before the first tag.
func AppendFLVHeader(b []byte, hasAudio, hasVideo bool) []byte {
	var flags byte
	if hasAudio {
		flags |= 4
	}
	if hasVideo {
		flags |= 1
	}
	return append(b, 'F', 'L', 'V', 1, flags, 0, 0, 0, 9, 0, 0, 0, 0)
}

// AppendFLVTagHeader appends the 11-byte header of a tag of size bytes.
func AppendFLVTagHeader(b []byte, t protocol.Type, ts uint32, size int) []byte {
	return append(b, byte(t), byte(size>>16), byte(size>>8), byte(size),
		byte(ts>>16), byte(ts>>8), byte(ts), byte(ts>>24), 0, 0, 0)
}

// FLVWriter writes an FLV file.
type FLVWriter struct {
	w   io.Writer
	buf []byte
}

// NewFLVWriter writes the FLV header and returns a writer for the tags.
func NewFLVWriter(w io.Writer, hasAudio, hasVideo bool) (*FLVWriter, error) {
	if _, err := w.Write(AppendFLVHeader(nil, hasAudio, hasVideo)); err != nil {
		return nil, err
	}
	return &FLVWriter{w: w}, nil
}

// WriteTag writes one tag and its trailing size field in one write.
func (fw *FLVWriter) WriteTag(t FLVTag) error {
	if len(t.Data) > 0xFFFFFF {
		return fmt.Errorf("media: FLV tag of %d bytes is too large", len(t.Data))
	}
	n := len(t.Data)
	b := AppendFLVTagHeader(fw.buf[:0], t.Type, t.Timestamp, n)
	b = append(b, t.Data...)
	b = binary.BigEndian.AppendUint32(b, uint32(11+n))
	fw.buf = b
	_, err := fw.w.Write(b)
	return err
}
