package mp4file

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sort"

	"github.com/Eyevinn/mp4ff/bits"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/nimbus-media/nimbus/media/flvfile"
)

// Errors of the reader.
var (
	// ErrNotMP4: the file does not start with an ISO BMFF box.
	ErrNotMP4 = errors.New("mp4file: not an MP4 file")
	// ErrNoMedia: the file has no H.264, HEVC or AAC track with samples.
	ErrNoMedia = errors.New("mp4file: no playable H.264, HEVC or AAC track")
	// ErrCorrupt: a box is malformed, or the moov is missing.
	ErrCorrupt = errors.New("mp4file: corrupt file")
	// ErrTooLarge: the moov, a moof or the sample tables are past the
	// bounds an index may take (maxMoov, maxMoof, MaxSamples).
	ErrTooLarge = errors.New("mp4file: sample tables too large")
)

// Bounds of what Scan reads and keeps: a hostile file claiming millions
// of samples is refused rather than indexed. Real files are far below:
// a two-hour 30 fps H.264 + AAC movie has about 530 000 samples (10 MB
// of index) and a moov of a few megabytes.
const (
	maxMoov = 64 << 20
	maxMoof = 16 << 20
	// MaxSamples bounds the samples of one file's index (20 bytes each).
	MaxSamples = 1 << 22
	// maxSample keeps a sample and its tag header within an FLV tag.
	maxSample = flvfile.MaxTagData - 16
)

// Codec is a track's codec.
type Codec uint8

// The codecs Nimbus plays from MP4.
const (
	H264 Codec = iota + 1
	HEVC
	AAC
)

func (c Codec) String() string {
	switch c {
	case H264:
		return "h264"
	case HEVC:
		return "hevc"
	case AAC:
		return "aac"
	}
	return "unknown"
}

// sample is one sample of the compact index: 20 bytes.
type sample struct {
	off  int64
	size uint32 // the sample's size; syncBit marks a sync sample
	dts  uint32 // decode time, ms
	cto  int32  // composition time offset, ms
}

const syncBit = 1 << 31

func (s sample) len() uint32 { return s.size &^ syncBit }
func (s sample) sync() bool  { return s.size&syncBit != 0 }

// Track is one playable track of a file.
type Track struct {
	Codec Codec
	// Config is the decoder configuration: the AVC or HEVC decoder
	// configuration record, or the AAC AudioSpecificConfig.
	Config        []byte
	Width, Height int // video
	SampleRate    int // audio
	Channels      int // audio

	id        uint32
	timescale uint32
	samples   []sample
	keys      []uint32 // indexes of the sync samples (video)
	next      uint64   // decode time after the last sample, in timescale
	end       uint32   // ms just past the last sample
	// shift is what the edit list takes off the start of the media (ms):
	// an encoder's B-frame delay or AAC priming; off is added to every
	// time so that the tracks keep their sync and no time is negative.
	shift, off int64
}

// Samples is how many samples the track has.
func (t *Track) Samples() int { return len(t.samples) }

// toMS converts a time in timescale units to milliseconds.
func toMS(v uint64, timescale uint32) uint32 {
	ts := uint64(timescale)
	return uint32(v/ts*1000 + v%ts*1000/ts)
}

// ms converts a time in the track's timescale to milliseconds.
func (t *Track) ms(v uint64) uint32 { return toMS(v, t.timescale) }

// time converts a decode time to the millisecond timestamp players get.
func (t *Track) time(v uint64) uint32 { return uint32(int64(t.ms(v)) + t.off) }

func (t *Track) msSigned(v int32) int32 {
	if v < 0 {
		return -int32(t.ms(uint64(-int64(v))))
	}
	return int32(t.ms(uint64(v)))
}

// Index is what Scan learned about a file: its tracks' sample tables,
// shared by every player of the file.
type Index struct {
	// Video and Audio are the first playable track of each kind; either
	// may be nil.
	Video, Audio *Track
	// Size is the file's size when it was indexed.
	Size int64
	// Fragmented: the samples are in moof/mdat fragments.
	Fragmented bool
	// Truncated: the file goes on past its last indexed sample (cut mid-
	// fragment, or a malformed box after which nothing is trusted).
	Truncated bool
	// FirstTimestamp is the earliest decode time (ms).
	FirstTimestamp uint32
	// Meta is the onMetaData payload players get: duration, size and
	// codecs.
	Meta []byte
	// Samples counts the indexed samples.
	Samples int
	// movie is the duration the moov's mvhd gives (ms), 0 when it gives
	// none (fragmented files).
	movie uint32
}

// Duration is the media's length in milliseconds: the movie header's,
// which the edit lists shape, when the file is not fragmented, else from
// the first sample to the end of the last.
func (ix *Index) Duration() uint32 {
	var end uint32
	for _, t := range ix.tracks() {
		end = max(end, t.end)
	}
	d := end - ix.FirstTimestamp
	if ix.movie > 0 && !ix.Fragmented {
		d = min(d, ix.movie)
	}
	return d
}

func (ix *Index) tracks() []*Track {
	var out []*Track
	for _, t := range []*Track{ix.Video, ix.Audio} {
		if t != nil {
			out = append(out, t)
		}
	}
	return out
}

// topLevel are the box types a file may start with: a file whose first
// box is anything else is not MP4 (a text file, an FLV named .mp4).
var topLevel = map[string]bool{
	"ftyp": true, "styp": true, "moov": true, "mdat": true, "free": true, "skip": true,
	"wide": true, "pdin": true, "uuid": true, "sidx": true, "moof": true, "meta": true,
}

// scanner is Scan's state.
type scanner struct {
	r       io.ReaderAt
	size    int64
	ix      *Index
	moov    *mp4.MoovBox
	byID    map[uint32]*Track
	samples int
}

// Scan indexes the MP4 file r of size bytes. It reads the box headers of
// the top level, the moov and the moofs, never the media data. A file cut
// short indexes the samples wholly inside it (Truncated).
func Scan(r io.ReaderAt, size int64) (ix *Index, err error) {
	defer func() {
		// mp4ff's decoders trust some fields of the boxes they decode; a
		// hostile file must cost a status, not the server.
		if p := recover(); p != nil {
			ix, err = nil, fmt.Errorf("%w: %v", ErrCorrupt, p)
		}
	}()
	s := &scanner{r: r, size: size, ix: &Index{Size: size}, byID: make(map[uint32]*Track)}
	if err := s.walk(); err != nil {
		return nil, err
	}
	if s.moov == nil {
		return nil, fmt.Errorf("%w: no moov box", ErrCorrupt)
	}
	return s.finish()
}

// walk visits the top-level boxes.
func (s *scanner) walk() error {
	var hb [16]byte
	for off := int64(0); off+8 <= s.size; {
		n := min(int64(len(hb)), s.size-off)
		if _, err := s.r.ReadAt(hb[:n], off); err != nil && !errors.Is(err, io.EOF) {
			return fmt.Errorf("mp4file: read at %d: %w", off, err)
		}
		boxSize, typ, hdr := uint64(binary.BigEndian.Uint32(hb[0:4])), string(hb[4:8]), uint64(8)
		switch boxSize {
		case 1:
			if n < 16 {
				s.ix.Truncated = true
				return nil
			}
			boxSize, hdr = binary.BigEndian.Uint64(hb[8:16]), 16
		case 0: // to the end of the file
			boxSize = uint64(s.size - off)
		}
		if off == 0 && !topLevel[typ] {
			return fmt.Errorf("%w: first box %q", ErrNotMP4, hb[4:8])
		}
		if boxSize < hdr {
			if s.moov == nil {
				return fmt.Errorf("%w: box %q of %d bytes at %d", ErrCorrupt, hb[4:8], boxSize, off)
			}
			s.ix.Truncated = true
			return nil
		}
		beyond := boxSize > uint64(s.size-off)
		switch typ {
		case "moov":
			if beyond {
				return fmt.Errorf("%w: moov cut short", ErrCorrupt)
			}
			if s.moov != nil {
				break // a second moov is not the file's
			}
			b, err := s.decode(off, boxSize, maxMoov)
			if err != nil {
				return err
			}
			moov, ok := b.(*mp4.MoovBox)
			if !ok {
				return fmt.Errorf("%w: moov", ErrCorrupt)
			}
			s.moov = moov
			if err := s.addTracks(); err != nil {
				return err
			}
		case "moof":
			if s.moov == nil {
				return fmt.Errorf("%w: moof before moov", ErrCorrupt)
			}
			if beyond {
				s.ix.Truncated = true
				return nil
			}
			b, err := s.decode(off, boxSize, maxMoof)
			if err != nil {
				if errors.Is(err, ErrTooLarge) {
					return err
				}
				s.ix.Truncated = true // a fragment cut or garbled: play what came before
				return nil
			}
			moof, ok := b.(*mp4.MoofBox)
			if !ok {
				s.ix.Truncated = true
				return nil
			}
			s.ix.Fragmented = true
			if done, err := s.addFragment(moof, off); err != nil || done {
				return err
			}
		}
		if beyond {
			// An mdat cut short: the moof before it kept only the samples
			// inside the file.
			s.ix.Truncated = s.ix.Truncated || typ != "mdat" || s.ix.Fragmented
			return nil
		}
		off += int64(boxSize)
	}
	return nil
}

// decode reads and decodes the box of size bytes at off, at most limit.
func (s *scanner) decode(off int64, size uint64, limit int) (mp4.Box, error) {
	if size > uint64(limit) {
		return nil, fmt.Errorf("%w: box of %d bytes at %d", ErrTooLarge, size, off)
	}
	buf := make([]byte, size)
	if _, err := s.r.ReadAt(buf, off); err != nil {
		return nil, fmt.Errorf("mp4file: read box at %d: %w", off, err)
	}
	b, err := mp4.DecodeBoxSR(uint64(off), bits.NewFixedSliceReader(buf))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrCorrupt, err)
	}
	return b, nil
}

// finish drops tracks without samples, builds the key lists and the
// metadata.
func (s *scanner) finish() (*Index, error) {
	ix := s.ix
	if ix.Video != nil && len(ix.Video.samples) == 0 {
		ix.Video = nil
	}
	if ix.Audio != nil && len(ix.Audio.samples) == 0 {
		ix.Audio = nil
	}
	tracks := ix.tracks()
	if len(tracks) == 0 {
		return nil, ErrNoMedia
	}
	ix.FirstTimestamp = tracks[0].samples[0].dts
	for _, t := range tracks {
		ix.FirstTimestamp = min(ix.FirstTimestamp, t.samples[0].dts)
		ix.Samples += len(t.samples)
		// Fragments grew the table by appends: the index lives as long as
		// the file is played, so it keeps no spare capacity.
		if cap(t.samples) > len(t.samples)+len(t.samples)/16 {
			t.samples = append([]sample(nil), t.samples...)
		}
	}
	if v := ix.Video; v != nil {
		for i, smp := range v.samples {
			if smp.sync() {
				v.keys = append(v.keys, uint32(i))
			}
		}
		if len(v.keys) == 0 {
			v.keys = []uint32{0} // no sync sample marked: start at the first
		}
	}
	meta, err := ix.metadata()
	if err != nil {
		return nil, err
	}
	ix.Meta = meta
	return ix, nil
}

// seekPoint returns the sample index to start each track at for ms
// (video's keyframe at or before it, audio from that keyframe's time on)
// and the timestamp there.
func (ix *Index) seekPoint(ms uint32) (video, audio int, ts uint32) {
	if v := ix.Video; v != nil {
		k := sort.Search(len(v.keys), func(i int) bool { return v.samples[v.keys[i]].dts > ms })
		video = int(v.keys[max(k-1, 0)])
		ts = v.samples[video].dts
		if a := ix.Audio; a != nil {
			audio = sort.Search(len(a.samples), func(i int) bool { return a.samples[i].dts >= ts })
		}
		return video, audio, ts
	}
	a := ix.Audio
	i := sort.Search(len(a.samples), func(i int) bool { return a.samples[i].dts > ms })
	audio = max(i-1, 0)
	return 0, audio, a.samples[audio].dts
}
