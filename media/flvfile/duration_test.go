package flvfile

import (
	"bytes"
	"errors"
	"testing"

	"github.com/nimbus-media/nimbus/protocol"
)

// TestDurationMatchesScan: the duration read from a file's ends is the
// one a full scan finds, for a whole file, one ending in data tags, and
// one cut at every byte (which falls back to the scan).
func TestDurationMatchesScan(t *testing.T) {
	tags := testTags(t, 30)
	for i := range 3 {
		// A publisher's @setDataFrame or a cue point after the last frame.
		tags = append(tags, Tag{Type: protocol.TypeDataAMF0, Timestamp: 2000, Data: append([]byte("\x02\x00\x03cue"), byte(i))})
	}
	file := writeFile(t, tags)
	d, err := Duration(bytes.NewReader(file), int64(len(file)))
	if err != nil || d != 29*40+20 {
		t.Fatalf("Duration = %d, %v; want %d", d, err, 29*40+20)
	}
	for cut := range len(file) {
		part := file[:cut]
		ix, serr := Scan(bytes.NewReader(part), int64(cut))
		d, err := Duration(bytes.NewReader(part), int64(cut))
		switch {
		case serr != nil:
			if !errors.Is(err, ErrNotFLV) && !errors.Is(err, ErrNoMedia) {
				t.Fatalf("cut at %d: Duration %d, %v; Scan failed with %v", cut, d, err, serr)
			}
		case err != nil || d != ix.Duration():
			t.Fatalf("cut at %d: Duration %d, %v; Scan's %d", cut, d, err, ix.Duration())
		}
	}
}

// countingReader counts ReadAt calls.
type countingReader struct {
	*bytes.Reader
	reads int
}

func (c *countingReader) ReadAt(p []byte, off int64) (int, error) {
	c.reads++
	return c.Reader.ReadAt(p, off)
}

// TestDurationReadsOnlyTheEnds: a long file costs a few reads, not one
// per tag.
func TestDurationReadsOnlyTheEnds(t *testing.T) {
	file := writeFile(t, testTags(t, 5000))
	r := &countingReader{Reader: bytes.NewReader(file)}
	if d, err := Duration(r, int64(len(file))); err != nil || d != 4999*40+20 {
		t.Fatalf("Duration = %d, %v", d, err)
	}
	if r.reads > 6 {
		t.Errorf("%d reads for a %d-tag file, want a handful", r.reads, 2*5000+3)
	}
}
