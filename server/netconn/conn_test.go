package netconn

import (
	"context"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// fakeTransport records what the core asks of a transport.
type fakeTransport struct {
	mu      sync.Mutex
	closed  error
	silence time.Duration
}

func (f *fakeTransport) Protocol() string { return "test" }
func (f *fakeTransport) RemoteAddr() net.Addr {
	return &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1), Port: 1}
}
func (f *fakeTransport) ConnectAccepted(out *Outbox) error {
	return out.Push(protocol.Message{Type: protocol.TypeWindowAckSize, Payload: []byte{0, 0, 0, 1}})
}
func (f *fakeTransport) FarID() string                       { return "" }
func (f *fakeTransport) ConnectInfo() []amf.Property         { return nil }
func (f *fakeTransport) ConnectResultSent(out *Outbox) error { return nil }
func (f *fakeTransport) InputPending() bool                  { return false }
func (f *fakeTransport) Context() context.Context            { return context.Background() }
func (f *fakeTransport) Silence() time.Duration {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.silence
}
func (f *fakeTransport) Stats() TransportStats { return TransportStats{} }
func (f *fakeTransport) Close(cause error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed == nil {
		f.closed = cause
	}
}

type harness struct {
	t   *testing.T
	reg *apps.Registry
	// batch makes clients drain their outbox with NextBatch of this many
	// messages (as the RTMP transport does) instead of Next.
	batch int
}

func newHarness(t *testing.T) *harness {
	return &harness{t: t, reg: apps.NewRegistry(apps.Config{Apps: []string{"live"}, Media: media.Config{GOPCache: true}})}
}

type client struct {
	t     *testing.T
	c     *Conn
	tr    *fakeTransport
	dec   *amf.Decoder
	txn   float64
	sent  []string // what the server sent, as "type name code" lines
	batch int
}

func (h *harness) connect(agent string) *client {
	tr := &fakeTransport{}
	cl := &client{t: h.t, tr: tr, dec: amf.NewDecoder(), c: NewConn("c1", tr, h.reg, &Config{}, zap.NewNop()), batch: h.batch}
	cl.command(0, "connect", amf.Object{{Key: "app", Value: "live"}, {Key: "tcUrl", Value: "rtmp://h/live"}, {Key: "flashVer", Value: agent}})
	return cl
}

func (cl *client) command(streamID uint32, name string, obj any, args ...any) {
	cl.t.Helper()
	cl.txn++
	txn := cl.txn
	if streamID != 0 {
		txn = 0 // NetStream commands, as Flash sends them
	}
	b, err := protocol.AppendCommand(nil, name, txn, obj, args...)
	if err != nil {
		cl.t.Fatal(err)
	}
	if err := cl.c.HandleMessage(protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: streamID, Payload: b}); err != nil {
		cl.t.Fatalf("%s: %v", name, err)
	}
}

// drain describes everything queued for the client, one line per message.
func (cl *client) drain() []string {
	cl.t.Helper()
	var out []string
	for cl.batch > 0 {
		batch := cl.c.Outbox().NextBatch(nil, cl.batch)
		if len(batch) == 0 {
			return out
		}
		for _, o := range batch {
			out = append(out, cl.describe(o.Message))
		}
	}
	for {
		o, ok := cl.c.Outbox().Next()
		if !ok {
			return out
		}
		out = append(out, cl.describe(o.Message))
	}
}

func (cl *client) describe(m protocol.Message) string {
	switch m.Type {
	case protocol.TypeCommandAMF0, protocol.TypeDataAMF0:
		cmd, err := protocol.DecodeCommand(cl.dec, m.Type, m.Payload)
		if err != nil {
			cl.t.Fatal(err)
		}
		s := cmd.Name
		for _, a := range append([]any{cmd.Object}, cmd.Args...) {
			if o, ok := a.(amf.Object); ok && o.String("code") != "" {
				s += " " + o.String("code")
			}
			if b, ok := a.(bool); ok && cmd.Name == "|RtmpSampleAccess" {
				s += map[bool]string{true: " true", false: " false"}[b]
			}
		}
		return s
	case protocol.TypeUserControl:
		uc, _ := protocol.ParseUserControl(m.Payload)
		return map[protocol.EventType]string{protocol.EventStreamBegin: "StreamBegin", protocol.EventStreamEOF: "StreamEOF"}[uc.Event]
	}
	return m.Type.String()
}

func expect(t *testing.T, got []string, want ...string) {
	t.Helper()
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Fatalf("server sent:\n  %s\nwant:\n  %s", strings.Join(got, "\n  "), strings.Join(want, "\n  "))
	}
}

func TestConnectSequence(t *testing.T) {
	h := newHarness(t)
	cl := h.connect("WIN 32,0,0,465")
	expect(t, cl.drain(), "WindowAckSize", "_result "+protocol.ConnectSuccess)
	if cl.c.Instance().Path() != "live/_definst_" {
		t.Errorf("instance %q", cl.c.Instance().Path())
	}

	// Unknown application: _error with InvalidApp, then close.
	tr := &fakeTransport{}
	bad := &client{t: t, tr: tr, dec: amf.NewDecoder(), c: NewConn("c2", tr, h.reg, &Config{}, zap.NewNop())}
	bad.command(0, "connect", amf.Object{{Key: "app", Value: "nope"}, {Key: "tcUrl", Value: "rtmp://h/nope"}})
	expect(t, bad.drain(), "_error "+protocol.ConnectInvalidApp)
	if bad.c.Outbox().Closing() == nil {
		t.Error("rejected connection not closing")
	}
}

func TestPublishPlaySequences(t *testing.T) {
	for _, batch := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			h := newHarness(t)
			h.batch = batch
			testPublishPlaySequences(t, h)
		})
	}
}

func testPublishPlaySequences(t *testing.T, h *harness) {
	player := h.connect("WIN 32,0,0,465") // Flash Player: gets Data.Start
	player.drain()
	player.command(0, "createStream", nil)
	expect(t, player.drain(), "_result")
	player.command(1, "play", nil, "s", -2000.0)
	expect(t, player.drain(), "StreamBegin", "onStatus "+protocol.PlayReset, "onStatus "+protocol.PlayStart,
		"|RtmpSampleAccess false false", "onStatus "+protocol.DataStart)

	pub := h.connect("FMLE/3.0 (compatible; FMSc/1.0)")
	pub.drain()
	pub.command(0, "releaseStream", nil, "s")
	pub.command(0, "FCPublish", nil, "s")
	pub.command(0, "createStream", nil)
	pub.command(1, "publish", nil, "s?key=1", "live")
	expect(t, pub.drain(), "_result", "_result", "_result", "onFCPublish "+protocol.PublishStart, "onStatus "+protocol.PublishStart)
	expect(t, player.drain(), "onStatus "+protocol.PlayPublishNotify)

	// A second publisher of a live name gets BadName.
	other := h.connect("FMLE/3.0")
	other.drain()
	other.command(0, "createStream", nil)
	other.command(1, "publish", nil, "s", "live")
	expect(t, other.drain(), "_result", "onStatus "+protocol.PublishBadName)

	// Live-only play (-1000) of a missing stream: StreamNotFound.
	other.command(0, "createStream", nil)
	other.command(2, "play", nil, "missing", -1000.0)
	expect(t, other.drain(), "_result", "onStatus "+protocol.PlayStreamNotFound)

	// Media reaches the player; pause/unpause and seek answer as AMS does.
	meta, _ := protocol.AppendValues(nil, "@setDataFrame", "onMetaData", amf.ECMAArray{{Key: "width", Value: 2.0}})
	for _, m := range []protocol.Message{
		{Type: protocol.TypeDataAMF0, StreamID: 1, Payload: meta},
		{Type: protocol.TypeVideo, StreamID: 1, Payload: []byte{0x17, 0, 0, 0, 0}},
		{Type: protocol.TypeVideo, StreamID: 1, Payload: []byte{0x17, 1, 0, 0, 0}},
	} {
		if err := pub.c.HandleMessage(m); err != nil {
			t.Fatal(err)
		}
	}
	expect(t, player.drain(), "onMetaData", "Video", "Video")
	player.command(1, "pause", nil, true, 10.0)
	expect(t, player.drain(), "onStatus "+protocol.PauseNotify, "StreamEOF")
	player.command(1, "pause", nil, false, 10.0)
	expect(t, player.drain(), "StreamBegin", "onStatus "+protocol.UnpauseNotify)
	player.command(1, "seek", nil, 0.0)
	expect(t, player.drain(), "onStatus "+protocol.SeekNotify)

	// FCUnpublish: onFCUnpublish, Unpublish.Success, _result; the player is told.
	pub.command(0, "FCUnpublish", nil, "s")
	expect(t, pub.drain(), "onFCUnpublish "+protocol.UnpublishSuccess, "_result", "onStatus "+protocol.UnpublishSuccess)
	expect(t, player.drain(), "onStatus "+protocol.PlayUnpublishNotify)

	// Unknown method with a transaction: _error NetConnection.Call.Failed.
	pub.command(0, "whatever", nil)
	expect(t, pub.drain(), "_error "+protocol.CallFailed)

	// Closing the player's connection removes its subscription.
	player.c.Close()
	if s := mustInstance(t, h).Streams().Get("s"); s != nil {
		t.Errorf("stream still registered after its only player left: %+v", s.Info())
	}
}

func TestReceiveVideoResumesAtKeyframe(t *testing.T) {
	for _, batch := range []int{0, 1, 3} {
		t.Run(fmt.Sprintf("batch=%d", batch), func(t *testing.T) {
			h := newHarness(t)
			h.batch = batch
			testReceiveVideoResumesAtKeyframe(t, h)
		})
	}
}

func testReceiveVideoResumesAtKeyframe(t *testing.T, h *harness) {
	player := h.connect("LNX 9,0,124,2") // ffmpeg: no Data.Start
	player.command(0, "createStream", nil)
	player.command(1, "play", nil, "s")
	expect(t, player.drain(), "WindowAckSize", "_result "+protocol.ConnectSuccess, "_result", "StreamBegin",
		"onStatus "+protocol.PlayReset, "onStatus "+protocol.PlayStart, "|RtmpSampleAccess false false")
	pub := h.connect("FMLE/3.0")
	pub.command(0, "createStream", nil)
	pub.command(1, "publish", nil, "s")
	player.drain()
	player.command(1, "receiveVideo", nil, false)
	video := func(key bool) {
		p := []byte{0x27, 1, 0, 0, 0}
		if key {
			p[0] = 0x17
		}
		if err := pub.c.HandleMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Payload: p}); err != nil {
			t.Fatal(err)
		}
	}
	video(true)
	expect(t, player.drain())
	player.command(1, "receiveVideo", nil, true)
	video(false) // skipped: video resumes at a keyframe
	video(true)
	got := player.drain()
	expect(t, got, "Video")
}

func mustInstance(t *testing.T, h *harness) *apps.Instance {
	inst, err := h.reg.Resolve("live", "")
	if err != nil {
		t.Fatal(err)
	}
	return inst
}

func TestSplitAppPath(t *testing.T) {
	for _, tc := range []struct{ tcURL, app, wantApp, wantInst string }{
		{"rtmp://h/live", "live", "live", ""},
		{"rtmp://h:1935/live/room1", "live/room1", "live", "room1"},
		{"'rtmp://h/live'", "", "live", ""},
		{"", "chat/lobby?token=1", "chat", "lobby"},
		{"rtmp://h/app/a/b", "", "app", "a/b"},
	} {
		a, i := SplitAppPath(tc.tcURL, tc.app)
		if a != tc.wantApp || i != tc.wantInst {
			t.Errorf("SplitAppPath(%q, %q) = %q, %q; want %q, %q", tc.tcURL, tc.app, a, i, tc.wantApp, tc.wantInst)
		}
	}
}

// TestNextBatchShortMeansEmpty: a batch shorter than asked for has taken
// everything every playing stream had queued, so that the transport can
// stop looking until it is notified again (rtmpconn.Conn.drain relies on it).
func TestNextBatchShortMeansEmpty(t *testing.T) {
	h := newHarness(t)
	player := h.connect("WIN 32,0,0,465")
	for i, name := range []string{"a", "b"} {
		id := uint32(i + 1)
		player.command(0, "createStream", nil)
		player.command(id, "play", nil, name, -2000.0)
		pub := h.connect("FMLE/3.0")
		pub.command(0, "createStream", nil)
		pub.command(1, "publish", nil, name, "live")
		pub.drain()
		for _, key := range []byte{0x17, 0x27} {
			if err := pub.c.HandleMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: 1, Payload: []byte{key, 1, 0, 0, 0}}); err != nil {
				t.Fatal(err)
			}
		}
	}
	batch := player.c.Outbox().NextBatch(nil, 64)
	videos := map[uint32]int{}
	for _, o := range batch {
		if o.Type == protocol.TypeVideo {
			videos[o.StreamID]++
		}
	}
	if len(batch) >= 64 || videos[1] != 2 || videos[2] != 2 {
		t.Fatalf("one batch of %d messages has video frames by stream %v, want 2 of each", len(batch), videos)
	}
	if rest := player.c.Outbox().NextBatch(nil, 64); len(rest) != 0 {
		t.Fatalf("%d messages left after a short batch", len(rest))
	}
}
