package server

import (
	"encoding/binary"
	"net/netip"
	"sort"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testnet"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestRTMFPPlayerOnLossyPath: through 5% loss and 50 ms of delay an RTMFP
// player keeps playing with bounded latency: frames that cannot arrive
// within the media deadline are abandoned, not queued behind.
func TestRTMFPPlayerOnLossyPath(t *testing.T) {
	const deadline = 500 * time.Millisecond
	ts := startServer(t, func(c *config.Config) { c.RTMFP.MediaDeadline = config.Duration{Duration: deadline} })
	relay, err := testnet.New(netip.MustParseAddrPort(ts.RTMFPAddr().String()),
		testnet.Impairments{Loss: 0.05, Delay: 50 * time.Millisecond}, 7)
	if err != nil {
		t.Fatal(err)
	}
	defer relay.Close()

	pub, pid := startPublishing(t, ts, "lossy", rtmp.ClientConfig{})
	player := dialRTMFP(t, "rtmfp://"+relay.Addr().String()+"/live", tc.ClientConfig{LocalAddr: "127.0.0.1:0"})
	id, err := player.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := player.Play(id, "lossy", -2000); err != nil {
		t.Fatal(err)
	}

	// 25 fps of 1.5 KB frames (300 kbit/s: what a TCP-friendly controller
	// sustains at 5% loss and a 100 ms round trip), each stamped with the time it
	// was published, a keyframe a second.
	const frames = 200
	done := make(chan struct{})
	go func() {
		defer close(done)
		send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
		for i := range frames {
			p := avcFrame(i%25 == 0, i, 1500)
			binary.BigEndian.PutUint64(p[8:], uint64(time.Now().UnixNano()))
			if pub.WriteMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: pid, Timestamp: uint32(i * 40), Payload: p}) != nil {
				return
			}
			time.Sleep(40 * time.Millisecond)
		}
	}()

	var lat []time.Duration
	lastArrival := time.Now()
	player.SetDeadline(time.Now().Add(30 * time.Second))
	for end := time.Now().Add(frames * 40 * time.Millisecond); time.Now().Before(end); {
		m, err := player.ReadMessage()
		if err != nil {
			t.Fatal(err)
		}
		if m.StreamID != id || m.Type != protocol.TypeVideo || len(m.Payload) < 16 || m.Payload[1] == 0 {
			continue
		}
		sent := time.Unix(0, int64(binary.BigEndian.Uint64(m.Payload[8:])))
		lat = append(lat, time.Since(sent))
		lastArrival = time.Now()
	}
	<-done
	if len(lat) < frames/2 {
		t.Fatalf("only %d of %d frames arrived", len(lat), frames)
	}
	if gap := time.Since(lastArrival); gap > 2*time.Second {
		t.Fatalf("playback stalled: nothing for %v", gap)
	}
	sort.Slice(lat, func(i, j int) bool { return lat[i] < lat[j] })
	p95, worst := lat[len(lat)*95/100], lat[len(lat)-1]
	t.Logf("%d of %d frames; latency p50 %v, p95 %v, max %v", len(lat), frames, lat[len(lat)/2], p95, worst)
	// Abandoned frames are never delivered late: nothing arrives much
	// after the deadline (plus the path's delay and scheduling slack).
	if worst > deadline+time.Second {
		t.Errorf("a frame arrived %v after it was published; the deadline is %v", worst, deadline)
	}
}
