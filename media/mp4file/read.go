package mp4file

import (
	"fmt"
	"io"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
)

// FLV tag body headers (FLV spec 10.1 E.4.2.1, E.4.3.1; Enhanced RTMP v2
// "Enhanced Video"): AVC keeps the legacy header (codec 7) every client
// knows; HEVC goes as the Enhanced RTMP FourCC hvc1, which ffmpeg 6.1+,
// OBS and Flash-era-free players read. AAC is SoundFormat 10, with the
// fixed 44 kHz/16-bit/stereo flags the spec asks for AAC.
const (
	aacHeader       = 0xaf
	avcKeyframe     = 0x17
	avcInterframe   = 0x27
	exHeader        = 0x80
	exKeyframe      = 1 << 4
	exInterframe    = 2 << 4
	exSequenceStart = 0
	exCodedFrames   = 1
)

var fourCCHEVC = [4]byte{'h', 'v', 'c', '1'}

// videoHeaderSize is the bytes before a video sample's data in its tag.
func videoHeaderSize(c Codec) int {
	if c == HEVC {
		return 8 // ExHeader byte, FourCC, SI24 composition time
	}
	return 5 // frame type and codec, AVCPacketType, SI24 composition time
}

// putVideoHeader writes a coded frame's tag header into b.
func putVideoHeader(b []byte, c Codec, key bool, cto int32) {
	if c == HEVC {
		b[0] = exHeader | exInterframe | exCodedFrames
		if key {
			b[0] = exHeader | exKeyframe | exCodedFrames
		}
		copy(b[1:5], fourCCHEVC[:])
		b = b[5:]
	} else {
		b[0], b[1] = avcInterframe, 1
		if key {
			b[0] = avcKeyframe
		}
		b = b[2:]
	}
	b[0], b[1], b[2] = byte(cto>>16), byte(cto>>8), byte(cto)
}

// SeqHeaders returns the sequence header tags a decoder needs, video
// first, at timestamp ts.
func (ix *Index) SeqHeaders(ts uint32) []flvfile.Tag {
	var out []flvfile.Tag
	if v := ix.Video; v != nil {
		var b []byte
		if v.Codec == HEVC {
			b = append([]byte{exHeader | exKeyframe | exSequenceStart}, fourCCHEVC[:]...)
		} else {
			b = []byte{avcKeyframe, 0, 0, 0, 0}
		}
		out = append(out, flvfile.Tag{Type: protocol.TypeVideo, Timestamp: ts, Data: append(b, v.Config...)})
	}
	if a := ix.Audio; a != nil {
		out = append(out, flvfile.Tag{Type: protocol.TypeAudio, Timestamp: ts, Data: append([]byte{aacHeader, 0}, a.Config...)})
	}
	return out
}

// metadata builds the onMetaData payload: what players show and size
// their display by.
func (ix *Index) metadata() ([]byte, error) {
	dur := float64(ix.Duration()) / 1000
	props := amf.ECMAArray{{Key: "duration", Value: dur}, {Key: "filesize", Value: float64(ix.Size)}}
	if v := ix.Video; v != nil {
		id := 7.0
		if v.Codec == HEVC {
			id = float64(uint32(fourCCHEVC[0])<<24 | uint32(fourCCHEVC[1])<<16 | uint32(fourCCHEVC[2])<<8 | uint32(fourCCHEVC[3]))
		}
		props = append(props, amf.Property{Key: "width", Value: float64(v.Width)}, amf.Property{Key: "height", Value: float64(v.Height)},
			amf.Property{Key: "videocodecid", Value: id})
		if dur > 0 {
			props = append(props, amf.Property{Key: "framerate", Value: float64(len(v.samples)) / dur})
		}
	}
	if a := ix.Audio; a != nil {
		props = append(props, amf.Property{Key: "audiocodecid", Value: 10.0},
			amf.Property{Key: "audiosamplerate", Value: float64(a.SampleRate)},
			amf.Property{Key: "audiochannels", Value: float64(a.Channels)},
			amf.Property{Key: "stereo", Value: a.Channels == 2})
	}
	b, err := protocol.AppendValues(nil, "onMetaData", props)
	if err != nil {
		return nil, fmt.Errorf("mp4file: encode onMetaData: %w", err)
	}
	return b, nil
}

// Cursor reads a file's samples in decode-time order across its tracks,
// as FLV tags, one positioned read per sample. It holds two sample
// numbers; many Cursors share an Index and an io.ReaderAt.
type Cursor struct {
	r      io.ReaderAt
	ix     *Index
	vi, ai int // the next video and audio samples
}

// NewCursor reads ix's file r from its first samples.
func NewCursor(r io.ReaderAt, ix *Index) *Cursor { return &Cursor{r: r, ix: ix} }

// Seek moves the cursor to the video keyframe at or before ms (audio
// from that time on), or for audio alone to the frame at or before ms;
// it returns that time.
func (c *Cursor) Seek(ms uint32) uint32 {
	var ts uint32
	c.vi, c.ai, ts = c.ix.seekPoint(ms)
	return ts
}

// Rewind moves the cursor to the file's first samples.
func (c *Cursor) Rewind() { c.vi, c.ai = 0, 0 }

// Next returns the next sample as an FLV tag; io.EOF after the last. The
// tag's data is a new slice the caller keeps.
func (c *Cursor) Next() (flvfile.Tag, error) {
	v, a := c.ix.Video, c.ix.Audio
	useVideo := v != nil && c.vi < len(v.samples)
	if a != nil && c.ai < len(a.samples) && (!useVideo || a.samples[c.ai].dts < v.samples[c.vi].dts) {
		useVideo = false
	} else if !useVideo {
		return flvfile.Tag{}, io.EOF
	}
	if useVideo {
		s := v.samples[c.vi]
		c.vi++
		h := videoHeaderSize(v.Codec)
		b, err := c.read(s, h)
		if err != nil {
			return flvfile.Tag{}, err
		}
		putVideoHeader(b, v.Codec, s.sync(), s.cto)
		return flvfile.Tag{Type: protocol.TypeVideo, Timestamp: s.dts, Data: b}, nil
	}
	s := a.samples[c.ai]
	c.ai++
	b, err := c.read(s, 2)
	if err != nil {
		return flvfile.Tag{}, err
	}
	b[0], b[1] = aacHeader, 1
	return flvfile.Tag{Type: protocol.TypeAudio, Timestamp: s.dts, Data: b}, nil
}

// read reads a sample's data after room for an h-byte tag header.
func (c *Cursor) read(s sample, h int) ([]byte, error) {
	b := make([]byte, h+int(s.len()))
	if _, err := c.r.ReadAt(b[h:], s.off); err != nil {
		return nil, fmt.Errorf("%w: sample at %d: %w", ErrCorrupt, s.off, err)
	}
	return b, nil
}
