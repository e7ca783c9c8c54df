package flvfile

import (
	"bytes"
	"errors"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

// testTags is a small AVC/AAC stream: metadata, sequence headers, then
// 40 ms video frames with a keyframe every 10 and audio between them.
func testTags(t testing.TB, frames int) []Tag {
	t.Helper()
	meta, err := protocol.AppendValues(nil, "onMetaData", amf.ECMAArray{{Key: "width", Value: 320.0}, {Key: "duration", Value: 0.0}})
	if err != nil {
		t.Fatal(err)
	}
	tags := []Tag{
		{Type: protocol.TypeDataAMF0, Data: meta},
		{Type: protocol.TypeVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}},
		{Type: protocol.TypeAudio, Data: []byte{0xaf, 0, 0x12, 0x10}},
	}
	for i := range frames {
		b := byte(0x27)
		if i%10 == 0 {
			b = 0x17
		}
		ts := uint32(i * 40)
		tags = append(tags,
			Tag{Type: protocol.TypeVideo, Timestamp: ts, Data: []byte{b, 1, 0, 0, 0, byte(i), byte(i >> 8)}},
			Tag{Type: protocol.TypeAudio, Timestamp: ts + 20, Data: []byte{0xaf, 1, byte(i)}})
	}
	return tags
}

func writeFile(t testing.TB, tags []Tag) []byte {
	t.Helper()
	var b bytes.Buffer
	w, err := NewWriter(&b, true, true)
	if err != nil {
		t.Fatal(err)
	}
	for _, tag := range tags {
		if tag.Type == protocol.TypeDataAMF0 {
			err = w.WriteMeta(tag.Timestamp, tag.Data)
		} else {
			err = w.WriteTag(tag)
		}
		if err != nil {
			t.Fatal(err)
		}
	}
	if w.Offset() != int64(b.Len()) {
		t.Fatalf("Offset %d, wrote %d bytes", w.Offset(), b.Len())
	}
	return b.Bytes()
}

// readAll reads every tag of ix from off with a Cursor.
func readAll(t testing.TB, r io.ReaderAt, off, end int64) []Tag {
	t.Helper()
	c := NewCursor(r, off, end)
	var out []Tag
	for {
		tag, err := c.Next()
		if errors.Is(err, io.EOF) {
			return out
		}
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, tag)
	}
}

func TestWriteScanRead(t *testing.T) {
	tags := testTags(t, 50)
	file := writeFile(t, tags)
	r := bytes.NewReader(file)
	ix, err := Scan(r, int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if !ix.HasAudio || !ix.HasVideo || ix.Truncated || ix.End != int64(len(file)) || ix.Tags != len(tags) {
		t.Fatalf("index %+v", ix)
	}
	if ix.Duration() != 49*40+20 {
		t.Errorf("duration %d ms, want %d", ix.Duration(), 49*40+20)
	}
	if len(ix.SeekPoints) != 5 || len(ix.SeqHeaders) != 2 {
		t.Errorf("%d seek points, %d sequence headers; want 5 and 2", len(ix.SeekPoints), len(ix.SeqHeaders))
	}
	got := readAll(t, r, ix.First, ix.End)
	if len(got) != len(tags) {
		t.Fatalf("read %d tags, wrote %d", len(got), len(tags))
	}
	for i := range tags {
		if got[i].Type != tags[i].Type || got[i].Timestamp != tags[i].Timestamp || !bytes.Equal(got[i].Data, tags[i].Data) {
			t.Fatalf("tag %d: %+v, want %+v", i, got[i], tags[i])
		}
	}
	// Seeking to 1.3 s starts at the keyframe at 1.2 s, after the headers.
	p, ok := ix.SeekPoint(1300)
	if !ok || p.Timestamp != 1200 {
		t.Fatalf("seek point for 1300 ms: %+v", p)
	}
	if hs := ix.SeqHeadersBefore(p.Offset); len(hs) != 2 || hs[0].Type != protocol.TypeVideo {
		t.Errorf("sequence headers before the keyframe: %+v", hs)
	}
	tag, err := NewCursor(r, p.Offset, ix.End).Next()
	if err != nil || tag.Timestamp != 1200 || tag.Data[0] != 0x17 {
		t.Fatalf("tag at the seek point: %+v, %v", tag, err)
	}
	// The players' metadata carries the indexed duration.
	vals, err := amf.DecodeAMF0All(ix.Meta)
	if err != nil {
		t.Fatal(err)
	}
	if d, _ := vals[1].(amf.ECMAArray).Number("duration"); d != 1.98 {
		t.Errorf("metadata duration %v, want 1.98", d)
	}
	if w, _ := vals[1].(amf.ECMAArray).Number("width"); w != 320 {
		t.Errorf("metadata lost its width: %v", vals[1])
	}
}

// TestTruncatedFilePlaysToTheCut: a file cut at any byte indexes and reads
// the tags before the cut, never a partial one.
func TestTruncatedFilePlaysToTheCut(t *testing.T) {
	file := writeFile(t, testTags(t, 12))
	whole, err := Scan(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	for cut := 0; cut < len(file); cut++ {
		part := file[:cut]
		ix, err := Scan(bytes.NewReader(part), int64(cut))
		if err != nil {
			if !errors.Is(err, ErrNotFLV) && !errors.Is(err, ErrNoMedia) {
				t.Fatalf("cut at %d: %v", cut, err)
			}
			continue
		}
		if !ix.Truncated && cut != len(file) {
			// A cut on a tag boundary is a complete (shorter) file.
			if ix.End != int64(cut) {
				t.Fatalf("cut at %d: not truncated but ends at %d", cut, ix.End)
			}
		}
		tags := readAll(t, bytes.NewReader(part), ix.First, ix.End)
		if len(tags) != ix.Tags || len(tags) > whole.Tags {
			t.Fatalf("cut at %d: read %d tags, indexed %d", cut, len(tags), ix.Tags)
		}
	}
}

func TestScanRefusesNonMedia(t *testing.T) {
	for name, tc := range map[string]struct {
		data []byte
		want error
	}{
		"text":        {[]byte("hello, this is not a video at all"), ErrNotFLV},
		"empty":       {nil, ErrNotFLV},
		"header only": {[]byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0}, ErrNoMedia},
		"bad tag type": {append([]byte{'F', 'L', 'V', 1, 5, 0, 0, 0, 9, 0, 0, 0, 0},
			7, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 0xff, 0, 0, 0, 12), ErrNoMedia},
	} {
		_, err := Scan(bytes.NewReader(tc.data), int64(len(tc.data)))
		if !errors.Is(err, tc.want) {
			t.Errorf("%s: %v, want %v", name, err, tc.want)
		}
	}
}

// TestAppendAndPatchDuration: a file appended to after its last complete
// tag (a cut-off tail dropped) reads back whole, and the duration patched
// into its first onMetaData is what a reader finds.
func TestAppendAndPatchDuration(t *testing.T) {
	path := filepath.Join(t.TempDir(), "a.flv")
	file := writeFile(t, testTags(t, 10))
	if err := os.WriteFile(path, append(file, 9, 0, 0), 0o644); err != nil { // a torn tag header
		t.Fatal(err)
	}
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	ix, err := Scan(f, st.Size())
	if err != nil || !ix.Truncated || ix.MetaDurationAt < 0 {
		t.Fatalf("scan: %+v, %v", ix, err)
	}
	if err := f.Truncate(ix.End); err != nil {
		t.Fatal(err)
	}
	if _, err := f.Seek(ix.End, io.SeekStart); err != nil {
		t.Fatal(err)
	}
	w := AppendWriter(f, ix.End, ix.MetaDurationAt)
	base := ix.LastTimestamp + 40
	for i := range 5 {
		if err := w.WriteTag(Tag{Type: protocol.TypeVideo, Timestamp: base + uint32(i*40), Data: []byte{0x27, 1, 0, 0, 0}}); err != nil {
			t.Fatal(err)
		}
	}
	if err := PatchDuration(f, w.DurationAt, 12.5); err != nil {
		t.Fatal(err)
	}
	st, _ = f.Stat()
	ix2, err := Scan(f, st.Size())
	if err != nil || ix2.Truncated || ix2.Tags != ix.Tags+5 || ix2.LastTimestamp != base+160 {
		t.Fatalf("after append: %+v, %v", ix2, err)
	}
	meta := make([]byte, 8)
	if _, err := f.ReadAt(meta, ix2.MetaDurationAt); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(meta, []byte{0x40, 0x29, 0, 0, 0, 0, 0, 0}) {
		t.Errorf("patched duration bytes % x, want 12.5", meta)
	}
}

// FuzzScan: any input indexes or fails cleanly, and every indexed tag
// reads back with a Cursor without error.
func FuzzScan(f *testing.F) {
	f.Add(writeFile(f, testTags(f, 3)))
	f.Fuzz(func(t *testing.T, data []byte) {
		r := bytes.NewReader(data)
		ix, err := Scan(r, int64(len(data)))
		if err != nil {
			return
		}
		if ix.End > int64(len(data)) || ix.First > ix.End {
			t.Fatalf("index [%d, %d) outside %d bytes", ix.First, ix.End, len(data))
		}
		if n := len(readAll(t, r, ix.First, ix.End)); n != ix.Tags {
			t.Fatalf("read %d tags, indexed %d", n, ix.Tags)
		}
		for _, p := range ix.SeekPoints {
			if _, err := NewCursor(r, p.Offset, ix.End).Next(); err != nil {
				t.Fatalf("seek point %+v: %v", p, err)
			}
		}
		if _, err := amf.DecodeAMF0All(ix.Meta); err != nil {
			t.Fatalf("players' metadata does not decode: %v", err)
		}
	})
}

// TestEnhancedAndExtendedTimestamps: Enhanced RTMP (FourCC) video indexes
// its keyframes and sequence start like legacy AVC, and timestamps past
// 24 bits (4.6 hours) survive through the extended byte.
func TestEnhancedAndExtendedTimestamps(t *testing.T) {
	base := uint32(0x01234567)
	tags := []Tag{
		{Type: protocol.TypeVideo, Timestamp: base, Data: []byte{0x90, 'h', 'v', 'c', '1', 1, 2, 3}},               // SequenceStart
		{Type: protocol.TypeVideo, Timestamp: base, Data: []byte{0x91, 'h', 'v', 'c', '1', 0, 0, 0, 9}},            // key, CodedFrames
		{Type: protocol.TypeVideo, Timestamp: base + 33, Data: []byte{0xa3, 'h', 'v', 'c', '1', 7}},                // inter, CodedFramesX
		{Type: protocol.TypeVideo, Timestamp: base + 66, Data: []byte{0x93, 'a', 'v', '0', '1', 7}},                // key, CodedFramesX (AV1)
		{Type: protocol.TypeAudio, Timestamp: base + 70, Data: []byte{0x91, 'O', 'p', 'u', 's', 0, 0}},             // enhanced audio, CodedFrames
		{Type: protocol.TypeVideo, Timestamp: base + 99, Data: []byte{0xa1, 'h', 'v', 'c', '1', 0, 0, 0, 1, 2, 3}}, // inter
	}
	file := writeFile(t, tags)
	ix, err := Scan(bytes.NewReader(file), int64(len(file)))
	if err != nil {
		t.Fatal(err)
	}
	if len(ix.SeqHeaders) != 1 || len(ix.SeekPoints) != 2 || ix.SeekPoints[1].Timestamp != base+66 {
		t.Fatalf("sequence headers %+v, seek points %+v", ix.SeqHeaders, ix.SeekPoints)
	}
	if ix.FirstTimestamp != base || ix.Duration() != 99 {
		t.Errorf("first %#x, duration %d", ix.FirstTimestamp, ix.Duration())
	}
	got := readAll(t, bytes.NewReader(file), ix.First, ix.End)
	for i := range tags {
		if got[i].Timestamp != tags[i].Timestamp || !bytes.Equal(got[i].Data, tags[i].Data) {
			t.Fatalf("tag %d: %+v, want %+v", i, got[i], tags[i])
		}
	}
}
