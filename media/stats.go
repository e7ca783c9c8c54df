package media

import (
	"encoding/binary"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// Stream statistics for monitoring. They are updated by Stream.Write under
// the stream lock the router already holds, so they cost a few additions per
// frame and never allocate; parsing happens only for sequence headers and
// metadata, which a publisher sends once.
//
// Rates are measured over a sliding window of one-second buckets: a rate
// seen by an operator should follow the encoder within a few seconds yet not
// jump with every keyframe, and a window of a few GOPs does both.
const (
	statsBuckets = 8 // power of two; the window uses statsWindow of them
	statsWindow  = 5 // completed seconds averaged for bitrate and frame rate
)

// StreamStats describes what a publisher sends, for monitoring.
type StreamStats struct {
	// Width and Height come from the video sequence header's SPS (H.264,
	// HEVC) or, when that cannot be parsed, from onMetaData.
	Width, Height int
	// FrameRate is video pictures per second over the window.
	FrameRate float64
	// Bitrate is payload bits per second over the window, audio plus video
	// (and data); VideoBitrate and AudioBitrate split it.
	Bitrate, VideoBitrate, AudioBitrate float64
	// KeyframeInterval is the time between the last two keyframes, by their
	// timestamps.
	KeyframeInterval time.Duration
}

// streamStats is the stream's running measurement; the zero value is ready.
type streamStats struct {
	epoch   time.Time // publish time the buckets count from
	cur     int64     // index (seconds since epoch) of the current bucket
	video   [statsBuckets]uint64
	audio   [statsBuckets]uint64
	other   [statsBuckets]uint64
	pics    [statsBuckets]uint32
	lastKey uint32
	haveKey bool
	keyGap  time.Duration

	width, height int
	fromSPS       bool
}

// update counts f, received at now on a stream published since epoch. A new
// epoch (a new publisher) starts the measurement afresh.
func (st *streamStats) update(f *Frame, epoch, now time.Time) {
	if !st.epoch.Equal(epoch) {
		*st = streamStats{epoch: epoch}
	}
	st.advance(now)
	i := st.cur & (statsBuckets - 1)
	n := uint64(f.Size())
	switch f.Type {
	case protocol.TypeVideo:
		st.video[i] += n
		switch {
		case f.SeqHeader:
			if w, h, ok := videoSize(f.Payload); ok {
				st.width, st.height, st.fromSPS = w, h, true
			}
		case f.Keyframe:
			if st.haveKey && f.Timestamp > st.lastKey {
				st.keyGap = time.Duration(f.Timestamp-st.lastKey) * time.Millisecond
			}
			st.lastKey, st.haveKey = f.Timestamp, true
			st.pics[i]++
		default:
			if isPicture(f.Payload) {
				st.pics[i]++
			}
		}
	case protocol.TypeAudio:
		st.audio[i] += n
	default:
		st.other[i] += n
		if f.Metadata && !st.fromSPS {
			st.width, st.height = metadataSize(f.Payload)
		}
	}
}

// advance moves the current bucket to now, clearing the seconds skipped.
func (st *streamStats) advance(now time.Time) {
	sec := int64(now.Sub(st.epoch) / time.Second)
	if sec <= st.cur {
		return
	}
	for k := st.cur + 1; k <= sec && k <= st.cur+statsBuckets; k++ {
		j := k & (statsBuckets - 1)
		st.video[j], st.audio[j], st.other[j], st.pics[j] = 0, 0, 0, 0
	}
	st.cur = sec
}

// snapshot reports the statistics at now. It averages the completed seconds
// of the window; in the first second of a stream it extrapolates from the
// partial one so that a new stream does not show zero.
func (st *streamStats) snapshot(now time.Time) StreamStats {
	out := StreamStats{Width: st.width, Height: st.height, KeyframeInterval: st.keyGap}
	if st.epoch.IsZero() {
		return out
	}
	st.advance(now)
	var v, a, o, p uint64
	span := time.Duration(0)
	if st.cur == 0 {
		v, a, o, p = st.video[0], st.audio[0], st.other[0], uint64(st.pics[0])
		span = now.Sub(st.epoch)
	} else {
		n := min(st.cur, statsWindow)
		for k := st.cur - n; k < st.cur; k++ {
			j := k & (statsBuckets - 1)
			v, a, o, p = v+st.video[j], a+st.audio[j], o+st.other[j], p+uint64(st.pics[j])
		}
		span = time.Duration(n) * time.Second
	}
	if span <= 0 {
		return out
	}
	secs := span.Seconds()
	out.VideoBitrate = float64(v*8) / secs
	out.AudioBitrate = float64(a*8) / secs
	out.Bitrate = float64((v+a+o)*8) / secs
	out.FrameRate = float64(p) / secs
	return out
}

// isPicture reports whether a non-key, non-header video payload carries a
// picture (not a command frame, E-RTMP metadata or end of sequence).
func isPicture(p []byte) bool {
	if len(p) < 2 {
		return false
	}
	if p[0]&0x80 == 0 {
		if (p[0]>>4)&0x07 == 5 {
			return false
		}
		c := p[0] & 0x0f
		return (c != videoCodecAVC && c != videoCodecHEVC) || p[1] == 1
	}
	pt := p[0] & 0x0f
	return pt == exVideoCodedFrames || pt == exVideoCodedFramesX
}

// videoSize reads the picture size from a video sequence header: the SPS in
// an AVCDecoderConfigurationRecord (ISO/IEC 14496-15 §5.3.3.1) or an
// HEVCDecoderConfigurationRecord (§8.3.3.1), legacy (FLV CodecID 7/12) or
// Enhanced RTMP (avc1/hvc1 SequenceStart). Multitrack headers are not parsed.
func videoSize(p []byte) (w, h int, ok bool) {
	if len(p) < 6 {
		return 0, 0, false
	}
	var hevc bool
	if p[0]&0x80 == 0 {
		switch p[0] & 0x0f {
		case videoCodecAVC:
		case videoCodecHEVC:
			hevc = true
		default:
			return 0, 0, false
		}
	} else {
		if p[0]&0x0f != exVideoSequenceStart {
			return 0, 0, false
		}
		switch binary.BigEndian.Uint32(p[1:5]) {
		case 'a'<<24 | 'v'<<16 | 'c'<<8 | '1':
		case 'h'<<24 | 'v'<<16 | 'c'<<8 | '1':
			hevc = true
		default:
			return 0, 0, false
		}
	}
	// Legacy: FrameType/CodecID, AVCPacketType, CompositionTime(3).
	// Enhanced: header byte, FourCC. Either way the record starts at 5.
	rec := p[5:]
	if hevc {
		return hevcRecordSize(rec)
	}
	return avcRecordSize(rec)
}

func avcRecordSize(rec []byte) (w, h int, ok bool) {
	// configurationVersion, profile, compatibility, level, lengthSize,
	// numOfSequenceParameterSets (low 5 bits), then length-prefixed SPSs.
	if len(rec) < 8 || rec[5]&0x1f == 0 {
		return 0, 0, false
	}
	n := int(binary.BigEndian.Uint16(rec[6:8]))
	if len(rec) < 8+n || n < 4 {
		return 0, 0, false
	}
	return parseAVCSPS(rec[8 : 8+n])
}

func hevcRecordSize(rec []byte) (w, h int, ok bool) {
	const header = 22 // fixed fields before numOfArrays
	if len(rec) < header+1 {
		return 0, 0, false
	}
	arrays := int(rec[header])
	rest := rec[header+1:]
	for range arrays {
		if len(rest) < 3 {
			return 0, 0, false
		}
		typ, count := rest[0]&0x3f, int(binary.BigEndian.Uint16(rest[1:3]))
		rest = rest[3:]
		for range count {
			if len(rest) < 2 {
				return 0, 0, false
			}
			n := int(binary.BigEndian.Uint16(rest))
			if len(rest) < 2+n {
				return 0, 0, false
			}
			if typ == 33 { // SPS_NUT
				return parseHEVCSPS(rest[2 : 2+n])
			}
			rest = rest[2+n:]
		}
	}
	return 0, 0, false
}

// nalReader reads the bits of a NAL unit's RBSP, skipping emulation
// prevention bytes (H.264 §7.4.1) as it goes so that no copy is needed.
type nalReader struct {
	p     []byte
	i     int
	cur   byte
	left  uint
	zeros int
	short bool // read past the end
}

func (r *nalReader) bit() uint32 {
	if r.left == 0 {
		if r.i >= len(r.p) {
			r.short = true
			return 0
		}
		c := r.p[r.i]
		r.i++
		if r.zeros >= 2 && c == 3 {
			r.zeros = 0
			if r.i >= len(r.p) {
				r.short = true
				return 0
			}
			c = r.p[r.i]
			r.i++
		}
		if c == 0 {
			r.zeros++
		} else {
			r.zeros = 0
		}
		r.cur, r.left = c, 8
	}
	r.left--
	return uint32(r.cur>>r.left) & 1
}

func (r *nalReader) bits(n int) uint32 {
	var v uint32
	for range n {
		v = v<<1 | r.bit()
	}
	return v
}

func (r *nalReader) skip(n int) {
	for range n {
		r.bit()
	}
}

// ue reads an unsigned Exp-Golomb code (H.264 §9.1).
func (r *nalReader) ue() uint32 {
	zeros := 0
	for r.bit() == 0 {
		if zeros++; zeros > 31 || r.short {
			r.short = true
			return 0
		}
	}
	return 1<<zeros - 1 + r.bits(zeros)
}

// se reads a signed Exp-Golomb code (H.264 §9.1.1).
func (r *nalReader) se() int32 {
	k := r.ue()
	if k&1 == 1 {
		return int32((k + 1) / 2)
	}
	return -int32(k / 2)
}

// chromaSub returns SubWidthC and SubHeightC for chroma_format_idc
// (H.264 Table 6-1, H.265 Table 6-1); monochrome and separate planes crop in
// luma units.
func chromaSub(chroma uint32, separate bool) (int, int) {
	switch {
	case separate || chroma == 0 || chroma == 3:
		return 1, 1
	case chroma == 1:
		return 2, 2
	}
	return 2, 1
}

// maxPictureSide bounds the sizes an SPS may claim (H.264 level 6.2 allows
// 8192 pixels on a side; anything far above that is garbage).
const maxPictureSide = 1 << 15

// parseAVCSPS reads the cropped picture size from an H.264 SPS NAL unit
// (H.264 §7.3.2.1.1, size per §7.4.2.1.1 with frame cropping).
func parseAVCSPS(nal []byte) (w, h int, ok bool) {
	if len(nal) < 4 || nal[0]&0x1f != 7 {
		return 0, 0, false
	}
	r := nalReader{p: nal[1:]}
	profile := r.bits(8)
	r.skip(16) // constraint flags, level_idc
	r.ue()     // seq_parameter_set_id
	chroma, separate := uint32(1), false
	switch profile {
	case 100, 110, 122, 244, 44, 83, 86, 118, 128, 138, 139, 134, 135:
		chroma = r.ue()
		if chroma == 3 {
			separate = r.bit() == 1
		}
		r.ue()            // bit_depth_luma_minus8
		r.ue()            // bit_depth_chroma_minus8
		r.skip(1)         // qpprime_y_zero_transform_bypass_flag
		if r.bit() == 1 { // seq_scaling_matrix_present_flag
			lists := 8
			if chroma == 3 {
				lists = 12
			}
			for i := range lists {
				if r.bit() == 1 {
					size := 16
					if i >= 6 {
						size = 64
					}
					skipScalingList(&r, size)
				}
			}
		}
	}
	r.ue()          // log2_max_frame_num_minus4
	switch r.ue() { // pic_order_cnt_type
	case 0:
		r.ue() // log2_max_pic_order_cnt_lsb_minus4
	case 1:
		r.skip(1) // delta_pic_order_always_zero_flag
		r.se()    // offset_for_non_ref_pic
		r.se()    // offset_for_top_to_bottom_field
		n := r.ue()
		if n > 255 {
			return 0, 0, false
		}
		for range n {
			r.se()
		}
	}
	r.ue()    // max_num_ref_frames
	r.skip(1) // gaps_in_frame_num_value_allowed_flag
	wMbs := int(r.ue()) + 1
	hMapUnits := int(r.ue()) + 1
	frameMbsOnly := int(r.bit())
	if frameMbsOnly == 0 {
		r.skip(1) // mb_adaptive_frame_field_flag
	}
	r.skip(1) // direct_8x8_inference_flag
	var cl, cr, ct, cb int
	if r.bit() == 1 {
		cl, cr, ct, cb = int(r.ue()), int(r.ue()), int(r.ue()), int(r.ue())
	}
	if r.short {
		return 0, 0, false
	}
	sw, sh := chromaSub(chroma, separate)
	sh *= 2 - frameMbsOnly
	w = wMbs*16 - sw*(cl+cr)
	h = (2-frameMbsOnly)*hMapUnits*16 - sh*(ct+cb)
	if w <= 0 || h <= 0 || w > maxPictureSide || h > maxPictureSide {
		return 0, 0, false
	}
	return w, h, true
}

func skipScalingList(r *nalReader, size int) {
	last, next := int32(8), int32(8)
	for range size {
		if next != 0 {
			next = (last + r.se() + 256) % 256
		}
		if next != 0 {
			last = next
		}
		if r.short {
			return
		}
	}
}

// parseHEVCSPS reads the cropped picture size from an H.265 SPS NAL unit
// (H.265 §7.3.2.2.1, profile_tier_level §7.3.3, conformance window §7.4.3.2.1).
func parseHEVCSPS(nal []byte) (w, h int, ok bool) {
	if len(nal) < 4 || (nal[0]>>1)&0x3f != 33 {
		return 0, 0, false
	}
	r := nalReader{p: nal[2:]}
	r.skip(4) // sps_video_parameter_set_id
	subLayers := int(r.bits(3))
	r.skip(1) // sps_temporal_id_nesting_flag
	// profile_tier_level(1, sps_max_sub_layers_minus1): 88 bits of general
	// profile, 8 of general level, then per-sub-layer presence flags.
	r.skip(96)
	var profilePresent, levelPresent [8]bool
	for i := range subLayers {
		profilePresent[i] = r.bit() == 1
		levelPresent[i] = r.bit() == 1
	}
	if subLayers > 0 {
		r.skip(2 * (8 - subLayers)) // reserved_zero_2bits
	}
	for i := range subLayers {
		if profilePresent[i] {
			r.skip(88)
		}
		if levelPresent[i] {
			r.skip(8)
		}
	}
	r.ue() // sps_seq_parameter_set_id
	chroma := r.ue()
	separate := false
	if chroma == 3 {
		separate = r.bit() == 1
	}
	w, h = int(r.ue()), int(r.ue())
	if r.bit() == 1 { // conformance_window_flag
		sw, sh := chromaSub(chroma, separate)
		cl, cr, ct, cb := int(r.ue()), int(r.ue()), int(r.ue()), int(r.ue())
		w -= sw * (cl + cr)
		h -= sh * (ct + cb)
	}
	if r.short || w <= 0 || h <= 0 || w > maxPictureSide || h > maxPictureSide {
		return 0, 0, false
	}
	return w, h, true
}

// metadataSize reads width and height from an onMetaData payload; zeros when
// absent or out of range.
func metadataSize(p []byte) (w, h int) {
	vals, err := amf.DecodeAMF0All(p)
	if err != nil || len(vals) < 2 {
		return 0, 0
	}
	var num func(string) (float64, bool)
	switch m := vals[1].(type) {
	case amf.ECMAArray:
		num = m.Number
	case amf.Object:
		num = m.Number
	default:
		return 0, 0
	}
	fw, okw := num("width")
	fh, okh := num("height")
	if !okw || !okh || fw < 1 || fh < 1 || fw > maxPictureSide || fh > maxPictureSide {
		return 0, 0
	}
	return int(fw), int(fh)
}
