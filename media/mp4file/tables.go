package mp4file

// The sample tables: what Scan keeps of a moov's tracks (stbl) and of each
// fragment (moof/trun), as the compact per-track index.

import (
	"bytes"
	"fmt"
	"io"

	"github.com/Eyevinn/mp4ff/mp4"
)

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
