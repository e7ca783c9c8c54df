package server

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"runtime/pprof"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// player is what the load test needs of either client.
type player interface {
	CreateStream() (uint32, error)
	Play(streamID uint32, name string, start float64) error
	ReadMessage() (protocol.Message, error)
	Close() error
}

// TestMixedAudience: 50 RTMFP and 50 RTMP players on one stream each get a
// keyframe first and keep up with the publisher for 10 seconds, in order.
// A tiny media.merge_above forces merged writes: players are written in
// staggered groups, several frames at a time.
func TestMixedAudience(t *testing.T) {
	if testing.Short() {
		t.Skip("10-second load test")
	}
	const perProtocol = 50
	const fps = 25
	const seconds = 10
	// Keeping up is about throughput here, not about how late a frame may
	// be under a loaded test machine: give RTMFP media a generous deadline.
	ts := startServer(t, func(c *config.Config) {
		c.RTMFP.MediaDeadline = config.Duration{Duration: 5 * time.Second}
		c.Media.MergeAbove = 0.001
	})
	pub, pid := startPublishing(t, ts, "crowd", rtmp.ClientConfig{})
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, pub, pid, protocol.TypeAudio, 0, aacSeqHeader())

	// The publisher runs through the whole test at 25 fps, a keyframe a
	// second, so players join mid-GOP.
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var sent atomic.Int64
	pubDone := make(chan struct{})
	go func() {
		defer close(pubDone)
		tick := time.NewTicker(time.Second / fps)
		defer tick.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-tick.C:
			}
			ts := uint32(i * 1000 / fps)
			if pub.WriteMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: pid, Timestamp: ts, Payload: avcFrame(i%fps == 0, i, 1500)}) != nil {
				return
			}
			if pub.WriteMessage(protocol.Message{Type: protocol.TypeAudio, StreamID: pid, Timestamp: ts, Payload: aacFrame(i)}) != nil {
				return
			}
			sent.Add(1)
		}
	}()
	time.Sleep(1500 * time.Millisecond) // one keyframe in the GOP cache

	// Every player joins first; then all are measured over the same 10 s
	// of publisher timestamps, with a grace period for frames in flight.
	type result struct {
		name     string
		firstKey bool
		frames   int64 // video frames received with timestamps in the window
		err      error
	}
	var (
		joined  sync.WaitGroup
		wg      sync.WaitGroup
		winFrom atomic.Int64
		winTo   atomic.Int64
		stopAt  atomic.Int64
	)
	winFrom.Store(1 << 40)
	winTo.Store(1 << 40)
	results := make(chan result, 2*perProtocol)
	joined.Add(2 * perProtocol)
	for i := range 2 * perProtocol {
		wg.Add(1)
		go func() {
			defer wg.Done()
			r := result{name: "rtmp"}
			once := sync.OnceFunc(joined.Done)
			defer once()
			var c player
			var err error
			dctx, dcancel := context.WithTimeout(ctx, 60*time.Second)
			if i%2 == 0 {
				r.name = "rtmfp"
				var mc *tc.Client
				mc, err = tc.Dial(dctx, ts.mfp, tc.ClientConfig{LocalAddr: "127.0.0.1:0"})
				if err == nil {
					mc.SetDeadline(time.Now().Add(120 * time.Second))
					c = mc
				}
			} else {
				var rc *rtmp.Client
				rc, err = rtmp.Dial(dctx, ts.url, rtmp.ClientConfig{})
				if err == nil {
					_ = rc.SetDeadline(time.Now().Add(120 * time.Second))
					c = rc
				}
			}
			dcancel()
			if err != nil {
				r.err = err
				results <- r
				return
			}
			defer c.Close()
			id, err := c.CreateStream()
			if err == nil {
				err = c.Play(id, "crowd", -2000)
			}
			once()
			seen := false
			var last uint32
			for err == nil {
				if s := stopAt.Load(); s != 0 && time.Now().UnixNano() > s {
					break
				}
				var m protocol.Message
				if m, err = c.ReadMessage(); err != nil {
					break
				}
				if m.StreamID != id || m.Type != protocol.TypeVideo {
					continue
				}
				vi := media.ParseVideo(m.Payload)
				if vi.SeqHeader {
					continue
				}
				if !seen {
					seen, r.firstKey = true, vi.Keyframe
				} else if m.Timestamp <= last {
					err = fmt.Errorf("video frame at %d ms after one at %d ms", m.Timestamp, last)
					break
				}
				last = m.Timestamp
				if ts := int64(m.Timestamp); ts >= winFrom.Load() && ts < winTo.Load() {
					r.frames++
				}
			}
			r.err = err
			results <- r
		}()
	}
	joined.Wait()
	// An RTMFP client session is served on one goroutine of the server's
	// (besides the session's own), not one per flow.
	if n := goroutinesIn("rtmfpconn.(*Conn).serveFlows"); n != perProtocol {
		t.Errorf("%d goroutines serve %d RTMFP players' sessions", n, perProtocol)
	}
	if n := goroutinesIn("rtmfpconn.(*Conn)", "RecvFlow).ReadMessage"); n != 0 {
		t.Errorf("%d server goroutines wait on a flow of their own", n)
	}
	winFrom.Store(sent.Load()*1000/fps + 1000/fps)
	time.Sleep(seconds * time.Second)
	winTo.Store(sent.Load()*1000/fps + 1000/fps)
	want := (winTo.Load() - winFrom.Load()) * fps / 1000
	time.Sleep(3 * time.Second) // frames in flight
	stopAt.Store(time.Now().UnixNano())
	wg.Wait()
	cancel()
	<-pubDone
	close(results)
	n := 0
	for r := range results {
		n++
		if r.err != nil {
			t.Errorf("%s player: %v", r.name, r.err)
			continue
		}
		if !r.firstKey {
			t.Errorf("%s player: first video frame is not a keyframe", r.name)
		}
		if r.frames < want*95/100 {
			t.Errorf("%s player: %d of the %d frames published in the window", r.name, r.frames, want)
		}
	}
	if n != 2*perProtocol {
		t.Fatalf("%d players reported", n)
	}
}

// goroutinesIn counts the goroutines with every one of fns in their stacks.
func goroutinesIn(fns ...string) int {
	var stacks bytes.Buffer
	_ = pprof.Lookup("goroutine").WriteTo(&stacks, 2) // one stack per goroutine, blank lines between
	count := 0
	for _, g := range bytes.Split(stacks.Bytes(), []byte("\n\n")) {
		all := true
		for _, fn := range fns {
			all = all && bytes.Contains(g, []byte(fn))
		}
		if all {
			count++
		}
	}
	return count
}

// blackhole is a PacketConn whose traffic can be cut, as when a client
// vanishes from the network without closing its session.
type blackhole struct {
	net.PacketConn
	cut atomic.Bool
}

func (b *blackhole) WriteTo(p []byte, addr net.Addr) (int, error) {
	if b.cut.Load() {
		return len(p), nil
	}
	return b.PacketConn.WriteTo(p, addr)
}

// TestRTMFPVanishedPublisherCleanedUp: an RTMFP publisher that disappears
// without closing is dropped after the idle timeout and its stream is
// unpublished (its player is told).
func TestRTMFPVanishedPublisherCleanedUp(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.RTMFP.IdleTimeout = config.Duration{Duration: 2 * time.Second} })
	pc, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	bh := &blackhole{PacketConn: pc}
	pub := dialRTMFP(t, ts.mfp, tc.ClientConfig{PacketConn: bh})
	pid, err := pub.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(pid, "ghost", "live"); err != nil {
		t.Fatal(err)
	}
	player, id := startPlaying(t, ts, "ghost", rtmp.ClientConfig{})
	bh.cut.Store(true)
	start := time.Now()
	if _, err := player.WaitStatus(id, protocol.PlayUnpublishNotify); err != nil {
		t.Fatalf("waiting for UnpublishNotify: %v", err)
	}
	if took := time.Since(start); took > 10*time.Second {
		t.Errorf("unpublished after %v, idle timeout is 2 s", took)
	}
	testtools.WaitFor(t, 5*time.Second, "the stream to lose its publisher", func() bool {
		s := ts.stream(t, "ghost")
		return s == nil || !s.Published()
	})
}
