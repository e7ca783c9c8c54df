package mp4file

import (
	"bytes"
	"errors"
	"fmt"
	"io"

	"github.com/Eyevinn/mp4ff/aac"
	"github.com/Eyevinn/mp4ff/avc"
	"github.com/Eyevinn/mp4ff/hevc"
	"github.com/Eyevinn/mp4ff/mp4"

	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
)

// Fragment bounds of the Writer: a fragment ends at each video keyframe,
// and also past maxFragment of media or maxFragmentBytes of data (long
// GOPs, audio alone), which bounds both what a crash loses and what the
// writer holds in memory.
const (
	maxFragment      = 2000 // ms
	maxFragmentBytes = 8 << 20
)

// ErrConfigChanged: a sequence header with another configuration came
// after the init segment was written; its frames cannot be described by
// the file's sample entry, and the recording has to end.
var ErrConfigChanged = errors.New("mp4file: the codec configuration changed during the recording")

// Writer writes a live stream's FLV audio and video tags as fragmented
// MP4. The init segment waits for the first coded frame, so that the
// sequence headers before it decide the tracks: H.264 (legacy codec 7 or
// Enhanced RTMP avc1) and HEVC (legacy 12 or hvc1) video, AAC audio. Tags
// of other codecs, and of a track that first appears after the init
// segment, are counted in Dropped. Both tracks have a timescale of 1000:
// the tags' millisecond timestamps are kept exactly.
type Writer struct {
	w            io.Writer
	video, audio *wtrack
	started      bool
	seq          uint32
	bytes        int
	// Dropped counts the frames the file has no track for.
	Dropped int
}

// wtrack is a track being written.
type wtrack struct {
	id     uint32
	codec  Codec
	config []byte
	// held is the last sample, whose duration the next one's time tells.
	held    *mp4.FullSample
	done    []mp4.FullSample
	lastDur uint32
}

// NewWriter writes to w (the recorder gives it a buffered file).
func NewWriter(w io.Writer) *Writer { return &Writer{w: w, seq: 1} }

// WriteTag writes an FLV tag: sequence headers configure their track,
// coded frames become samples. Script data is not recorded in MP4.
func (w *Writer) WriteTag(t flvfile.Tag) error {
	switch t.Type {
	case protocol.TypeVideo:
		return w.writeVideo(t)
	case protocol.TypeAudio:
		return w.writeAudio(t)
	}
	return nil
}

// si24 reads a signed 24-bit composition time.
func si24(b []byte) int32 { return int32(uint32(b[0])<<24|uint32(b[1])<<16|uint32(b[2])<<8) >> 8 }

func (w *Writer) writeVideo(t flvfile.Tag) error {
	p := t.Data
	var codec Codec
	var seq, key bool
	var cto int32
	var data []byte
	switch {
	case len(p) >= 5 && p[0]&exHeader != 0:
		switch string(p[1:5]) {
		case "avc1":
			codec = H264
		case "hvc1":
			codec = HEVC
		default:
			w.Dropped++
			return nil
		}
		key = (p[0]>>4)&7 == 1
		switch p[0] & 0x0f {
		case exSequenceStart:
			seq, data = true, p[5:]
		case exCodedFrames:
			if len(p) < 8 {
				return nil
			}
			cto, data = si24(p[5:8]), p[8:]
		case 3: // CodedFramesX: composition time 0
			data = p[5:]
		default:
			return nil // sequence end, metadata, multitrack: nothing to record
		}
	case len(p) >= 5 && (p[0]&0x0f == 7 || p[0]&0x0f == 12):
		codec = H264
		if p[0]&0x0f == 12 {
			codec = HEVC
		}
		key = p[0]>>4 == 1
		switch p[1] {
		case 0:
			seq, data = true, p[5:]
		case 1:
			cto, data = si24(p[2:5]), p[5:]
		default:
			return nil // end of sequence
		}
	default:
		w.Dropped++
		return nil
	}
	if seq {
		return w.configure(&w.video, codec, data)
	}
	return w.add(w.video, codec, t.Timestamp, key, cto, data)
}

func (w *Writer) writeAudio(t flvfile.Tag) error {
	p := t.Data
	if len(p) < 2 || p[0]>>4 != 10 {
		w.Dropped++
		return nil
	}
	if p[1] == 0 {
		return w.configure(&w.audio, AAC, p[2:])
	}
	return w.add(w.audio, AAC, t.Timestamp, true, 0, p[2:])
}

// configure takes a sequence header: before the init segment it sets
// the track up; after it, the same configuration again (encoders repeat
// it) is fine and another one ends the recording.
func (w *Writer) configure(tr **wtrack, c Codec, config []byte) error {
	if w.started {
		if *tr == nil {
			return nil // a track that came too late: its frames are dropped
		}
		if (*tr).codec != c || !bytes.Equal((*tr).config, config) {
			return ErrConfigChanged
		}
		return nil
	}
	*tr = &wtrack{codec: c, config: append([]byte(nil), config...)}
	return nil
}

// add writes the init segment at the first coded frame, then queues the
// sample, ending the fragment at a video keyframe or past its bounds.
func (w *Writer) add(tr *wtrack, c Codec, ts uint32, key bool, cto int32, data []byte) error {
	if !w.started && tr != nil {
		if err := w.writeInit(); err != nil {
			return err
		}
	}
	if tr == nil || tr.codec != c {
		w.Dropped++
		return nil
	}
	flags := mp4.NonSyncSampleFlags
	if key {
		flags = mp4.SyncSampleFlags
	}
	s := &mp4.FullSample{Sample: mp4.Sample{Flags: flags, Size: uint32(len(data)), CompositionTimeOffset: cto},
		DecodeTime: uint64(ts), Data: data}
	if tr.held != nil {
		if s.DecodeTime < tr.held.DecodeTime {
			s.DecodeTime = tr.held.DecodeTime // time going back: keep decode times increasing
		}
		tr.held.Dur = uint32(s.DecodeTime - tr.held.DecodeTime)
		tr.lastDur = tr.held.Dur
		tr.done = append(tr.done, *tr.held)
		w.bytes += len(tr.held.Data)
	}
	tr.held = s
	if (tr == w.video && key) || w.bytes >= maxFragmentBytes || w.span() >= maxFragment {
		return w.flush()
	}
	return nil
}

// span is how much media the pending fragment holds, ms.
func (w *Writer) span() uint64 {
	var first, last uint64
	seen := false
	for _, tr := range []*wtrack{w.video, w.audio} {
		if tr == nil || len(tr.done) == 0 {
			continue
		}
		f, l := tr.done[0].DecodeTime, tr.done[len(tr.done)-1].DecodeTime
		if !seen || f < first {
			first = f
		}
		last = max(last, l)
		seen = true
	}
	return last - first
}

// writeInit writes ftyp and moov (with mvex) for the configured tracks.
func (w *Writer) writeInit() error {
	w.started = true
	init := mp4.CreateEmptyInit()
	if v := w.video; v != nil {
		init.AddEmptyTrack(1000, "video", "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		v.id = trak.Tkhd.TrackID
		var err error
		if v.codec == HEVC {
			var rec hevc.DecConfRec
			if rec, err = hevc.DecodeHEVCDecConfRec(v.config); err == nil {
				err = trak.SetHEVCDescriptor("hvc1", rec.GetNalusForType(hevc.NALU_VPS), rec.GetNalusForType(hevc.NALU_SPS),
					rec.GetNalusForType(hevc.NALU_PPS), nil, true)
			}
		} else {
			var rec avc.DecConfRec
			if rec, err = avc.DecodeAVCDecConfRec(v.config); err == nil {
				err = trak.SetAVCDescriptor("avc1", rec.SPSnalus, rec.PPSnalus, true)
			}
		}
		if err != nil {
			return fmt.Errorf("mp4file: video configuration: %w", err)
		}
	}
	if a := w.audio; a != nil {
		asc, err := aac.DecodeAudioSpecificConfig(bytes.NewReader(a.config))
		if err != nil {
			return fmt.Errorf("mp4file: AAC configuration: %w", err)
		}
		init.AddEmptyTrack(1000, "audio", "und")
		trak := init.Moov.Traks[len(init.Moov.Traks)-1]
		a.id = trak.Tkhd.TrackID
		channels := uint16(asc.ChannelConfiguration)
		if channels == 0 || channels > 2 {
			channels = 2 // the sample entry's field; decoders read the configuration
		}
		entry := mp4.CreateAudioSampleEntryBox("mp4a", channels, 16, uint16(min(asc.SamplingFrequency, 65535)), mp4.CreateEsdsBox(a.config))
		trak.Mdia.Minf.Stbl.Stsd.AddChild(entry)
	}
	if err := init.Encode(w.w); err != nil {
		return fmt.Errorf("mp4file: write init segment: %w", err)
	}
	return nil
}

// flush writes the pending samples as one moof+mdat fragment.
func (w *Writer) flush() error {
	var ids []uint32
	for _, tr := range []*wtrack{w.video, w.audio} {
		if tr != nil && len(tr.done) > 0 {
			ids = append(ids, tr.id)
		}
	}
	if len(ids) == 0 {
		return nil
	}
	frag, err := mp4.CreateMultiTrackFragment(w.seq, ids)
	if err != nil {
		return fmt.Errorf("mp4file: fragment: %w", err)
	}
	w.seq++
	for _, tr := range []*wtrack{w.video, w.audio} {
		if tr == nil {
			continue
		}
		for _, s := range tr.done {
			if err := frag.AddFullSampleToTrack(s, tr.id); err != nil {
				return fmt.Errorf("mp4file: fragment: %w", err)
			}
		}
		clear(tr.done)
		tr.done = tr.done[:0]
	}
	w.bytes = 0
	if err := frag.Encode(w.w); err != nil {
		return fmt.Errorf("mp4file: write fragment: %w", err)
	}
	return nil
}

// Close writes the last samples, each lasting as long as the one before
// it. It does not close the underlying writer.
func (w *Writer) Close() error {
	for _, tr := range []*wtrack{w.video, w.audio} {
		if tr == nil || tr.held == nil {
			continue
		}
		tr.held.Dur = max(tr.lastDur, 1)
		tr.done = append(tr.done, *tr.held)
		tr.held = nil
	}
	return w.flush()
}
