package mp4file

import (
	"bytes"
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

// addTracks finds the moov's first playable video and audio tracks and
// indexes the samples of its sample tables (none in a fragmented file).
func (s *scanner) addTracks() error {
	for _, trak := range s.moov.Traks {
		if trak.Tkhd == nil || trak.Mdia == nil || trak.Mdia.Mdhd == nil || trak.Mdia.Hdlr == nil ||
			trak.Mdia.Minf == nil || trak.Mdia.Minf.Stbl == nil || trak.Mdia.Minf.Stbl.Stsd == nil ||
			trak.Mdia.Mdhd.Timescale == 0 {
			continue
		}
		stbl := trak.Mdia.Minf.Stbl
		t := &Track{id: trak.Tkhd.TrackID, timescale: trak.Mdia.Mdhd.Timescale}
		switch trak.Mdia.Hdlr.HandlerType {
		case "vide":
			if s.ix.Video != nil || !videoConfig(t, stbl.Stsd) {
				continue
			}
			s.ix.Video = t
		case "soun":
			if s.ix.Audio != nil || !audioConfig(t, stbl.Stsd) {
				continue
			}
			s.ix.Audio = t
		default:
			continue
		}
		t.shift = editShift(trak, t, s.moov.Mvhd)
		s.byID[t.id] = t
	}
	// Times are shifted by the largest edit, so that none is negative.
	var bias int64
	for _, t := range s.byID {
		bias = max(bias, t.shift)
	}
	for _, t := range s.byID {
		t.off = bias - t.shift
	}
	if m := s.moov.Mvhd; m != nil && m.Timescale > 0 {
		s.ix.movie = toMS(m.Duration, m.Timescale)
	}
	for _, trak := range s.moov.Traks {
		if t := s.byID[trak.Tkhd.TrackID]; t != nil {
			if err := s.addTable(t, trak.Mdia.Minf.Stbl); err != nil {
				return err
			}
		}
	}
	return nil
}

// editShift is how many ms the track's edit list skips at its start (the
// media time of its first edit, as encoders write it for B-frame delay
// and AAC priming) less an initial empty edit, which delays it. Other
// edits (cuts, rate changes) are not applied.
func editShift(trak *mp4.TrakBox, t *Track, mvhd *mp4.MvhdBox) int64 {
	if trak.Edts == nil || len(trak.Edts.Elst) == 0 {
		return 0
	}
	var shift int64
	for _, e := range trak.Edts.Elst[0].Entries {
		if e.MediaTime == -1 { // an empty edit: the track starts later
			if mvhd != nil && mvhd.Timescale > 0 {
				shift -= int64(toMS(e.SegmentDuration, mvhd.Timescale))
			}
			continue
		}
		if e.MediaTime > 0 {
			shift += int64(t.ms(uint64(e.MediaTime)))
		}
		break
	}
	return max(min(shift, 10_000), -10_000) // beyond: not an encoder's delay; ignore the excess
}

// videoConfig fills a video track's codec and configuration from its
// sample description: avc1/avc3 with avcC, hvc1/hev1 with hvcC.
func videoConfig(t *Track, stsd *mp4.StsdBox) bool {
	var entry *mp4.VisualSampleEntryBox
	var rec interface{ Encode(io.Writer) error }
	switch {
	case stsd.AvcX != nil && stsd.AvcX.AvcC != nil:
		entry, rec, t.Codec = stsd.AvcX, &stsd.AvcX.AvcC.DecConfRec, H264
	case stsd.HvcX != nil && stsd.HvcX.HvcC != nil:
		entry, rec, t.Codec = stsd.HvcX, &stsd.HvcX.HvcC.DecConfRec, HEVC
	default:
		return false
	}
	var b bytes.Buffer
	if err := rec.Encode(&b); err != nil {
		return false
	}
	t.Config, t.Width, t.Height = b.Bytes(), int(entry.Width), int(entry.Height)
	return true
}

// audioConfig fills an AAC track's AudioSpecificConfig from its esds.
func audioConfig(t *Track, stsd *mp4.StsdBox) bool {
	a := stsd.Mp4a
	if a == nil || a.Esds == nil || a.Esds.DecConfigDescriptor == nil || a.Esds.DecConfigDescriptor.DecSpecificInfo == nil {
		return false
	}
	asc := a.Esds.DecConfigDescriptor.DecSpecificInfo.DecConfig
	if len(asc) < 2 {
		return false
	}
	t.Codec, t.Config = AAC, append([]byte(nil), asc...)
	t.SampleRate, t.Channels = int(a.SampleRate), int(a.ChannelCount)
	return true
}

// reserve counts n more samples against MaxSamples and against the
// file's size (a sample takes a byte at least): a 20-byte stsz may claim
// billions of samples of one size.
func (s *scanner) reserve(n uint64) error {
	if n > MaxSamples || uint64(s.samples)+n > MaxSamples {
		return fmt.Errorf("%w: more than %d samples", ErrTooLarge, MaxSamples)
	}
	if uint64(s.samples)+n > uint64(s.size) {
		return fmt.Errorf("%w: %d samples in %d bytes", ErrCorrupt, uint64(s.samples)+n, s.size)
	}
	s.samples += int(n)
	return nil
}

// addTable expands a track's sample tables (stsz, stsc, stco/co64,
// stts, ctts, stss) into its samples. Tables that disagree keep the
// samples all of them describe.
func (s *scanner) addTable(t *Track, stbl *mp4.StblBox) error {
	if stbl.Stsz == nil || stbl.Stts == nil || stbl.Stsc == nil || (stbl.Stco == nil && stbl.Co64 == nil) {
		return nil
	}
	n := stbl.Stsz.GetNrSamples()
	if n == 0 {
		return nil
	}
	if err := s.reserve(uint64(n)); err != nil {
		return err
	}
	var chunks int
	chunk := func(i int) int64 {
		if stbl.Co64 != nil {
			return int64(stbl.Co64.ChunkOffset[i])
		}
		return int64(stbl.Stco.ChunkOffset[i])
	}
	if stbl.Co64 != nil {
		chunks = len(stbl.Co64.ChunkOffset)
	} else {
		chunks = len(stbl.Stco.ChunkOffset)
	}
	out := make([]sample, 0, n)
	entries := stbl.Stsc.Entries
placing:
	for e, en := range entries {
		last := chunks
		if e+1 < len(entries) {
			last = int(entries[e+1].FirstChunk) - 1
		}
		if en.FirstChunk == 0 || last > chunks {
			break
		}
		for ch := int(en.FirstChunk); ch <= last; ch++ {
			off := chunk(ch - 1)
			for k := uint32(0); k < en.SamplesPerChunk; k++ {
				if len(out) == int(n) {
					break placing
				}
				size := stbl.Stsz.GetSampleSize(len(out) + 1)
				if size > maxSample || off < 0 || off+int64(size) > s.size {
					break placing
				}
				out = append(out, sample{off: off, size: size})
				off += int64(size)
			}
		}
	}
	// Decode times.
	var dts uint64
	i := 0
	for e, c := range stbl.Stts.SampleCount {
		d := stbl.Stts.SampleTimeDelta[e]
		for ; c > 0 && i < len(out); c-- {
			out[i].dts = t.time(dts)
			dts += uint64(d)
			i++
		}
	}
	out = out[:i]
	t.next, t.end = dts, t.time(dts)
	// Composition offsets.
	if c := stbl.Ctts; c != nil {
		i = 0
		for e, off := range c.SampleOffset {
			cnt := c.EndSampleNr[e+1] - c.EndSampleNr[e]
			for ; cnt > 0 && i < len(out); cnt-- {
				out[i].cto = t.msSigned(off)
				i++
			}
		}
	}
	// Sync samples: all of them without an stss.
	if stbl.Stss == nil {
		for i := range out {
			out[i].size |= syncBit
		}
	} else {
		for _, nr := range stbl.Stss.SampleNumber {
			if nr >= 1 && int(nr) <= len(out) {
				out[nr-1].size |= syncBit
			}
		}
	}
	if len(out) < int(n) {
		s.ix.Truncated = true
	}
	t.samples = out
	return nil
}

// addFragment indexes a moof's samples; done when the file ends inside
// them.
func (s *scanner) addFragment(moof *mp4.MoofBox, moofStart int64) (done bool, err error) {
	prevEnd := moofStart
	for i, traf := range moof.Trafs {
		tfhd := traf.Tfhd
		if tfhd == nil {
			continue
		}
		var base int64
		switch {
		case tfhd.HasBaseDataOffset():
			base = int64(tfhd.BaseDataOffset)
		case tfhd.DefaultBaseIfMoof() || i == 0:
			base = moofStart
		default:
			base = prevEnd // ISO/IEC 14496-12 8.8.7.1: after the previous traf's data
		}
		t := s.byID[tfhd.TrackID]
		var trex *mp4.TrexBox
		if s.moov.Mvex != nil {
			for _, x := range s.moov.Mvex.Trexs {
				if x.TrackID == tfhd.TrackID {
					trex = x
				}
			}
		}
		pos := base
		var dts uint64
		if t != nil {
			dts = t.next
			if traf.Tfdt != nil {
				dts = traf.Tfdt.BaseMediaDecodeTime()
			}
		}
		for _, trun := range traf.Truns {
			trun.AddSampleDefaultValues(tfhd, trex)
			if trun.HasDataOffset() {
				pos = base + int64(trun.DataOffset)
			}
			if t == nil {
				pos += int64(trun.SizeOfData())
				continue
			}
			if err := s.reserve(uint64(len(trun.Samples))); err != nil {
				return true, err
			}
			for _, smp := range trun.Samples {
				if smp.Size > maxSample || pos < 0 || pos+int64(smp.Size) > s.size {
					s.ix.Truncated = true
					return true, nil
				}
				ms := t.time(dts)
				if n := len(t.samples); n > 0 && ms < t.samples[n-1].dts {
					s.ix.Truncated = true // time going back: not trusted
					return true, nil
				}
				size := smp.Size
				if t.Codec == AAC || smp.Flags&mp4.NonSyncSampleFlags == 0 {
					size |= syncBit
				}
				t.samples = append(t.samples, sample{off: pos, size: size, dts: ms, cto: t.msSigned(smp.CompositionTimeOffset)})
				pos += int64(smp.Size)
				dts += uint64(smp.Dur)
			}
		}
		if t != nil {
			t.next, t.end = dts, t.time(dts)
		}
		prevEnd = pos
	}
	return false, nil
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
