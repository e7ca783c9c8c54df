package script

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/media/recorder"
	"github.com/nimbus-media/nimbus/media/vod"
	"github.com/nimbus-media/nimbus/protocol"
)

// dirRecordings serves the FLV files of a folder by name, as the
// server's netconn.Recordings serves an instance's streams folder.
type dirRecordings struct{ dir string }

func (dirRecordings) Start(*apps.Instance, string, bool, func(error)) (*recorder.Recorder, error) {
	return nil, errors.New("not in this test")
}
func (dirRecordings) Length(*apps.Instance, string) (float64, error) { return 0, nil }
func (d dirRecordings) OpenVOD(_ *apps.Instance, name string) (vod.Source, error) {
	f, err := os.Open(filepath.Join(d.dir, name+".flv"))
	if err != nil {
		return nil, err
	}
	st, err := f.Stat()
	if err == nil {
		var ix *flvfile.Index
		if ix, err = flvfile.Scan(f, st.Size()); err == nil {
			return vod.NewFLV(f, ix), nil
		}
	}
	_ = f.Close()
	return nil, err
}

// watcher is a player of a stream of the instance: it keeps every frame.
type watcher struct {
	t      *testing.T
	sink   *media.ChanSink
	sub    *media.Subscriber
	frames []*media.Frame
	events []media.Event
}

func watch(t *testing.T, reg *media.Registry, name string) *watcher {
	t.Helper()
	w := &watcher{t: t, sink: media.NewChanSink(nil)}
	w.sub = media.NewSubscriber(media.SubscriberConfig{MaxFrames: 4096, MaxBytes: 16 << 20}, w.sink)
	s, err := reg.Subscribe(name, w.sub, false)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Unsubscribe(w.sub) })
	return w
}

// until takes frames until cond holds, failing after timeout.
func (w *watcher) until(timeout time.Duration, what string, cond func() bool) {
	w.t.Helper()
	deadline := time.After(timeout)
	for !cond() {
		select {
		case <-w.sink.C:
		case <-time.After(10 * time.Millisecond):
		case <-deadline:
			w.t.Fatalf("timed out waiting for %s", what)
		}
		for {
			e, ok := w.sub.Pop()
			if !ok {
				break
			}
			if e.Frame != nil {
				w.frames = append(w.frames, e.Frame)
			} else {
				w.events = append(w.events, e.Event)
			}
		}
	}
}

// video is the watcher's video frames that are pictures.
func (w *watcher) video() []*media.Frame {
	var out []*media.Frame
	for _, f := range w.frames {
		if f.Type == protocol.TypeVideo && !f.SeqHeader {
			out = append(out, f)
		}
	}
	return out
}

// checkMonotonic fails if a stream's audio or video timestamps go back.
func checkMonotonic(t *testing.T, frames []*media.Frame) {
	t.Helper()
	last := map[protocol.Type]uint32{}
	for i, f := range frames {
		if f.Type == protocol.TypeDataAMF0 {
			continue
		}
		if prev, ok := last[f.Type]; ok && f.Timestamp < prev {
			t.Fatalf("frame %d (type %d): timestamp went back from %d to %d", i, f.Type, prev, f.Timestamp)
		}
		last[f.Type] = f.Timestamp
	}
}

const playlistScript = `
var events = [];
var channel = Stream.get("channel");
channel.onStatus = function (info) { events.push(info.code + " " + info.details); };
Client.prototype.start = function () {
	channel.play("one", 0);
	channel.play("missing", 0, -1, false);
	return channel.play("two", 0, -1, false);
};
Client.prototype.events = function () { return events.join(", "); };
Client.prototype.add = function (name, start, len) { return channel.play(name, start, len, false); };
Client.prototype.reset = function (name, start) { return channel.play(name, start); };
Client.prototype.stop = function () { return channel.play(false); };
Client.prototype.remote = function () {
	try { channel.play("x", -2, -1, true, {}); return "no error"; } catch (e) { return String(e); }
};
`

func newPlaylistEnv(t *testing.T) (*env, *fakeClient, string) {
	t.Helper()
	files := t.TempDir()
	testtools.SyntheticFLV(t, filepath.Join(files, "one.flv"), 1, 200, true)
	testtools.SyntheticFLV(t, filepath.Join(files, "two.flv"), 1, 200, true)
	e := newEnv(t, Config{Recordings: dirRecordings{files}}, map[string]string{"main.js": playlistScript})
	c := &fakeClient{id: "1"}
	e.connect(c)
	return e, c, files
}

// start plays the playlist of one, missing and two.
func (e *env) start(c *fakeClient) {
	e.t.Helper()
	if ok, err := e.call(c, "start"); ok != true {
		e.t.Fatalf("start: %v %v", ok, err)
	}
}

func (e *env) waitEvents(c *fakeClient, want string) string {
	e.t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		v, err := e.call(c, "events")
		got, _ := v.(string)
		if err == nil && strings.Contains(got, want) {
			return got
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("events %q, want %q in them", got, want)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestPlaylistPlaysFilesBackToBack: a playlist of two files, with a missing file between them, plays as one stream in
// real time: the second file's timestamps follow the first's, each
// starts with its metadata and sequence headers, and the stream's
// onStatus hears Reset, Start, StreamNotFound, Switch, Start, Complete,
// Stop, in AMS's order, each naming its item.
func TestPlaylistPlaysFilesBackToBack(t *testing.T) {
	e, c, _ := newPlaylistEnv(t)
	w := watch(t, e.inst.Streams(), "channel")
	start := time.Now()
	e.start(c)
	e.waitEvents(c, "NetStream.Play.Stop two")
	w.until(5*time.Second, "both files", func() bool { return len(w.video()) >= 50 })
	elapsed := time.Since(start)
	if got := e.waitEvents(c, "NetStream.Play.Stop two"); got != "NetStream.Play.Reset one, NetStream.Play.Start one, "+
		"NetStream.Play.StreamNotFound missing, NetStream.Play.Switch two, NetStream.Play.Start two, "+
		"NetStream.Play.Complete two, NetStream.Play.Stop two" {
		t.Errorf("statuses: %s", got)
	}
	video := w.video()
	if len(video) != 50 {
		t.Fatalf("%d pictures, want 25 of each file", len(video))
	}
	checkMonotonic(t, w.frames)
	// The second file starts a frame after the first ended.
	if first, second := video[24].Timestamp, video[25].Timestamp; first != 960 || second < 1000 || second > 1100 {
		t.Errorf("the switch goes from %d to %d ms, want from 960 to about 1000", first, second)
	}
	if !video[25].Keyframe {
		t.Error("the second file does not start on a keyframe")
	}
	// Real time, not as fast as the files can be read.
	if elapsed < 1500*time.Millisecond {
		t.Errorf("two 1 s files played in %v", elapsed)
	}
	var metas, headers int
	for _, f := range w.frames {
		switch {
		case f.Metadata:
			metas++
		case f.SeqHeader:
			headers++
		}
	}
	if metas != 2 || headers != 4 {
		t.Errorf("%d onMetaData and %d sequence headers, want 2 and 4 (each file's)", metas, headers)
	}
	if s := e.inst.Streams().Get("channel"); s == nil || !s.Published() {
		t.Error("the channel is not published once its playlist ran dry")
	}
}

// TestPlaylistAppendResetStop: an item added while the playlist plays
// follows it; one added after it ran dry starts it again with timestamps
// still going forward; a reset replaces the item playing at once;
// play(false) stops and unpublishes the stream with Play.Stop; a
// remoteConnection throws.
func TestPlaylistAppendResetStop(t *testing.T) {
	e, c, _ := newPlaylistEnv(t)
	w := watch(t, e.inst.Streams(), "channel")
	e.start(c)
	e.waitEvents(c, "NetStream.Play.Start one")
	if ok, _ := e.call(c, "add", "one", 0.0, 0.5); ok != true {
		t.Fatal("append refused")
	}
	got := e.waitEvents(c, "NetStream.Play.Stop one")
	if !strings.HasSuffix(got, "NetStream.Play.Switch two, NetStream.Play.Start two, NetStream.Play.Switch one, "+
		"NetStream.Play.Start one, NetStream.Play.Complete one, NetStream.Play.Stop one") {
		t.Errorf("statuses: %s", got)
	}
	w.until(5*time.Second, "both files and half of the first again", func() bool { return len(w.video()) >= 50+13 })
	// Ran dry: an append starts it again, later than the last frame.
	last := w.video()[len(w.video())-1].Timestamp
	if ok, _ := e.call(c, "add", "two", 0.0, -1.0); ok != true {
		t.Fatal("append after the end refused")
	}
	n := len(w.video())
	w.until(5*time.Second, "the appended file", func() bool { return len(w.video()) > n })
	if ts := w.video()[n].Timestamp; ts <= last {
		t.Errorf("the item added after the end starts at %d ms, not after %d", ts, last)
	}
	// A reset replaces it at once.
	if ok, _ := e.call(c, "reset", "one", 0.5); ok != true {
		t.Fatal("reset refused")
	}
	got = e.waitEvents(c, "NetStream.Play.Start two, NetStream.Play.Reset one, NetStream.Play.Start one")
	if strings.Contains(got, "NetStream.Play.Complete two") {
		t.Errorf("the item a reset ended completed: %s", got)
	}
	n = len(w.video())
	w.until(5*time.Second, "the file the reset plays", func() bool { return len(w.video()) > n })
	checkMonotonic(t, w.frames)
	if ok, _ := e.call(c, "stop"); ok != true {
		t.Fatal("play(false) returned false")
	}
	e.waitEvents(c, "NetStream.Play.Reset one, NetStream.Play.Start one, NetStream.Play.Stop one")
	if s := e.inst.Streams().Get("channel"); s != nil && s.Published() {
		t.Error("channel still published after play(false)")
	}
	w.until(5*time.Second, "the players to hear the unpublish", func() bool {
		return len(w.events) > 0 && w.events[len(w.events)-1] == media.EventUnpublish
	})
	if v, _ := e.call(c, "remote"); !strings.Contains(v.(string), "remoteConnection") {
		t.Errorf("play with a remoteConnection: %v", v)
	}
	checkMonotonic(t, w.frames)
}

// TestPlaylistLiveItem: a live stream in the playlist switches in with
// its sequence headers at its next keyframe, its timestamps rebased after the file's,
// and when its publisher leaves the playlist moves on.
func TestPlaylistLiveItem(t *testing.T) {
	e, c, _ := newPlaylistEnv(t)
	reg := e.inst.Streams()
	cam, err := reg.Publish("cam", pub{})
	if err != nil {
		t.Fatal(err)
	}
	cam.Write(pub{}, media.NewFrame(protocol.TypeVideo, 0, []byte{0x17, 0, 0, 0, 0, 1, 0x64, 0, 0x1f}))
	w := watch(t, reg, "channel")
	e.start(c)
	e.waitEvents(c, "NetStream.Play.Stop two")
	if ok, _ := e.call(c, "add", "cam", -1.0, -1.0); ok != true {
		t.Fatal("append refused")
	}
	if ok, _ := e.call(c, "add", "one", 0.0, 0.2); ok != true {
		t.Fatal("append refused")
	}
	e.waitEvents(c, "NetStream.Play.Start cam")
	for i := range 6 {
		// The instance keeps no GOP here: the item starts at the next keyframe.
		cam.Write(pub{}, media.NewFrame(protocol.TypeVideo, uint32(50040+i*40), []byte{0x17 + byte(min(i, 1))*0x10, 1, 0, 0, 0, byte(i)}))
	}
	w.until(5*time.Second, "the live frames", func() bool { return len(w.video()) >= 56 })
	v := w.video()
	if v[50].Timestamp <= v[49].Timestamp || v[50].Timestamp > v[49].Timestamp+2000 || !v[50].Keyframe {
		t.Errorf("the live item starts at %d ms (keyframe %v) after the file's %d", v[50].Timestamp, v[50].Keyframe, v[49].Timestamp)
	}
	if d := v[55].Timestamp - v[50].Timestamp; d != 200 {
		t.Errorf("live frames 200 ms apart arrive %d ms apart", d)
	}
	var headers int
	for _, f := range w.frames {
		if f.SeqHeader && f.Type == protocol.TypeVideo && f.Timestamp > v[49].Timestamp {
			headers++
		}
	}
	if headers != 1 {
		t.Errorf("%d video sequence headers at the switch to the live stream, want its 1", headers)
	}
	cam.Unpublish(pub{})
	e.waitEvents(c, "NetStream.Play.Switch one, NetStream.Play.Start one, NetStream.Play.Complete one")
	w.until(5*time.Second, "the file after the live stream", func() bool { return len(w.video()) >= 56+5 })
	checkMonotonic(t, w.frames)
}
