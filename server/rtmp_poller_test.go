//go:build linux

package server

import (
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/rtmpconn"
)

// TestQuietReadersPark: a player's reader parks once the player has
// nothing more to say, wakes for the next command (and parks again), and
// a publisher's reader never parks; media reaches the parked player, and
// a parked connection that closes is released.
func TestQuietReadersPark(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.RTMP.Poller = true })
	parked := func(n int) func() bool { return func() bool { return ts.poller.Len() == n } }

	player, pid := startPlaying(t, ts, "quiet", rtmp.ClientConfig{})
	testtools.WaitFor(t, 5*time.Second, "the player's reader to park", parked(1))

	// A command wakes it: the reply comes, and it parks again.
	if _, err := player.CreateStream(); err != nil {
		t.Fatalf("createStream while parked: %v", err)
	}
	testtools.WaitFor(t, 5*time.Second, "the player's reader to park again", parked(1))

	publishTen(t, ts, player, pid)
	// The publisher sent plenty and still reads on its own goroutine.
	if n := ts.poller.Len(); n != 1 {
		t.Fatalf("%d readers parked with a publisher and a player, want 1 (the player's)", n)
	}

	player.Close()
	testtools.WaitFor(t, 5*time.Second, "the closed player to be released", parked(0))
	testtools.WaitFor(t, 5*time.Second, "the closed player's connection to end", func() bool {
		ts.mu.Lock()
		defer ts.mu.Unlock()
		return len(ts.conns) == 1 // the publisher
	})
}

// TestPollerOff: with rtmp.poller off there is no poller and a quiet
// player keeps its reader goroutine: it still answers commands and gets
// media.
func TestPollerOff(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.RTMP.Poller = false })
	if ts.poller != nil {
		t.Fatal("a poller runs with rtmp.poller off")
	}
	player, pid := startPlaying(t, ts, "quiet", rtmp.ClientConfig{})
	time.Sleep(2 * rtmpconn.ParkDelay) // long enough to park, were there a poller
	if _, err := player.CreateStream(); err != nil {
		t.Fatalf("createStream after a quiet spell: %v", err)
	}
	publishTen(t, ts, player, pid)
}

// publishTen publishes ten video frames on "quiet" and checks that the
// quiet player gets each.
func publishTen(t *testing.T, ts *testServer, player *rtmp.Client, pid uint32) {
	t.Helper()
	pub, id := startPublishing(t, ts, "quiet", rtmp.ClientConfig{})
	for i := range 10 {
		send(t, pub, id, protocol.TypeVideo, uint32(i*33), avcFrame(i == 0, i, 256))
	}
	for range 10 {
		if m := readMedia(t, player, pid); m.Type != protocol.TypeVideo {
			t.Fatalf("quiet player got %v, want video", m.Type)
		}
	}
}
