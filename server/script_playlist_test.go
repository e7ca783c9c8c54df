package server

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// playlistScript is the classic AMS "TV channel": on application start,
// the server-side stream channel plays an FLV, a file that is not there
// and an MP4, one after another; clients can append to it and stop it.
const playlistScript = `
var events = [];
var channel = Stream.get("channel");
channel.onStatus = function (info) { events.push(info.code + " " + info.details); };
application.onAppStart = function () {
	channel.play("clip", 0);
	channel.play("missing", 0, -1, false);
	channel.play("mp4:movie.mp4", 0, -1, false);
};
Client.prototype.events = function () { return events.join(", "); };
Client.prototype.add = function (name, start) { return channel.play(name, start, -1, false); };
Client.prototype.stop = function () { return channel.play(false); };
`

// channelPlayer is our RTMP client playing the channel: it reads every
// message on its own goroutine and keeps what the checks need.
type channelPlayer struct {
	mu sync.Mutex
	// events are the non-media messages in order ("status:…",
	// "data:onMetaData"), with "media" once at the first audio or video.
	events []string
	// back lists the timestamps that went back, by message type.
	back []string
	last map[protocol.Type]uint32
	done chan struct{}
}

func playChannel(t *testing.T, ts *testServer) *channelPlayer {
	t.Helper()
	c := mustDialApp(t, ts, "tv", rtmp.ClientConfig{})
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Command(id, "play", 0, nil, "channel"); err != nil {
		t.Fatal(err)
	}
	p := &channelPlayer{last: map[protocol.Type]uint32{}, done: make(chan struct{})}
	go func() {
		defer close(p.done)
		for {
			m, err := c.ReadMessage()
			if err != nil {
				return // closed by the test's cleanup, or its deadline
			}
			if m.StreamID != id {
				continue
			}
			p.mu.Lock()
			switch m.Type {
			case protocol.TypeAudio, protocol.TypeVideo:
				if len(p.events) == 0 || !strings.Contains(strings.Join(p.events, " "), "media") {
					p.events = append(p.events, "media")
				}
				if prev, ok := p.last[m.Type]; ok && m.Timestamp < prev {
					p.back = append(p.back, fmt.Sprintf("%v %d→%d", m.Type, prev, m.Timestamp))
				}
				p.last[m.Type] = m.Timestamp
			case protocol.TypeCommandAMF0, protocol.TypeDataAMF0:
				if cmd, err := c.DecodeCommand(m); err == nil {
					info, _ := cmd.Arg(0).(amf.Object)
					if cmd.Name == "onStatus" {
						p.events = append(p.events, "status:"+info.String("code"))
					} else {
						p.events = append(p.events, "data:"+cmd.Name)
					}
				}
			}
			p.mu.Unlock()
		}
	}()
	return p
}

func (p *channelPlayer) seen() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return append([]string(nil), p.events...)
}

// TestScriptPlaylist: an application script plays a playlist of an FLV
// and an MP4 into the server-side stream "channel" from onAppStart, a
// missing file between them skipped with NetStream.Play.StreamNotFound;
// a live stream ffmpeg publishes, appended while the MP4 plays, switches
// in after it; play(false) stops. ffmpeg, playing the channel over RTMP,
// gets all three back to back: H.264 and AAC, as long as the three
// together, no timestamp going back. Our RTMP player of the channel sees
// what AMS's players of a server-side stream see: one live stream, each
// item's onMetaData, and no status at a switch — only UnpublishNotify
// when the script stops it. The script's Stream.onStatus hears Reset,
// Start, StreamNotFound, Switch, Start, Switch, Start, Complete, Stop.
func TestScriptPlaylist(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "tv", playlistScript, 0)
	streams := filepath.Join(dir, "tv", "streams", "_definst_")
	if err := os.MkdirAll(streams, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile(t, testtools.ClipFLV(t, t.TempDir(), 2, 25), streams, "clip.flv")
	testtools.ClipMP4(t, streams, "movie.mp4", 2, 25)
	live := testtools.ClipFLV(t, t.TempDir(), 2, 25)
	ts := startApps(t, dir, func(c *config.Config) { c.Apps = []config.AppConfig{{Name: "tv"}} })
	base := fmt.Sprintf("rtmp://%s/tv", ts.RTMPAddr())
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	// The first connection starts the instance, and the channel with it;
	// the players join within its first GOP, which the GOP cache keeps.
	player := playChannel(t, ts)
	ctl := mustDialApp(t, ts, "tv", rtmp.ClientConfig{})
	out := filepath.Join(t.TempDir(), "channel.flv")
	var ffErr testtools.Buffer
	ff := testtools.FFmpeg(t, ctx, "-loglevel", "warning", "-i", base+"/channel", "-c", "copy", "-f", "flv", out)
	ff.Stderr = &ffErr
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	events := func() string {
		t.Helper()
		res, err := ctl.Call("events")
		if err != nil {
			t.Fatal(err)
		}
		return res.ArgString(0)
	}
	waitEvents := func(want string) string {
		t.Helper()
		var got string
		testtools.WaitFor(t, 20*time.Second, "the script to hear "+want, func() bool {
			got = events()
			return strings.Contains(got, want)
		})
		return got
	}

	waitEvents("NetStream.Play.Start mp4:movie.mp4")
	if res, err := ctl.Call("add", "cam", -1); err != nil || res.Arg(0) != true {
		t.Fatalf("appending the live stream: %v %v", res.Arg(0), err)
	}
	waitEvents("NetStream.Play.Start cam")
	pub := testtools.FFmpeg(t, ctx, "-re", "-i", live, "-c", "copy", "-f", "flv", base+"/cam")
	if b, err := pub.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish: %v\n%s", err, b)
	}
	got := waitEvents("NetStream.Play.Stop cam")
	want := "NetStream.Play.Reset clip, NetStream.Play.Start clip, NetStream.Play.StreamNotFound missing, " +
		"NetStream.Play.Switch mp4:movie.mp4, NetStream.Play.Start mp4:movie.mp4, " +
		"NetStream.Play.Switch cam, NetStream.Play.Start cam, NetStream.Play.Complete cam, NetStream.Play.Stop cam"
	if got != want {
		t.Errorf("Stream.onStatus heard\n%s\nwant\n%s", got, want)
	}
	if res, err := ctl.Call("stop"); err != nil || res.Arg(0) != true {
		t.Fatalf("play(false): %v %v", res.Arg(0), err)
	}
	testtools.WaitFor(t, 5*time.Second, "the player to hear the channel stop", func() bool {
		s := player.seen()
		return len(s) > 0 && s[len(s)-1] == "status:"+protocol.PlayUnpublishNotify
	})
	if s := ts.Apps().App("tv").Instances()[0].Streams().Get("channel"); s != nil && s.Published() {
		t.Error("channel still published after play(false)")
	}
	// ffmpeg ends at UnpublishNotify; if it waits on, interrupt it as a
	// viewer would, and it writes the file out.
	if err := ff.Process.Signal(os.Interrupt); err != nil && !errors.Is(err, os.ErrProcessDone) {
		t.Fatal(err)
	}
	_ = ff.Wait()

	probe := testtools.FFprobe(t, out)
	if v, a := probe.Codec("video"), probe.Codec("audio"); v != "h264" || a != "aac" {
		t.Errorf("ffmpeg got %s/%s, want h264/aac", v, a)
	}
	d := probe.Duration(t)
	t.Logf("ffmpeg got %.2f s of %s/%s", d, probe.Codec("video"), probe.Codec("audio"))
	if d < 5.2 || d > 6.8 {
		t.Errorf("ffmpeg got %.2f s, want about 6 (three items of 2 s)", d)
	}
	if log := ffErr.String(); strings.Contains(strings.ToLower(log), "monoton") {
		t.Errorf("ffmpeg saw timestamps go back:\n%s", log)
	}

	seen := player.seen()
	player.mu.Lock()
	back := player.back
	player.mu.Unlock()
	if len(back) > 0 {
		t.Errorf("timestamps went back at the player: %v", back)
	}
	first := -1
	for i, e := range seen {
		if e == "media" {
			first = i
			break
		}
	}
	if first < 0 {
		t.Fatalf("the player got no media: %v", seen)
	}
	var after []string
	metas := 0
	for _, e := range seen[first+1:] {
		if e == "data:onMetaData" {
			metas++
			continue
		}
		after = append(after, e)
	}
	// The player joined before or with the first item's onMetaData; the
	// MP4's and the live stream's came at their switches.
	if metas < 2 {
		t.Errorf("the player got %d onMetaData after the first frame, want the MP4's and the live stream's", metas)
	}
	if strings.Join(after, " ") != "status:"+protocol.PlayUnpublishNotify {
		t.Errorf("the player got %v during the channel, want nothing but media and metadata until UnpublishNotify", after)
	}
}
