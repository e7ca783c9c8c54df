package server

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestBatchedFanout: players of one stream get every frame intact and in
// order, with the fan-out's writes gathered into io_uring batches and
// with them written one by one (media.io_uring off).
func TestBatchedFanout(t *testing.T) {
	for _, on := range []bool{true, false} {
		name := map[bool]string{true: "io_uring", false: "writev"}[on]
		t.Run(name, func(t *testing.T) {
			ts := startServer(t, func(c *config.Config) { c.Media.IOURing = on })
			pub, pid := startPublishing(t, ts, "b", rtmp.ClientConfig{})
			const players, frames = 40, 60
			type player struct {
				c  *rtmp.Client
				id uint32
			}
			ps := make([]player, players)
			for i := range ps {
				ps[i].c, ps[i].id = startPlaying(t, ts, "b", rtmp.ClientConfig{})
			}
			testtools.WaitFor(t, 5*time.Second, "the players to subscribe", func() bool {
				return ts.stream(t, "b").Info().Subscribers == players
			})
			errs := make(chan error, players)
			for _, p := range ps {
				go func() { errs <- readFrames(p.c, p.id, frames) }()
			}
			send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
			for i := range frames {
				send(t, pub, pid, protocol.TypeVideo, uint32(i*33), avcFrame(i%20 == 0, i, 3000+i*97))
				time.Sleep(2 * time.Millisecond) // a live pace, which the players keep up with
			}
			for range ps {
				if err := <-errs; err != nil {
					t.Fatal(err)
				}
			}
			if !on {
				if ts.batches != nil {
					t.Error("a batch pool with io_uring off")
				}
				return
			}
			if err := egress.URingAvailable(); err != nil {
				t.Logf("io_uring unavailable here (%v): the writes went one by one", err)
				return
			}
			if n := ts.batches.Writes(); n < players*frames/2 {
				t.Errorf("%d writes through batches, want most of the %d", n, players*frames)
			}
		})
	}
}

// readFrames reads until the video frames 0..frames-1 came, checking
// each against what the publisher sent.
func readFrames(c *rtmp.Client, id uint32, frames int) error {
	_ = c.SetDeadline(time.Now().Add(20 * time.Second))
	next := 0
	for next < frames {
		m, err := c.ReadMessage()
		if err != nil {
			return err
		}
		if m.StreamID != id || m.Type != protocol.TypeVideo || media.ParseVideo(m.Payload).SeqHeader {
			continue
		}
		if want := avcFrame(next%20 == 0, next, 3000+next*97); !bytes.Equal(m.Payload, want) || m.Timestamp != uint32(next*33) {
			return errors.New("a frame came damaged or out of order")
		}
		next++
	}
	return nil
}
