package testtools

import (
	"bytes"
	"io"
	"os"
	"path/filepath"
	"testing"

	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
)

// openFLV opens an FLV file and indexes it with the server's own reader;
// the caller closes the file.
func openFLV(t testing.TB, path string) (*os.File, *flvfile.Index) {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	st, err := f.Stat()
	if err != nil {
		f.Close()
		t.Fatal(err)
	}
	ix, err := flvfile.Scan(f, st.Size())
	if err != nil {
		f.Close()
		t.Fatalf("%s: %v", path, err)
	}
	return f, ix
}

// ScanFLV indexes an FLV file with the server's own reader.
func ScanFLV(t testing.TB, path string) *flvfile.Index {
	t.Helper()
	f, ix := openFLV(t, path)
	f.Close()
	return ix
}

// FLVTags reads an FLV file's tags with the server's own reader.
func FLVTags(t testing.TB, path string) []flvfile.Tag {
	t.Helper()
	f, ix := openFLV(t, path)
	defer f.Close()
	var tags []flvfile.Tag
	c := flvfile.NewCursor(f, ix.First, ix.End)
	for {
		tag, err := c.Next()
		if err == io.EOF {
			return tags
		}
		if err != nil {
			t.Fatalf("%s: %v", path, err)
		}
		tags = append(tags, tag)
	}
}

// SyntheticFLV writes to path (making its folder) secs seconds of 25 fps
// AVC, frameSize bytes a frame with a keyframe a second, and AAC between
// the frames, after their sequence headers; with metadata, an onMetaData
// with the duration comes first, as an encoder writes it. The bodies are
// not decodable: for tests of what the server reads and paces.
func SyntheticFLV(t testing.TB, path string, secs, frameSize int, metadata bool) {
	t.Helper()
	var b bytes.Buffer
	w, err := flvfile.NewWriter(&b, true, true)
	if err != nil {
		t.Fatal(err)
	}
	var tags []flvfile.Tag
	if metadata {
		meta, _ := protocol.AppendValues(nil, "onMetaData", map[string]any{"duration": float64(secs)})
		tags = append(tags, flvfile.Tag{Type: protocol.TypeDataAMF0, Data: meta})
	}
	tags = append(tags,
		flvfile.Tag{Type: protocol.TypeVideo, Data: []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}},
		flvfile.Tag{Type: protocol.TypeAudio, Data: []byte{0xaf, 0, 0x12, 0x10}})
	for i := range secs * 25 {
		v := make([]byte, frameSize)
		v[0], v[1] = 0x27, 1
		if i%25 == 0 {
			v[0] = 0x17
		}
		tags = append(tags, flvfile.Tag{Type: protocol.TypeVideo, Timestamp: uint32(i * 40), Data: v},
			flvfile.Tag{Type: protocol.TypeAudio, Timestamp: uint32(i*40 + 20), Data: []byte{0xaf, 1, 0, 0, 0, 0}})
	}
	for _, tag := range tags {
		if err := w.WriteTag(tag); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, b.Bytes(), 0o644); err != nil {
		t.Fatal(err)
	}
}
