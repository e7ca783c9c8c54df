package media

import (
	"encoding/binary"
	"encoding/hex"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// Sequence headers written by ffmpeg's FLV muxer for libx264 streams, and an
// SPS from libx265 (1280x720) wrapped below in HEVC configuration records.
const (
	avc320x240   = "17000000000164000dffe100196764000dacd94141fb011000000300100000030320f142996001000668ebe3cb22c0fdf8f800"
	avc1920x1080 = "170000000001640028ffe1001b67640028acd940780227e5c044000003000400000300c83c60c65801000668ebe3cb22c0fdf8f800"
	avc642x362   = "17000000000164001effe1001b6764001eacd940a42fe224c044000003000400000300c83c58b65801000668ebe3cb22c0fdf8f800"
	hevcSPS720p  = "42010101600000030090000003000003005da00280802d165959a4932bc05a020000030002000003003210"
)

func unhex(t testing.TB, s string) []byte {
	t.Helper()
	b, err := hex.DecodeString(s)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// hevcRecord wraps an SPS in an HEVCDecoderConfigurationRecord (ISO/IEC
// 14496-15 §8.3.3.1) with one VPS-less array.
func hevcRecord(sps []byte) []byte {
	rec := make([]byte, 22, 22+6+len(sps))
	rec[0] = 1
	rec = append(rec, 1, 33, 0, 1)
	rec = binary.BigEndian.AppendUint16(rec, uint16(len(sps)))
	return append(rec, sps...)
}

// enhanced builds an E-RTMP SequenceStart video payload.
func enhanced(fourCC string, rec []byte) []byte {
	return append(append([]byte{0x80 | 1<<4 | exVideoSequenceStart}, fourCC...), rec...)
}

func videoSizeCases(t testing.TB) []struct {
	name    string
	payload []byte
	w, h    int
	ok      bool
} {
	avc := unhex(t, avc320x240)
	hevc := hevcRecord(unhex(t, hevcSPS720p))
	return []struct {
		name    string
		payload []byte
		w, h    int
		ok      bool
	}{
		{"avc 320x240", avc, 320, 240, true},
		{"avc 1080p cropped from 1088", unhex(t, avc1920x1080), 1920, 1080, true},
		{"avc odd size cropped", unhex(t, avc642x362), 642, 362, true},
		{"avc enhanced", enhanced("avc1", avc[5:]), 320, 240, true},
		{"hevc legacy codec 12", append([]byte{0x1c, 0, 0, 0, 0}, hevc...), 1280, 720, true},
		{"hevc enhanced", enhanced("hvc1", hevc), 1280, 720, true},
		{"avc truncated sps", avc[:20], 0, 0, false},
		{"avc sps length past end", append(append([]byte{}, avc[:13]...), 0xff, 0xff), 0, 0, false},
		{"no sps", []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x0d, 0xff, 0xe0}, 0, 0, false},
		{"hevc without sps", append([]byte{0x1c, 0, 0, 0, 0}, make([]byte, 23)...), 0, 0, false},
		{"vp6", []byte{0x14, 0, 0, 0, 0, 0, 0}, 0, 0, false},
		{"av1 enhanced", enhanced("av01", []byte{0x81, 0, 0, 0}), 0, 0, false},
		{"empty", nil, 0, 0, false},
	}
}

func TestVideoSize(t *testing.T) {
	for _, tt := range videoSizeCases(t) {
		t.Run(tt.name, func(t *testing.T) {
			w, h, ok := videoSize(tt.payload)
			if w != tt.w || h != tt.h || ok != tt.ok {
				t.Errorf("videoSize = %dx%d %v, want %dx%d %v", w, h, ok, tt.w, tt.h, tt.ok)
			}
		})
	}
}

func FuzzVideoSize(f *testing.F) {
	for _, tt := range videoSizeCases(f) {
		f.Add(tt.payload)
	}
	f.Fuzz(func(t *testing.T, p []byte) {
		w, h, ok := videoSize(p)
		if ok != (w > 0 && h > 0) || w > maxPictureSide || h > maxPictureSide {
			t.Fatalf("videoSize = %dx%d %v", w, h, ok)
		}
	})
}

func TestNALReaderSkipsEmulationPrevention(t *testing.T) {
	// 00 00 03 01 is RBSP 00 00 01: 23 zero bits then a one.
	r := nalReader{p: []byte{0, 0, 3, 1}}
	if got := r.bits(24); got != 1 || r.short {
		t.Fatalf("bits(24) = %d (short %v), want 1", got, r.short)
	}
	if r.bit(); !r.short {
		t.Fatal("reading past the end is not reported")
	}
}

func TestMetadataSize(t *testing.T) {
	meta, err := protocol.AppendValues(nil, "onMetaData", amf.ECMAArray{{Key: "width", Value: 640.0}, {Key: "height", Value: 360.0}})
	if err != nil {
		t.Fatal(err)
	}
	huge, _ := protocol.AppendValues(nil, "onMetaData", amf.Object{{Key: "width", Value: 1e9}, {Key: "height", Value: 2.0}})
	for _, tt := range []struct {
		name string
		p    []byte
		w, h int
	}{
		{"ecma array", meta, 640, 360},
		{"out of range", huge, 0, 0},
		{"garbage", []byte{0x02, 0xff}, 0, 0},
	} {
		if w, h := metadataSize(tt.p); w != tt.w || h != tt.h {
			t.Errorf("%s: metadataSize = %dx%d, want %dx%d", tt.name, w, h, tt.w, tt.h)
		}
	}
}

// feed sends 25 fps video of vbytes per frame with a keyframe every 2 s and
// 50 audio frames per second of abytes, for secs seconds from epoch.
func feed(st *streamStats, epoch time.Time, secs, vbytes, abytes int) {
	video := &Frame{Type: protocol.TypeVideo, Payload: make([]byte, vbytes)}
	video.Payload[0], video.Payload[1] = 0x27, 1
	key := &Frame{Type: protocol.TypeVideo, Keyframe: true, Payload: video.Payload}
	audio := &Frame{Type: protocol.TypeAudio, Payload: make([]byte, abytes)}
	for ms := 0; ms < secs*1000; ms += 20 {
		now := epoch.Add(time.Duration(ms) * time.Millisecond)
		if ms%40 == 0 {
			f := video
			if ms%2000 == 0 {
				key.Timestamp = uint32(ms)
				f = key
			}
			st.update(f, epoch, now)
		}
		st.update(audio, epoch, now)
	}
}

func TestStreamStatsRates(t *testing.T) {
	epoch := time.Unix(1000, 0)
	var st streamStats
	feed(&st, epoch, 7, 2000, 200)
	got := st.snapshot(epoch.Add(7 * time.Second))
	// 25 × 2000 B = 400 kbit/s of video, 50 × 200 B = 80 kbit/s of audio.
	if got.VideoBitrate != 400_000 || got.AudioBitrate != 80_000 || got.Bitrate != 480_000 {
		t.Errorf("bitrates video %v audio %v total %v, want 400000 80000 480000", got.VideoBitrate, got.AudioBitrate, got.Bitrate)
	}
	if got.FrameRate != 25 {
		t.Errorf("frame rate %v, want 25", got.FrameRate)
	}
	if got.KeyframeInterval != 2*time.Second {
		t.Errorf("keyframe interval %v, want 2s", got.KeyframeInterval)
	}

	// Silence empties the window; a new publisher starts afresh.
	if got := st.snapshot(epoch.Add(20 * time.Second)); got.Bitrate != 0 || got.FrameRate != 0 {
		t.Errorf("after 13 s of silence: %+v, want zero rates", got)
	}
	epoch2 := epoch.Add(time.Minute)
	feed(&st, epoch2, 1, 1000, 0)
	got = st.snapshot(epoch2.Add(time.Second))
	if got.VideoBitrate != 200_000 || got.AudioBitrate != 0 || got.KeyframeInterval != 0 {
		t.Errorf("new publisher: video %v audio %v keyframe interval %v, want 200000 0 0", got.VideoBitrate, got.AudioBitrate, got.KeyframeInterval)
	}
}

func TestStreamStatsFirstSecond(t *testing.T) {
	epoch := time.Unix(1000, 0)
	var st streamStats
	f := &Frame{Type: protocol.TypeVideo, Keyframe: true, Payload: make([]byte, 1000)}
	st.update(f, epoch, epoch.Add(100*time.Millisecond))
	got := st.snapshot(epoch.Add(500 * time.Millisecond))
	if got.VideoBitrate != 16_000 { // 8000 bits over 0.5 s
		t.Errorf("first-second bitrate %v, want 16000", got.VideoBitrate)
	}
}

func TestStreamStatsSize(t *testing.T) {
	epoch := time.Unix(1000, 0)
	var st streamStats
	meta, _ := protocol.AppendValues(nil, "onMetaData", amf.ECMAArray{{Key: "width", Value: 640.0}, {Key: "height", Value: 360.0}})
	st.update(&Frame{Type: protocol.TypeDataAMF0, Metadata: true, Payload: meta}, epoch, epoch)
	if got := st.snapshot(epoch); got.Width != 640 || got.Height != 360 {
		t.Fatalf("size from metadata %dx%d, want 640x360", got.Width, got.Height)
	}
	st.update(NewFrame(protocol.TypeVideo, 0, unhex(t, avc320x240)), epoch, epoch)
	st.update(&Frame{Type: protocol.TypeDataAMF0, Metadata: true, Payload: meta}, epoch, epoch)
	if got := st.snapshot(epoch); got.Width != 320 || got.Height != 240 {
		t.Fatalf("size with SPS and metadata %dx%d, want the SPS's 320x240", got.Width, got.Height)
	}
}

func TestStreamStatsUpdateNoAllocs(t *testing.T) {
	epoch := time.Now()
	var st streamStats
	f := &Frame{Type: protocol.TypeVideo, Payload: []byte{0x27, 1, 0, 0, 0, 0xaa}}
	now := epoch
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(10 * time.Millisecond)
		st.update(f, epoch, now)
	})
	if allocs != 0 {
		t.Errorf("update allocates %.1f times per frame, want 0", allocs)
	}
}

func BenchmarkStreamStatsUpdate(b *testing.B) {
	b.ReportAllocs()
	epoch := time.Now()
	var st streamStats
	f := &Frame{Type: protocol.TypeVideo, Payload: make([]byte, 4000)}
	f.Payload[0], f.Payload[1] = 0x27, 1
	now := epoch
	for b.Loop() {
		now = now.Add(time.Millisecond)
		st.update(f, epoch, now)
	}
}
