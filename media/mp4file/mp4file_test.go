package mp4file

import (
	"bytes"
	"encoding/binary"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"go.uber.org/goleak"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// scanFile indexes path.
func scanFile(t testing.TB, path string) (*Index, *os.File) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	st, _ := f.Stat()
	ix, err := Scan(f, st.Size())
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return ix, f
}

// readTags reads every tag from the cursor's position.
func readTags(t testing.TB, c *Cursor) []flvfile.Tag {
	t.Helper()
	var tags []flvfile.Tag
	for {
		tag, err := c.Next()
		if err == io.EOF {
			return tags
		}
		if err != nil {
			t.Fatal(err)
		}
		tags = append(tags, tag)
	}
}

// TestScanFFmpegFiles: MP4s as ffmpeg writes them — moov at the end, at
// the start (faststart), fragmented — index every sample ffprobe counts,
// read back in time order as FLV tags (AVC keyframe first, composition
// offsets from ctts/trun), with the sequence headers from avcC and esds
// and an onMetaData with duration and size; seeking starts on the
// keyframe at or before the target.
func TestScanFFmpegFiles(t *testing.T) {
	dir := t.TempDir()
	files := map[string]string{
		"moov at end":  testtools.ClipMP4(t, dir, "end.mp4", 4, 10),
		"faststart":    testtools.ClipMP4(t, dir, "start.mp4", 4, 10, "-movflags", "+faststart"),
		"fragmented":   testtools.ClipMP4(t, dir, "frag.mp4", 4, 10, "-movflags", "frag_keyframe+empty_moov"),
		"moof in moof": testtools.ClipMP4(t, dir, "frag2.mp4", 4, 10, "-movflags", "frag_keyframe+empty_moov+default_base_moof"),
	}
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			ix, f := scanFile(t, path)
			if ix.Video == nil || ix.Video.Codec != H264 || ix.Audio == nil || ix.Audio.Codec != AAC {
				t.Fatalf("tracks %+v %+v", ix.Video, ix.Audio)
			}
			if ix.Fragmented != (name == "fragmented" || name == "moof in moof") || ix.Truncated {
				t.Errorf("fragmented %v, truncated %v", ix.Fragmented, ix.Truncated)
			}
			if got, want := ix.Video.Samples(), testtools.Packets(t, path, "video"); got != want {
				t.Errorf("%d video samples, ffprobe counts %d", got, want)
			}
			if got, want := ix.Audio.Samples(), testtools.Packets(t, path, "audio"); got != want {
				t.Errorf("%d audio samples, ffprobe counts %d", got, want)
			}
			want := testtools.FFprobe(t, path).Duration(t) * 1000
			if d := float64(ix.Duration()); d < want-50 || d > want+50 {
				t.Errorf("duration %v ms, ffprobe says %v", d, want)
			}
			if ix.Video.Width != 320 || ix.Video.Height != 240 || ix.Audio.SampleRate != 44100 {
				t.Errorf("video %dx%d, audio %d Hz", ix.Video.Width, ix.Video.Height, ix.Audio.SampleRate)
			}
			vals, err := amf.DecodeAMF0All(ix.Meta)
			if err != nil || len(vals) != 2 || vals[0] != "onMetaData" {
				t.Fatalf("onMetaData %v %v", vals, err)
			}
			meta := vals[1].(amf.ECMAArray)
			if d, _ := meta.Number("duration"); d != float64(ix.Duration())/1000 {
				t.Errorf("onMetaData duration %v", d)
			}
			if id, _ := meta.Number("videocodecid"); id != 7 {
				t.Errorf("videocodecid %v", id)
			}

			hs := ix.SeqHeaders(0)
			if len(hs) != 2 || !media.ParseVideo(hs[0].Data).SeqHeader || !media.ParseAudio(hs[1].Data).SeqHeader {
				t.Fatalf("sequence headers %v", hs)
			}
			tags := readTags(t, NewCursor(f, ix))
			if len(tags) != ix.Samples {
				t.Fatalf("read %d tags of %d samples", len(tags), ix.Samples)
			}
			var last uint32
			var cto, keys int
			for i, tag := range tags {
				if tag.Timestamp < last {
					t.Fatalf("tag %d at %d after %d", i, tag.Timestamp, last)
				}
				last = tag.Timestamp
				if tag.Type == protocol.TypeVideo {
					vi := media.ParseVideo(tag.Data)
					if i == 0 && !vi.Keyframe {
						t.Error("the first tag is not a keyframe")
					}
					if vi.Keyframe {
						keys++
					}
					if tag.Data[2]|tag.Data[3]|tag.Data[4] != 0 {
						cto++
					}
					// A sample is length-prefixed NAL units that fill it.
					nal := tag.Data[5:]
					for len(nal) >= 4 {
						n := int(binary.BigEndian.Uint32(nal))
						if n > len(nal)-4 {
							t.Fatalf("tag %d: NAL unit of %d bytes in %d", i, n, len(nal)-4)
						}
						nal = nal[4+n:]
					}
				} else if tag.Data[0] != 0xaf || tag.Data[1] != 1 {
					t.Fatalf("audio tag % x", tag.Data[:2])
				}
			}
			if keys != 4 || cto == 0 {
				t.Errorf("%d keyframes (want 4), %d frames with a composition offset (want some: B-frames)", keys, cto)
			}
			c := NewCursor(f, ix)
			ts := c.Seek(2500)
			tag, err := c.Next()
			if err != nil || ts < 1900 || ts > 2100 || tag.Timestamp != ts || !media.ParseVideo(tag.Data).Keyframe {
				t.Errorf("seek 2500: at %d, first tag %v at %d (%v)", ts, tag.Type, tag.Timestamp, err)
			}
		})
	}
}

// TestScanHEVC: an HEVC MP4 plays as Enhanced RTMP hvc1 tags: sequence
// start with the hvcC record, coded frames with keyframes flagged.
func TestScanHEVC(t *testing.T) {
	path := testtools.ClipMP4(t, t.TempDir(), "hevc.mp4", 2, 10, "-c:v", "libx265", "-x265-params", "log-level=error", "-tag:v", "hvc1")
	ix, f := scanFile(t, path)
	if ix.Video == nil || ix.Video.Codec != HEVC {
		t.Fatalf("video track %+v", ix.Video)
	}
	h := ix.SeqHeaders(0)[0]
	if vi := media.ParseVideo(h.Data); !vi.SeqHeader || vi.Codec != "hevc" || h.Data[5] != 1 {
		t.Fatalf("sequence header % x: %+v", h.Data[:8], vi)
	}
	tags := readTags(t, NewCursor(f, ix))
	vi := media.ParseVideo(tags[0].Data)
	if tags[0].Type != protocol.TypeVideo || !vi.Keyframe || vi.Codec != "hevc" {
		t.Errorf("first tag %v %+v", tags[0].Type, vi)
	}
}

// recordTags writes tags through a Writer and returns the file.
func recordTags(t testing.TB, tags []flvfile.Tag) []byte {
	t.Helper()
	var b bytes.Buffer
	w := NewWriter(&b)
	for _, tag := range tags {
		if err := w.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	if err := w.Close(); err != nil {
		t.Fatal(err)
	}
	return b.Bytes()
}

// TestWriterRoundTrip: an FLV's tags written as fragmented MP4 ffprobe
// as H.264/AAC of the same length, index back to the same frames with the
// same timestamps and bodies, and a copy cut in the middle indexes and
// reads up to its last complete fragment.
func TestWriterRoundTrip(t *testing.T) {
	dir := t.TempDir()
	src := testtools.ClipFLV(t, dir, 4, 10)
	in := testtools.FLVTags(t, src)
	out := recordTags(t, in)
	path := filepath.Join(dir, "rec.mp4")
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	testtools.CheckPlayed(t, path, src)
	ix, f := scanFile(t, path)
	if !ix.Fragmented || ix.Truncated {
		t.Errorf("fragmented %v truncated %v", ix.Fragmented, ix.Truncated)
	}
	got := readTags(t, NewCursor(f, ix))
	var want []flvfile.Tag
	for _, tag := range in {
		if tag.Type == protocol.TypeVideo && tag.Data[1] == 1 ||
			tag.Type == protocol.TypeAudio && !media.ParseAudio(tag.Data).SeqHeader {
			want = append(want, tag)
		}
	}
	if len(got) != len(want) {
		t.Fatalf("read %d frames, wrote %d", len(got), len(want))
	}
	byType := func(tags []flvfile.Tag, typ protocol.Type) []flvfile.Tag {
		var out []flvfile.Tag
		for _, tag := range tags {
			if tag.Type == typ {
				out = append(out, tag)
			}
		}
		return out
	}
	for _, typ := range []protocol.Type{protocol.TypeVideo, protocol.TypeAudio} {
		g, w := byType(got, typ), byType(want, typ)
		for i := range w {
			if g[i].Timestamp != w[i].Timestamp || !bytes.Equal(g[i].Data, w[i].Data) {
				t.Fatalf("%v frame %d: at %d (% x...), wrote at %d (% x...)", typ, i, g[i].Timestamp, g[i].Data[:5],
					w[i].Timestamp, w[i].Data[:5])
			}
		}
	}

	cut := filepath.Join(dir, "cut.mp4")
	if err := os.WriteFile(cut, out[:len(out)*6/10], 0o644); err != nil {
		t.Fatal(err)
	}
	cix, cf := scanFile(t, cut)
	if !cix.Truncated || cix.Duration() < 1000 || cix.Duration() > 3000 {
		t.Errorf("cut file: truncated %v, duration %d ms", cix.Truncated, cix.Duration())
	}
	if n := len(readTags(t, NewCursor(cf, cix))); n != cix.Samples {
		t.Errorf("cut file: read %d of %d samples", n, cix.Samples)
	}
	// ffprobe reads at least what the index has (it may count part of a
	// fragment the index leaves out).
	if d := testtools.FFprobe(t, cut).Duration(t); d < float64(cix.Duration())/1000-0.1 {
		t.Errorf("cut file ffprobes %.2f s, indexed %d ms", d, cix.Duration())
	}
}

// TestWriterHEVC: Enhanced RTMP hvc1 tags record as an hvc1 track.
func TestWriterHEVC(t *testing.T) {
	dir := t.TempDir()
	ix, f := scanFile(t, testtools.ClipMP4(t, dir, "hevc.mp4", 2, 10, "-c:v", "libx265", "-x265-params", "log-level=error", "-an"))
	tags := append(ix.SeqHeaders(0), readTags(t, NewCursor(f, ix))...)
	path := filepath.Join(dir, "rec.mp4")
	if err := os.WriteFile(path, recordTags(t, tags), 0o644); err != nil {
		t.Fatal(err)
	}
	if c := testtools.FFprobe(t, path).Codec("video"); c != "hevc" {
		t.Errorf("recorded video codec %q", c)
	}
	if n := testtools.Packets(t, path, "video"); n != ix.Video.Samples() {
		t.Errorf("recorded %d frames of %d", n, ix.Video.Samples())
	}
}

// box makes an ISO BMFF box.
func box(typ string, payload ...[]byte) []byte {
	b := binary.BigEndian.AppendUint32(nil, uint32(8+len(bytes.Join(payload, nil))))
	return append(append(b, typ...), bytes.Join(payload, nil)...)
}

// TestScanRefusesBadInput: text, an FLV named .mp4, a file without moov,
// a moov cut short and a sample table claiming a billion samples fail
// with their errors, without allocating for the claim.
func TestScanRefusesBadInput(t *testing.T) {
	dir := t.TempDir()
	good, err := os.ReadFile(testtools.ClipMP4(t, dir, "start.mp4", 1, 10, "-movflags", "+faststart"))
	if err != nil {
		t.Fatal(err)
	}
	flv, err := os.ReadFile(testtools.ClipFLV(t, dir, 1, 10))
	if err != nil {
		t.Fatal(err)
	}
	// A billion samples of one size: a 20-byte stsz.
	huge := bytes.Clone(good)
	i := bytes.Index(huge, []byte("stsz"))
	if binary.BigEndian.Uint32(huge[i-4:]) < 20 {
		t.Fatal("no stsz")
	}
	stsz := box("stsz", []byte{0, 0, 0, 0}, binary.BigEndian.AppendUint32(nil, 100), binary.BigEndian.AppendUint32(nil, 1e9))
	// Replace the real stsz by the 20-byte one padded with a free box,
	// so that no size above it changes.
	old := int(binary.BigEndian.Uint32(huge[i-4:]))
	repl := append(stsz, box("free", make([]byte, old-len(stsz)-8))...)
	copy(huge[i-4:], repl)

	for _, tc := range []struct {
		name string
		data []byte
		want error
	}{
		{"text", []byte("this is not a video file at all"), ErrNotMP4},
		{"flv", flv, ErrNotMP4},
		{"no moov", box("ftyp", []byte("isom\x00\x00\x02\x00")), ErrCorrupt},
		{"moov cut", good[:bytes.Index(good, []byte("moov"))+100], ErrCorrupt},
		{"huge stsz", huge, ErrTooLarge},
		{"empty", nil, ErrCorrupt},
	} {
		if _, err := Scan(bytes.NewReader(tc.data), int64(len(tc.data))); !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", tc.name, err, tc.want)
		}
	}
}

// FuzzScan: any input indexes or fails cleanly; every indexed sample
// reads back within the input, in time order per track.
func FuzzScan(f *testing.F) {
	f.Add(box("ftyp", []byte("isom")))
	f.Add([]byte("FLV\x01\x05\x00\x00\x00\x09"))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		ix, err := Scan(r, int64(len(data)))
		if err != nil {
			return
		}
		if ix.Samples > MaxSamples {
			t.Fatalf("%d samples", ix.Samples)
		}
		c := NewCursor(r, ix)
		n := 0
		for {
			_, err := c.Next()
			if err == io.EOF {
				break
			}
			if err != nil {
				t.Fatalf("sample %d: %v", n, err)
			}
			n++
		}
		if n != ix.Samples {
			t.Fatalf("read %d of %d samples", n, ix.Samples)
		}
		c.Seek(ix.Duration() / 2)
		if _, err := amf.DecodeAMF0All(ix.Meta); err != nil {
			t.Fatal(err)
		}
	})
}
