package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// dialRTMFP connects our RTMFP client to ts; it is closed when the test ends.
func dialRTMFP(t *testing.T, url string, cfg tc.ClientConfig) *tc.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	// Our clients receive as Flash Player does, so that no test passes
	// on packets Flash would drop.
	cfg.Endpoint.FlashStrict = true
	c, err := tc.Dial(ctx, url, cfg)
	if err != nil {
		t.Fatalf("rtmfp dial %s: %v", url, err)
	}
	t.Cleanup(func() {
		if n := c.Session().Endpoint().FlashDropped(); n != 0 {
			t.Errorf("client of %s dropped %d packets that Flash Player would drop", url, n)
		}
		_ = c.Close()
	})
	return c
}

// mediaReader is what readMediaFrom needs of either client.
type mediaReader interface {
	ReadMessage() (protocol.Message, error)
}

// readMediaFrom reads until audio, video or metadata arrives on stream id,
// with either client.
func readMediaFrom(t *testing.T, c mediaReader, id uint32) protocol.Message {
	t.Helper()
	for {
		m, err := c.ReadMessage()
		if err != nil {
			t.Fatalf("read: %v", err)
		}
		if m.StreamID != id {
			continue
		}
		switch m.Type {
		case protocol.TypeAudio, protocol.TypeVideo:
			return m
		case protocol.TypeDataAMF0:
			if media.IsMetaData(m.Payload) {
				return m
			}
		}
	}
}

// TestRTMFPPublishPlayAndCrossProtocol: an RTMFP publisher reaches an RTMFP
// player and an RTMP player; an RTMP publisher reaches an RTMFP player,
// with timestamps and sequence headers preserved.
func TestRTMFPPublishPlayAndCrossProtocol(t *testing.T) {
	ts := startServer(t, nil)
	pub := dialRTMFP(t, ts.mfp, tc.ClientConfig{})
	if code := pub.Info().String("code"); code != protocol.ConnectSuccess {
		t.Fatalf("connect: %q", code)
	}
	pid, err := pub.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(pid, "mfp", "live"); err != nil {
		t.Fatal(err)
	}
	mfpPlayer := dialRTMFP(t, ts.mfp, tc.ClientConfig{})
	mid, err := mfpPlayer.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := mfpPlayer.Play(mid, "mfp", -2000); err != nil {
		t.Fatal(err)
	}
	rtmpPlayer, rid := startPlaying(t, ts, "mfp", rtmp.ClientConfig{})
	mfpPlayer.SetDeadline(time.Now().Add(10 * time.Second))

	frames := []protocol.Message{
		{Type: protocol.TypeDataAMF0, StreamID: pid, Payload: metadata(t)[len("\x02\x00\x0d@setDataFrame"):]},
		{Type: protocol.TypeVideo, StreamID: pid, Timestamp: 0, Payload: avcSeqHeader()},
		{Type: protocol.TypeAudio, StreamID: pid, Timestamp: 0, Payload: aacSeqHeader()},
		{Type: protocol.TypeVideo, StreamID: pid, Timestamp: 40, Payload: avcFrame(true, 1, 3000)},
		{Type: protocol.TypeAudio, StreamID: pid, Timestamp: 46, Payload: aacFrame(1)},
		{Type: protocol.TypeVideo, StreamID: pid, Timestamp: 80, Payload: avcFrame(false, 2, 5000)},
	}
	// Metadata goes as @setDataFrame, as encoders send it.
	first := frames[0]
	first.Payload = metadata(t)
	if err := pub.WriteMessage(first); err != nil {
		t.Fatal(err)
	}
	for _, f := range frames[1:] {
		if err := pub.WriteMessage(f); err != nil {
			t.Fatal(err)
		}
	}
	for name, p := range map[string]struct {
		c  mediaReader
		id uint32
	}{"rtmfp": {mfpPlayer, mid}, "rtmp": {rtmpPlayer, rid}} {
		// Frames of different kinds travel on different flows: compare per kind.
		want := map[protocol.Type][]protocol.Message{}
		for _, f := range frames {
			want[f.Type] = append(want[f.Type], f)
		}
		for range frames {
			m := readMediaFrom(t, p.c, p.id)
			w := want[m.Type][0]
			want[m.Type] = want[m.Type][1:]
			if m.Timestamp != w.Timestamp || !bytes.Equal(m.Payload, w.Payload) {
				t.Fatalf("%s player: %v at %d (%d bytes), want at %d (%d bytes)", name, m.Type, m.Timestamp, len(m.Payload), w.Timestamp, len(w.Payload))
			}
		}
	}

	// RTMP publisher → RTMFP player.
	rpub, rpid := startPublishing(t, ts, "fromrtmp", rtmp.ClientConfig{})
	late := dialRTMFP(t, ts.mfp, tc.ClientConfig{})
	lid, _ := late.CreateStream()
	send(t, rpub, rpid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, rpub, rpid, protocol.TypeVideo, 1000, avcFrame(true, 1, 20000))
	if err := late.Play(lid, "fromrtmp", -2000); err != nil {
		t.Fatal(err)
	}
	late.SetDeadline(time.Now().Add(10 * time.Second))
	if m := readMediaFrom(t, late, lid); !bytes.Equal(m.Payload, avcSeqHeader()) {
		t.Fatal("RTMFP late joiner did not get the sequence header first")
	}
	if m := readMediaFrom(t, late, lid); m.Timestamp != 1000 || len(m.Payload) != 20000 {
		t.Fatalf("RTMFP late joiner got %d bytes at %d, want the 20000-byte keyframe at 1000", len(m.Payload), m.Timestamp)
	}
}

// TestRTMFPUnknownAppRejected: the same rejection as over RTMP.
func TestRTMFPUnknownAppRejected(t *testing.T) {
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err := tc.Dial(ctx, "rtmfp://"+ts.RTMFPAddr().String()+"/nosuchapp", tc.ClientConfig{})
	var se *protocol.StatusError
	if !errors.As(err, &se) || se.Code != protocol.ConnectInvalidApp {
		t.Fatalf("connect to an unknown app over RTMFP: %v", err)
	}
}
