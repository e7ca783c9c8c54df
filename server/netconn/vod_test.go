package netconn

import (
	"path/filepath"
	"runtime"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestManyVODPlayersHoldLittle: players of one file share its index and
// each holds little once its start-up lead has been sent (here drained
// at once, as a socket that keeps up would take it): no copy of the file,
// no queue of it.
func TestManyVODPlayersHoldLittle(t *testing.T) {
	dir := t.TempDir()
	testtools.SyntheticFLV(t, filepath.Join(dir, "live", "streams", "_definst_", "clip.flv"), 60, 2000, false)
	h := newHarness(t)
	cfg := &Config{AppsDir: dir}
	const n = 200
	clients := make([]*client, n)
	for i := range clients {
		tr := &fakeTransport{}
		cl := &client{t: t, tr: tr, dec: amf.NewDecoder(), c: NewConn("c", tr, h.reg, cfg, zap.NewNop()), batch: 64}
		cl.command(0, "connect", amf.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}})
		cl.command(0, "createStream", nil)
		cl.drain()
		clients[i] = cl
	}
	defer func() {
		for _, cl := range clients {
			cl.c.Close()
		}
	}()
	before := heap()
	for i, cl := range clients {
		cl.command(1, "play", nil, "clip", float64(i%50)*1000) // each at its own position
	}
	// Each sends its 3 s lead at once; drain it as sockets would.
	deadline := time.Now().Add(5 * time.Second)
	for _, cl := range clients {
		got := 0
		for got < 3*25 && time.Now().Before(deadline) {
			for _, o := range cl.c.Outbox().NextBatch(nil, 64) {
				if o.Type == protocol.TypeVideo {
					got++
				}
			}
			time.Sleep(time.Millisecond)
		}
		if got < 3*25 {
			t.Fatalf("a player got %d video frames of its lead, want 75", got)
		}
	}
	// What came due meanwhile goes too, as a socket would take it.
	for _, cl := range clients {
		for len(cl.c.Outbox().NextBatch(nil, 64)) > 0 {
		}
	}
	per := (heap() - before) / n
	t.Logf("%d bytes per VOD player", per)
	if per > 24<<10 {
		t.Errorf("%d bytes per VOD player, want under 24 KiB", per)
	}
	indexes.mu.Lock()
	cached := len(indexes.m)
	indexes.mu.Unlock()
	if cached < 1 {
		t.Error("the file's index is not cached")
	}
}

// heap is the memory in use after a collection: heap objects and stacks.
func heap() int {
	runtime.GC()
	var m runtime.MemStats
	runtime.ReadMemStats(&m)
	return int(m.HeapInuse + m.StackInuse)
}

// TestPlaylistBounded: a playlist takes maxPlaylist items after the one
// playing; more get NetStream.Play.Failed, each holding an open file.
func TestPlaylistBounded(t *testing.T) {
	dir := t.TempDir()
	// Long enough that the first item, sent 3 s ahead, is still playing.
	testtools.SyntheticFLV(t, filepath.Join(dir, "live", "streams", "_definst_", "clip.flv"), 30, 2000, false)
	h := newHarness(t)
	tr := &fakeTransport{}
	cl := &client{t: t, tr: tr, dec: amf.NewDecoder(), c: NewConn("c", tr, h.reg, &Config{AppsDir: dir}, zap.NewNop())}
	defer cl.c.Close()
	cl.command(0, "connect", amf.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}})
	cl.command(0, "createStream", nil)
	cl.command(1, "play", nil, "clip", 0.0, -1.0, true)
	cl.drain()
	failed := 0
	for range maxPlaylist + 5 {
		cl.command(1, "play", nil, "clip", 0.0, -1.0, false)
		for _, s := range cl.drain() {
			if s == "onStatus "+protocol.PlayFailed {
				failed++
			}
		}
	}
	if failed != 5 {
		t.Errorf("%d appended items refused, want 5", failed)
	}
}
