package recorder

import (
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/mp4file"
	"github.com/nimbus-media/nimbus/protocol"
)

// TestRecordMP4: a stream recorded with MP4 set is a fragmented MP4
// holding every audio and video frame, its timestamps starting at 0;
// appending to an MP4 is refused before anything is opened.
func TestRecordMP4(t *testing.T) {
	src := testtools.ClipFLV(t, t.TempDir(), 3, 10)
	ix := testtools.ScanFLV(t, src)
	reg := media.NewRegistry(media.Config{GOPCache: true})
	s, err := reg.Publish("s", publisher{})
	if err != nil {
		t.Fatal(err)
	}
	defer s.Unpublish(publisher{})
	dir := t.TempDir()
	r, ended := record(t, reg, Options{Dir: dir, Name: "rec.mp4", MP4: true})
	var frames int
	var first uint32
	for _, tag := range testtools.FLVTags(t, src) {
		fr := media.NewFrame(tag.Type, tag.Timestamp+5000, tag.Data)
		if tag.Type == protocol.TypeDataAMF0 {
			fr.Metadata = media.IsMetaData(tag.Data)
		} else if len(tag.Data) > 1 && tag.Data[1] == 1 {
			if frames == 0 {
				first = tag.Timestamp
			}
			frames++
		}
		s.Write(publisher{}, fr)
	}
	testtools.WaitFor(t, 5*time.Second, "the frames to be queued", func() bool { return s.Info().FramesIn >= uint64(ix.Tags) })
	r.Stop()
	if err := <-ended; err != nil {
		t.Fatal(err)
	}
	out, err := os.Open(filepath.Join(dir, "rec.mp4"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	st, _ := out.Stat()
	mix, err := mp4file.Scan(out, st.Size())
	if err != nil {
		t.Fatal(err)
	}
	if !mix.Fragmented || mix.Samples != frames || mix.FirstTimestamp != 0 {
		t.Errorf("recorded %d samples from %d ms (fragmented %v), want %d from 0", mix.Samples, mix.FirstTimestamp, mix.Fragmented, frames)
	}
	if d := mix.Duration(); d+first < ix.Duration()-100 || d > ix.Duration()+100 {
		t.Errorf("recorded %d ms of %d", d, ix.Duration())
	}

	if _, err := Start(reg, "s", Options{Dir: dir, Name: "rec.mp4", MP4: true, Append: true}); !errors.Is(err, ErrAppendMP4) {
		t.Errorf("append to MP4: %v, want %v", err, ErrAppendMP4)
	}
}
