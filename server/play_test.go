package server

import (
	"bytes"
	"context"
	"net"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestLateJoinerStartsOnKeyframe: ffmpeg publishes in real time with a
// keyframe every 2 s; a player joining mid-GOP gets the metadata, both
// sequence headers and then a keyframe before anything else.
func TestLateJoinerStartsOnKeyframe(t *testing.T) {
	src := testFLV(t)
	ts := startServer(t, nil)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/late")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = publisher.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, "late")
		return s != nil && s.Info().FramesIn > 0
	})
	time.Sleep(2800 * time.Millisecond) // mid-way through the second GOP

	player, id := startPlaying(t, ts, "late", rtmp.ClientConfig{})
	var sawMeta, sawVideoHdr, sawAudioHdr bool
	for {
		m := readMedia(t, player, id)
		switch m.Type {
		case protocol.TypeDataAMF0:
			sawMeta = true
			continue
		case protocol.TypeAudio:
			if media.ParseAudio(m.Payload).SeqHeader {
				sawAudioHdr = true
				continue
			}
			t.Fatalf("audio frame before the first keyframe (meta %v, video header %v, audio header %v)", sawMeta, sawVideoHdr, sawAudioHdr)
		case protocol.TypeVideo:
			vi := media.ParseVideo(m.Payload)
			if vi.SeqHeader {
				sawVideoHdr = true
				continue
			}
			if !vi.Keyframe {
				t.Fatal("first video frame is not a keyframe")
			}
		}
		break
	}
	if !sawMeta || !sawVideoHdr || !sawAudioHdr {
		t.Fatalf("before the keyframe: metadata %v, video header %v, audio header %v; want all", sawMeta, sawVideoHdr, sawAudioHdr)
	}
}

// TestStalledSubscriberDoesNotHurtOthers: one player never reads; a normal
// player still receives every frame, and the stalled one is disconnected
// once it has been behind longer than its bound.
func TestStalledSubscriberDoesNotHurtOthers(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Media.SubscriberQueueBytes = 256 << 10
		c.Media.SubscriberMaxLag = config.Duration{Duration: 500 * time.Millisecond}
		c.RTMP.WriteTimeout = config.Duration{Duration: 2 * time.Second}
	})
	pub, pid := startPublishing(t, ts, "fan", rtmp.ClientConfig{})

	// The stalled player: a small receive buffer, and it never reads.
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	d := net.Dialer{Control: smallReceiveBuffer}
	nc, err := d.DialContext(ctx, "tcp", ts.RTMPAddr().String())
	if err != nil {
		t.Fatal(err)
	}
	u, _ := rtmp.ParseURL(ts.url + "/fan")
	stalled, err := rtmp.NewClient(ctx, nc, u, rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer stalled.Close()
	sid, err := stalled.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := stalled.Play(sid, "fan", -2000); err != nil {
		t.Fatal(err)
	}

	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	playsPastStalled(t, ts, pub, pid, "fan", "normal player")
	testtools.WaitFor(t, 5*time.Second, "the stalled player to be dropped", func() bool {
		return ts.stream(t, "fan").Info().Subscribers == 1
	})
	if len(ts.logs.FilterMessage("slow subscriber dropped").All()) == 0 {
		t.Error(`no "slow subscriber dropped" log line`)
	}
}

// playsPastStalled has an RTMP player play name while the publisher sends
// 60 KB video frames every 10 ms (6 MB/s, far more than stalled players'
// buffers and queues hold), and checks that it gets every frame.
func playsPastStalled(t *testing.T, ts *testServer, pub *rtmp.Client, pid uint32, name, who string) {
	t.Helper()
	player, id := startPlaying(t, ts, name, rtmp.ClientConfig{})
	const frames = 300
	var received atomic.Int64
	done := make(chan error, 1)
	go func() {
		_ = player.SetDeadline(time.Now().Add(30 * time.Second))
		for received.Load() < frames {
			m, err := player.ReadMessage()
			if err != nil {
				done <- err
				return
			}
			if m.StreamID == id && m.Type == protocol.TypeVideo && !media.ParseVideo(m.Payload).SeqHeader {
				received.Add(1)
			}
		}
		done <- nil
	}()
	for i := range frames {
		send(t, pub, pid, protocol.TypeVideo, uint32(i*10), avcFrame(i%25 == 0, i, 60<<10))
		time.Sleep(10 * time.Millisecond)
	}
	if err := <-done; err != nil {
		t.Fatalf("%s: %v after %d frames", who, err, received.Load())
	}
	if n := received.Load(); n != frames {
		t.Fatalf("%s got %d frames, want %d", who, n, frames)
	}
}

// TestPublisherTakeover: a second publisher of a live name gets BadName; once
// the first has been silent past the timeout, or its connection has died,
// the second takes over.
func TestPublisherTakeover(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Media.PublisherTimeout = config.Duration{Duration: time.Second} })
	first, fid := startPublishing(t, ts, "take", rtmp.ClientConfig{})
	send(t, first, fid, protocol.TypeVideo, 0, avcSeqHeader())

	second := dial(t, ts, rtmp.ClientConfig{})
	id, err := second.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	err = second.Publish(id, "take", "live")
	var se *protocol.StatusError
	if !errorsAs(err, &se) || se.Code != protocol.PublishBadName {
		t.Fatalf("publish while the first publisher is live: %v, want %s", err, protocol.PublishBadName)
	}

	// The first publisher goes silent (a dead peer that never sent a FIN).
	time.Sleep(1200 * time.Millisecond)
	if err := second.Publish(id, "take", "live"); err != nil {
		t.Fatalf("publish after the first publisher went silent: %v", err)
	}
	// The silent publisher was evicted: its connection is closed.
	_ = first.SetDeadline(time.Now().Add(5 * time.Second))
	for {
		if _, err := first.ReadMessage(); err != nil {
			break
		}
	}

	// A publisher whose connection dies frees the name at once.
	third := dial(t, ts, rtmp.ClientConfig{})
	tid, err := third.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = second.Close()
	testtools.WaitFor(t, 5*time.Second, "the name to be released", func() bool {
		s := ts.stream(t, "take")
		return s == nil || !s.Published()
	})
	if err := third.Publish(tid, "take", "live"); err != nil {
		t.Fatalf("publish after the publisher's connection closed: %v", err)
	}
}

// TestEnhancedRTMPPassThrough: E-RTMP HEVC packets (FourCC hvc1 sequence
// start, coded frames, a multitrack packet) reach a player byte for byte,
// with the sequence start cached for a late joiner and keyframes detected.
func TestEnhancedRTMPPassThrough(t *testing.T) {
	ts := startServer(t, nil)
	pub, pid := startPublishing(t, ts, "hevc", rtmp.ClientConfig{})
	early, eid := startPlaying(t, ts, "hevc", rtmp.ClientConfig{})

	hvc1 := []byte("hvc1")
	exVideo := func(frameType, packetType byte, body ...byte) []byte {
		return append(append([]byte{0x80 | frameType<<4 | packetType}, hvc1...), body...)
	}
	packets := [][]byte{
		exVideo(1, 0, 1, 2, 3, 4, 5),                             // SequenceStart (HEVCDecoderConfigurationRecord)
		exVideo(1, 1, 0, 0, 0, 9, 9, 9),                          // CodedFrames keyframe with composition time
		exVideo(2, 3, 7, 7, 7),                                   // CodedFramesX inter frame
		exVideo(2, 1, 0, 0, 0x21, 8, 8),                          // CodedFrames inter frame
		{0x80 | 1<<4 | 6, 0<<4 | 3, 'h', 'v', 'c', '1', 0, 5, 5}, // multitrack OneTrack CodedFramesX keyframe, track 0
	}
	for i, p := range packets {
		send(t, pub, pid, protocol.TypeVideo, uint32(i*40), p)
	}
	for i, want := range packets {
		m := readMedia(t, early, eid)
		if !bytes.Equal(m.Payload, want) || m.Timestamp != uint32(i*40) {
			t.Fatalf("packet %d: got %x at %d, want %x at %d", i, m.Payload, m.Timestamp, want, i*40)
		}
	}
	if vi := media.ParseVideo(packets[0]); !vi.SeqHeader || vi.Codec != "hevc" {
		t.Errorf("sequence start parsed as %+v", vi)
	}
	if vi := media.ParseVideo(packets[4]); !vi.Keyframe {
		t.Errorf("multitrack keyframe parsed as %+v", vi)
	}
	// A late joiner starts with the sequence start and the last keyframe's GOP.
	late, lid := startPlaying(t, ts, "hevc", rtmp.ClientConfig{})
	if m := readMedia(t, late, lid); !bytes.Equal(m.Payload, packets[0]) {
		t.Fatalf("late joiner's first packet %x, want the sequence start", m.Payload)
	}
	if m := readMedia(t, late, lid); !bytes.Equal(m.Payload, packets[4]) {
		t.Fatalf("late joiner's second packet %x, want the last keyframe", m.Payload)
	}
}
