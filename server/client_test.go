package server

import (
	"bytes"
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// dial connects our client to ts, failing the test on error; the client is
// closed when the test ends.
func dial(t *testing.T, ts *testServer, cfg rtmp.ClientConfig) *rtmp.Client {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, ts.url, cfg)
	if err != nil {
		t.Fatalf("dial: %v", err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// startPublishing connects, creates a stream and publishes name.
func startPublishing(t *testing.T, ts *testServer, name string, cfg rtmp.ClientConfig) (*rtmp.Client, uint32) {
	t.Helper()
	c := dial(t, ts, cfg)
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(id, name, "live"); err != nil {
		t.Fatalf("publish %s: %v", name, err)
	}
	return c, id
}

// startPlaying connects, creates a stream and plays name (start -2000, as
// Flash and ffmpeg send "live or recorded").
func startPlaying(t *testing.T, ts *testServer, name string, cfg rtmp.ClientConfig) (*rtmp.Client, uint32) {
	t.Helper()
	c := dial(t, ts, cfg)
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Play(id, name, -2000); err != nil {
		t.Fatalf("play %s: %v", name, err)
	}
	return c, id
}

// Synthetic FLV payloads: legacy AVC/AAC headers with filler bodies.
func avcSeqHeader() []byte {
	return []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f, 0xff, 0xe1, 0, 4, 0x67, 0x64, 0, 0x1f}
}
func aacSeqHeader() []byte { return []byte{0xaf, 0, 0x12, 0x10} }

func avcFrame(key bool, seq, size int) []byte {
	b := make([]byte, size)
	b[0], b[1] = 0x27, 1
	if key {
		b[0] = 0x17
	}
	b[5], b[6] = byte(seq>>8), byte(seq)
	return b
}

func aacFrame(seq int) []byte { return []byte{0xaf, 1, byte(seq >> 8), byte(seq), 0x21, 0x10} }

func metadata(t *testing.T) []byte {
	t.Helper()
	b, err := protocol.AppendValues(nil, "@setDataFrame", "onMetaData", amf.ECMAArray{
		{Key: "width", Value: 320.0}, {Key: "height", Value: 240.0}, {Key: "videocodecid", Value: 7.0},
	})
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func send(t *testing.T, c *rtmp.Client, id uint32, typ protocol.Type, ts uint32, payload []byte) {
	t.Helper()
	if err := c.WriteMessage(protocol.Message{Type: typ, StreamID: id, Timestamp: ts, Payload: payload}); err != nil {
		t.Fatalf("send %v: %v", typ, err)
	}
}

// readMedia reads, within 5 s, until audio, video or metadata arrives on
// stream id of an RTMP client, skipping commands and control messages.
func readMedia(t *testing.T, c *rtmp.Client, id uint32) protocol.Message {
	t.Helper()
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	return readMediaFrom(t, c, id)
}

// TestDigestAndAMF3Client: our client with the Flash Player digest
// handshake and objectEncoding 3 (type 17 commands with AMF3 values)
// connects, publishes and plays.
func TestDigestAndAMF3Client(t *testing.T) {
	ts := startServer(t, nil)
	cfg := rtmp.ClientConfig{Digest: true, ObjectEncoding: 3, FlashVer: "WIN 32,0,0,465"}
	pub, pid := startPublishing(t, ts, "amf3", cfg)
	if enc, _ := pub.Info().Number("objectEncoding"); enc != 3 {
		t.Errorf("connect result objectEncoding = %v, want 3", enc)
	}
	player, sid := startPlaying(t, ts, "amf3", cfg)
	send(t, pub, pid, protocol.TypeDataAMF0, 0, metadata(t))
	send(t, pub, pid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, pub, pid, protocol.TypeVideo, 0, avcFrame(true, 1, 1000))
	if m := readMedia(t, player, sid); m.Type != protocol.TypeDataAMF0 {
		t.Fatalf("first message type %v, want metadata", m.Type)
	}
	if m := readMedia(t, player, sid); !bytes.Equal(m.Payload, avcSeqHeader()) {
		t.Fatalf("second message is not the sequence header")
	}
	if m := readMedia(t, player, sid); !bytes.Equal(m.Payload, avcFrame(true, 1, 1000)) {
		t.Fatalf("third message is not the keyframe")
	}
	if n := len(ts.logs.FilterMessage("handshake done").FilterField(zapBool("digest", true)).All()); n != 2 {
		t.Errorf("%d digest handshakes logged, want 2", n)
	}
	// An unknown method gets _error with NetConnection.Call.Failed.
	_, err := pub.Call("noSuchMethod", 1.0)
	var se *protocol.StatusError
	if !errors.As(err, &se) || se.Code != protocol.CallFailed {
		t.Errorf("unknown method: err = %v, want %s", err, protocol.CallFailed)
	}
}
