package recorder

import (
	"errors"
	"os"
	"path/filepath"
	"sync"
	"syscall"
	"testing"
	"time"

	"go.uber.org/goleak"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

type publisher struct{}

func (publisher) Silence() time.Duration { return 0 }
func (publisher) Evict(error)            {}

// publish makes a published stream "s" and returns a function writing
// frames to it: metadata and sequence headers, then n video frames 40 ms
// apart from ts0 with a keyframe every 10 and audio between them.
func publish(t *testing.T) (*media.Registry, func(ts0 uint32, n int, size int)) {
	t.Helper()
	reg := media.NewRegistry(media.Config{GOPCache: true})
	s, err := reg.Publish("s", publisher{})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unpublish(publisher{}) })
	meta, _ := protocol.AppendValues(nil, "onMetaData", amf.ECMAArray{{Key: "width", Value: 320.0}, {Key: "duration", Value: 0.0}})
	s.Write(publisher{}, &media.Frame{Type: protocol.TypeDataAMF0, Payload: meta, Metadata: true})
	s.Write(publisher{}, media.NewFrame(protocol.TypeVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}))
	s.Write(publisher{}, media.NewFrame(protocol.TypeAudio, 0, []byte{0xaf, 0, 0x12, 0x10}))
	return reg, func(ts0 uint32, n, size int) {
		for i := range n {
			b := make([]byte, size)
			b[0], b[1] = 0x27, 1
			if i%10 == 0 {
				b[0] = 0x17
			}
			ts := ts0 + uint32(i*40)
			s.Write(publisher{}, media.NewFrame(protocol.TypeVideo, ts, b))
			s.Write(publisher{}, media.NewFrame(protocol.TypeAudio, ts+20, []byte{0xaf, 1, byte(i)}))
		}
	}
}

// record starts a recorder of "s" and returns a channel with its end.
func record(t *testing.T, reg *media.Registry, o Options) (*Recorder, <-chan error) {
	t.Helper()
	ended := make(chan error, 1)
	o.OnEnd = func(err error) { ended <- err }
	r, err := Start(reg, "s", o)
	if err != nil {
		t.Fatal(err)
	}
	return r, ended
}

func readDuration(t *testing.T, path string, at int64) float64 {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	b := make([]byte, 9)
	if _, err := f.ReadAt(b[1:], at); err != nil {
		t.Fatal(err)
	}
	v, err := amf.DecodeAMF0All(b)
	if err != nil {
		t.Fatal(err)
	}
	return v[0].(float64)
}

// TestRecordAndAppend: a recording starts at timestamp 0 whatever the
// stream's, has its duration filled in at the end; an appended one
// continues the timestamps and the duration.
func TestRecordAndAppend(t *testing.T) {
	dir := t.TempDir()
	reg, write := publish(t)
	r, ended := record(t, reg, Options{Dir: dir, Name: "sub/a.flv"})
	write(5000, 50, 100)
	r.Stop()
	if err := <-ended; err != nil {
		t.Fatalf("recording ended with %v", err)
	}
	path := filepath.Join(dir, "sub", "a.flv")
	ix := testtools.ScanFLV(t, path)
	if ix.FirstTimestamp != 0 || ix.LastTimestamp != 49*40+20 || ix.Tags != 3+100 || len(ix.SeekPoints) != 5 {
		t.Fatalf("recorded index: first %d last %d tags %d seek points %d", ix.FirstTimestamp, ix.LastTimestamp, ix.Tags, len(ix.SeekPoints))
	}
	if d := readDuration(t, path, ix.MetaDurationAt); d != 1.98 {
		t.Errorf("duration %v, want 1.98", d)
	}

	r, ended = record(t, reg, Options{Dir: dir, Name: "sub/a.flv", Append: true})
	write(9000, 20, 100)
	r.Stop()
	if err := <-ended; err != nil {
		t.Fatalf("appending ended with %v", err)
	}
	ix2 := testtools.ScanFLV(t, path)
	// The late joiner gets the GOP cache too (from the keyframe at 9400).
	if ix2.LastTimestamp <= ix.LastTimestamp || ix2.Tags <= ix.Tags || ix2.Truncated {
		t.Fatalf("appended index: last %d (was %d), tags %d (was %d)", ix2.LastTimestamp, ix.LastTimestamp, ix2.Tags, ix.Tags)
	}
	prev := uint32(0)
	c := flvfile.NewCursor(mustOpen(t, path), ix2.First, ix2.End)
	for {
		tag, err := c.Next()
		if err != nil {
			break
		}
		if tag.Type == protocol.TypeVideo && tag.Timestamp < prev {
			t.Fatalf("video timestamp went back from %d to %d", prev, tag.Timestamp)
		}
		if tag.Type == protocol.TypeVideo {
			prev = tag.Timestamp
		}
	}
	if d := readDuration(t, path, ix2.MetaDurationAt); d != float64(ix2.LastTimestamp)/1000 {
		t.Errorf("duration after append %v, want %v", d, float64(ix2.LastTimestamp)/1000)
	}
}

func mustOpen(t *testing.T, path string) *os.File {
	t.Helper()
	f, err := os.Open(path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return f
}

func TestSecondRecorderOfOneFileRefused(t *testing.T) {
	dir := t.TempDir()
	reg, _ := publish(t)
	r, ended := record(t, reg, Options{Dir: dir, Name: "a.flv"})
	if _, err := Start(reg, "s", Options{Dir: dir, Name: "./a.flv"}); !errors.Is(err, ErrBusy) {
		t.Fatalf("second recorder: %v, want ErrBusy", err)
	}
	r.Stop()
	<-ended
	// Once the first has stopped, the name is free again.
	r, ended = record(t, reg, Options{Dir: dir, Name: "a.flv"})
	r.Stop()
	<-ended
}

func TestNameOutsideTheFolderRefused(t *testing.T) {
	dir := t.TempDir()
	outside := t.TempDir()
	if err := os.Symlink(outside, filepath.Join(dir, "link")); err != nil {
		t.Fatal(err)
	}
	reg, _ := publish(t)
	for _, name := range []string{"../x.flv", "link/x.flv"} {
		if r, err := Start(reg, "s", Options{Dir: dir, Name: name}); err == nil {
			r.Stop()
			t.Errorf("%s: recording started", name)
		}
	}
	if entries, _ := os.ReadDir(outside); len(entries) != 0 {
		t.Errorf("files written outside the folder: %v", entries)
	}
}

// fullDisk is a file on which writes fail with ENOSPC once limit bytes
// have been written, after writing what fits.
type fullDisk struct {
	*os.File
	mu      sync.Mutex
	limit   int
	written int
}

func (f *fullDisk) Write(p []byte) (int, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	room := f.limit - f.written
	if room >= len(p) {
		f.written += len(p)
		return f.File.Write(p)
	}
	n, _ := f.File.Write(p[:max(room, 0)])
	f.written += n
	return n, &os.PathError{Op: "write", Path: f.Name(), Err: syscall.ENOSPC}
}

// TestFullDiskStopsRecordingOnly: a write error ends the recording with
// the error while the stream and its other subscribers go on, and the
// file plays up to where the disk filled.
func TestFullDiskStopsRecordingOnly(t *testing.T) {
	dir := t.TempDir()
	reg, write := publish(t)
	player := make(chan struct{}, 1)
	sub := media.NewSubscriber(media.SubscriberConfig{MaxFrames: 4096, MaxBytes: 64 << 20}, &media.ChanSink{C: player})
	if _, err := reg.Subscribe("s", sub, true); err != nil {
		t.Fatal(err)
	}
	defer reg.Get("s").Unsubscribe(sub)
	_, ended := record(t, reg, Options{Dir: dir, Name: "full.flv",
		create: func(root *os.Root, name string, flag int) (file, error) {
			f, err := root.OpenFile(name, flag, 0o644)
			return &fullDisk{File: f, limit: 100 << 10}, err
		}})
	write(0, 500, 1000) // 500 kB: the buffer reaches the disk on its own
	select {
	case err := <-ended:
		if !errors.Is(err, syscall.ENOSPC) {
			t.Fatalf("recording ended with %v, want ENOSPC", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("recording did not stop on a full disk")
	}
	if n := sub.Len(); n < 1000 {
		t.Errorf("the other subscriber has %d entries, want all of them", n)
	}
	ix := testtools.ScanFLV(t, filepath.Join(dir, "full.flv"))
	if ix.Tags < 50 || ix.End > 100<<10 {
		t.Errorf("the cut file indexes %d tags up to %d", ix.Tags, ix.End)
	}
	if s := reg.Get("s"); s.Info().Subscribers != 1 {
		t.Errorf("%d subscribers after the recorder stopped, want the player alone", s.Info().Subscribers)
	}
}

// blockedDisk never returns from a write until released.
type blockedDisk struct {
	*os.File
	release chan struct{}
}

func (f *blockedDisk) Write(p []byte) (int, error) {
	<-f.release
	return f.File.Write(p)
}

// TestStuckDiskNeverBlocksThePublisher: a recorder whose writes hang
// drops frames like a slow player and, past its lag bound, ends with
// ErrLagging; the publisher's writes are not held up meanwhile.
func TestStuckDiskNeverBlocksThePublisher(t *testing.T) {
	dir := t.TempDir()
	reg, write := publish(t)
	release := make(chan struct{})
	_, ended := record(t, reg, Options{Dir: dir, Name: "stuck.flv",
		Subscriber: media.SubscriberConfig{MaxBytes: 64 << 10, MaxLag: 100 * time.Millisecond},
		create: func(root *os.Root, name string, flag int) (file, error) {
			f, err := root.OpenFile(name, flag, 0o644)
			return &blockedDisk{File: f, release: release}, err
		}})
	start := time.Now()
	write(0, 200, 70<<10) // 14 MB through a buffer that cannot empty
	time.Sleep(150 * time.Millisecond)
	write(8000, 20, 70<<10) // past the lag bound: the recorder is told
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("publishing took %v with the recorder stuck", d)
	}
	close(release)
	if err := <-ended; !errors.Is(err, ErrLagging) {
		t.Fatalf("stuck recording ended with %v, want ErrLagging", err)
	}
}

// TestRecordingEndsWithThePublication: a recorder can be found by its
// file while it records and reports the duration written so far; the
// publisher's leaving ends it like Stop (OnEnd nil, the duration filled
// in) and frees the file.
func TestRecordingEndsWithThePublication(t *testing.T) {
	dir := t.TempDir()
	reg, write := publish(t)
	r, ended := record(t, reg, Options{Dir: dir, Name: "a.flv"})
	if got := Active(dir, "./a.flv"); got != r {
		t.Fatalf("Active = %p, want the recorder %p", got, r)
	}
	if got := Active(dir, "b.flv"); got != nil {
		t.Fatalf("Active of a file nobody records = %p", got)
	}
	write(0, 25, 100)
	deadline := time.Now().Add(5 * time.Second)
	for r.Duration() != 24*40*time.Millisecond+20*time.Millisecond {
		if time.Now().After(deadline) {
			t.Fatalf("duration so far %v, want 980ms", r.Duration())
		}
		time.Sleep(10 * time.Millisecond)
	}
	reg.Get("s").Unpublish(publisher{})
	select {
	case err := <-ended:
		if err != nil {
			t.Fatalf("recording ended with %v, want nil", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the recording went on after the publisher left")
	}
	if got := Active(dir, "a.flv"); got != nil {
		t.Errorf("the ended recorder is still active")
	}
	path := filepath.Join(dir, "a.flv")
	if d := readDuration(t, path, testtools.ScanFLV(t, path).MetaDurationAt); d != 0.98 {
		t.Errorf("duration %v, want 0.98", d)
	}
}
