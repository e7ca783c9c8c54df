//go:build linux

package netconn

import (
	"os"
	"os/signal"
	"path/filepath"
	"slices"
	"syscall"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
)

// TestRecordFailedOnFullDisk: with the file size limited (RLIMIT_FSIZE,
// the process's own "full disk": writes past it fail with EFBIG), a
// publisher that asked to record gets NetStream.Record.Failed, goes on
// publishing to its player, and what was recorded reads back.
func TestRecordFailedOnFullDisk(t *testing.T) {
	dir := t.TempDir()
	h := newHarness(t)
	cfg := &Config{AppsDir: dir}
	connect := func() *client {
		tr := &fakeTransport{}
		cl := &client{t: t, tr: tr, dec: amf.NewDecoder(), c: NewConn("c", tr, h.reg, cfg, zap.NewNop())}
		cl.command(0, "connect", amf.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}})
		cl.drain()
		cl.command(0, "createStream", nil)
		cl.drain()
		return cl
	}
	pub := connect()
	pub.command(1, "publish", nil, "rec", "record")
	expect(t, pub.drain(), "onStatus "+protocol.PublishStart, "onStatus "+protocol.RecordStart)
	player := connect()
	player.command(1, "play", nil, "rec", -1000.0)
	player.drain()

	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	signal.Ignore(syscall.SIGXFSZ) // else the kernel's signal ends the process
	defer signal.Reset(syscall.SIGXFSZ)
	limit := old
	limit.Cur = 64 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Skipf("cannot limit the file size: %v", err)
	}
	restored := false
	restore := func() {
		if !restored {
			restored = true
			_ = syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)
		}
	}
	defer restore()

	frame := func(ts uint32, key bool) {
		b := make([]byte, 10<<10)
		b[0], b[1] = 0x27, 1
		if key {
			b[0] = 0x17
		}
		if err := pub.c.HandleMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Timestamp: ts, Payload: b}); err != nil {
			t.Fatal(err)
		}
	}
	var got []string
	for i := 0; !slices.Contains(got, "onStatus "+protocol.RecordFailed); i++ {
		if i == 500 {
			t.Fatalf("no Record.Failed after 5 MB; publisher got %v", got)
		}
		frame(uint32(i*40), i%25 == 0)
		got = append(got, pub.drain()...)
		time.Sleep(time.Millisecond)
	}
	restore()
	// The stream goes on: the player keeps getting frames.
	player.drain()
	frame(100000, true)
	if got := player.drain(); !slices.Contains(got, "Video") {
		t.Errorf("player got %v after the recording failed, want the frame", got)
	}
	pub.command(1, "closeStream", nil)
	expect(t, pub.drain(), "onStatus "+protocol.UnpublishSuccess)

	f, err := os.Open(filepath.Join(dir, "live", "streams", "_definst_", "rec.flv"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	st, _ := f.Stat()
	ix, err := flvfile.Scan(f, st.Size())
	if err != nil || ix.Tags < 3 || st.Size() > 64<<10 {
		t.Fatalf("the cut recording: %d bytes, index %+v, %v", st.Size(), ix, err)
	}
}
