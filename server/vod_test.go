package server

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media/flvfile"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// startVODServer starts a server whose applications directory is a
// temporary folder; it returns the live app's streams folder.
func startVODServer(t *testing.T, record string) (*testServer, string) {
	t.Helper()
	apps := t.TempDir()
	ts := startServer(t, func(c *config.Config) {
		c.AppsDir = apps
		c.Apps = []config.AppConfig{{Name: "live", Record: record}}
	})
	dir := filepath.Join(apps, "live", "streams", "_definst_")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	return ts, dir
}

// publishRecorded has ffmpeg publish src in real time as live/name to a
// server that records it, and waits for the recording to close.
func publishRecorded(t *testing.T, ctx context.Context, ts *testServer, src, name string) {
	t.Helper()
	if out, err := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/"+name).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish: %v\n%s", err, out)
	}
	testtools.WaitFor(t, 10*time.Second, "the recording to close", func() bool {
		return len(ts.logs.FilterMessage("recording stopped").All()) == 1
	})
}

// ffmpegPlayFLV has ffmpeg play url to its end into an FLV file, which it
// returns.
func ffmpegPlayFLV(t *testing.T, ctx context.Context, url string) string {
	t.Helper()
	out := filepath.Join(t.TempDir(), "played.flv")
	if b, err := testtools.FFmpeg(t, ctx, "-i", url, "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg play %s: %v\n%s", url, err, b)
	}
	return out
}

// copyFile copies src to dir/name.
func copyFile(t *testing.T, src, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	dst := filepath.Join(dir, name)
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
	return dst
}

// keyframes returns the timestamps of a file's video keyframes.
func keyframes(t *testing.T, path string) []uint32 {
	t.Helper()
	var out []uint32
	for _, tag := range testtools.FLVTags(t, path) {
		if tag.Type == protocol.TypeVideo && len(tag.Data) > 1 && tag.Data[0]>>4 == 1 && tag.Data[1] == 1 {
			out = append(out, tag.Timestamp)
		}
	}
	return out
}

// videoSpan returns the first and last video timestamps of tags that
// are not sequence headers.
func videoSpan(tags []flvfile.Tag) (first, last uint32, n int) {
	for _, tag := range tags {
		if tag.Type != protocol.TypeVideo || len(tag.Data) < 2 || tag.Data[1] == 0 {
			continue
		}
		if n == 0 {
			first = tag.Timestamp
		}
		last = tag.Timestamp
		n++
	}
	return first, last, n
}

// TestRecordAllAndPlayBack: ffmpeg publishes a 6-second H.264/AAC file
// to an app with record = "all"; the recording ffprobes with both codecs
// and the duration; getStreamLength reports it; ffmpeg and rtmpdump play
// it back whole, paced rather than at socket speed, and rtmpdump from 3 s
// to 5 s gets the frames from the keyframe at 2 s to 5 s.
func TestRecordAllAndPlayBack(t *testing.T) {
	src := testFLV(t)
	ts, dir := startVODServer(t, "all")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	publishRecorded(t, ctx, ts, src, "rec")
	recorded := filepath.Join(dir, "rec.flv")
	testtools.CheckPlayed(t, recorded, src)

	c := dial(t, ts, rtmp.ClientConfig{})
	res, err := c.Call("getStreamLength", "rec")
	if err != nil {
		t.Fatal(err)
	}
	want := testtools.FFprobe(t, src).Duration(t)
	if n, _ := res.ArgNumber(0); n < want*0.9 || n > want*1.1 {
		t.Errorf("getStreamLength = %v s, want about %.2f", n, want)
	}

	// ffmpeg plays it whole (start -2000: not live, so the recording).
	start := time.Now()
	out := ffmpegPlayFLV(t, ctx, ts.url+"/rec")
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("a 6 s recording played in %v: not paced", d)
	}
	testtools.CheckPlayed(t, out, src)

	// rtmpdump whole (it asks for start 0: the recording from its
	// beginning), then from the middle: 3 s to 5 s.
	rtmpdump := testtools.Require(t, "rtmpdump")
	whole := filepath.Join(t.TempDir(), "whole.flv")
	cmd := exec.CommandContext(ctx, rtmpdump, "-r", ts.url+"/rec", "-o", whole)
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(b), "Download complete") {
		t.Fatalf("rtmpdump: %v\n%s", err, b)
	}
	testtools.CheckPlayed(t, whole, src)
	mid := filepath.Join(t.TempDir(), "mid.flv")
	cmd = exec.CommandContext(ctx, rtmpdump, "-r", ts.url+"/rec", "--start", "3", "--stop", "5", "-o", mid)
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil && !strings.Contains(string(b), "Download complete") {
		t.Fatalf("rtmpdump: %v\n%s", err, b)
	}
	// The recording's keyframes are 2 s apart: 3 s starts on the one at
	// about 2 s, and the play ends at 5 s. rtmpdump writes timestamps
	// shifted by its --start.
	key := keyframes(t, recorded)
	first, last, n := videoSpan(testtools.FLVTags(t, mid))
	first, last = first-3000, last-3000
	if len(key) < 2 || first != key[1] || last < 4900 || last > 5000 || n < 70 || n > 80 {
		t.Errorf("rtmpdump --start 3 --stop 5 got %d video frames from %d to %d ms; want about 75 from the keyframe at %v to 5000", n, first, last, key)
	}
}

// vodClient is our RTMP client playing recorded streams, reading message
// by message.
type vodClient struct {
	t  *testing.T
	c  *rtmp.Client
	id uint32
	// last media timestamps seen, by type, to check none goes back.
	last map[protocol.Type]uint32
}

func newVODClient(t *testing.T, ts *testServer) *vodClient {
	c := dial(t, ts, rtmp.ClientConfig{})
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(30 * time.Second))
	return &vodClient{t: t, c: c, id: id, last: map[protocol.Type]uint32{}}
}

func (v *vodClient) command(name string, args ...any) {
	v.t.Helper()
	if err := v.c.Command(v.id, name, 0, nil, args...); err != nil {
		v.t.Fatal(err)
	}
}

// event is one message as the sequence checks see it: "uc:StreamBegin",
// "status:NetStream.Play.Start", "data:onPlayStatus:NetStream.Play.Complete",
// "data:onMetaData", "video", "audio".
func (v *vodClient) next() (string, protocol.Message) {
	v.t.Helper()
	for {
		m, err := v.c.ReadMessage()
		if err != nil {
			v.t.Fatalf("read: %v", err)
		}
		switch m.Type {
		case protocol.TypeUserControl:
			uc, err := protocol.ParseUserControl(m.Payload)
			if err != nil || uc.StreamID != v.id {
				continue
			}
			return "uc:" + uc.Event.String(), m
		case protocol.TypeCommandAMF0, protocol.TypeDataAMF0:
			if m.StreamID != v.id {
				continue
			}
			cmd, err := v.c.DecodeCommand(m)
			if err != nil {
				v.t.Fatalf("decode: %v", err)
			}
			info, _ := cmd.Arg(0).(amf.Object)
			switch {
			case cmd.Name == "onStatus" && m.Type == protocol.TypeCommandAMF0:
				return "status:" + info.String("code"), m
			case cmd.Name == "onPlayStatus":
				return "data:onPlayStatus:" + info.String("code"), m
			}
			return "data:" + cmd.Name, m
		case protocol.TypeAudio, protocol.TypeVideo:
			if m.StreamID != v.id {
				continue
			}
			if prev, ok := v.last[m.Type]; ok && m.Timestamp < prev && !isSeqHeader(m) {
				v.t.Errorf("%v timestamp went back from %d to %d", m.Type, prev, m.Timestamp)
			}
			v.last[m.Type] = m.Timestamp
			if m.Type == protocol.TypeAudio {
				return "audio", m
			}
			return "video", m
		}
	}
}

func isSeqHeader(m protocol.Message) bool { return len(m.Payload) > 1 && m.Payload[1] == 0 }

// expect reads the given events in order, skipping media in between when
// skipMedia is set, and returns the last message.
func (v *vodClient) expect(skipMedia bool, want ...string) protocol.Message {
	v.t.Helper()
	var m protocol.Message
	for _, w := range want {
		for {
			var got string
			got, m = v.next()
			if got == w {
				break
			}
			if skipMedia && (got == "audio" || got == "video") {
				continue
			}
			v.t.Fatalf("got %s, want %s (sequence %v)", got, w, want)
		}
	}
	return m
}

// badPlay is a name to play and the status it gets.
type badPlay struct{ name, code string }

// failThenPlay plays each bad name, expecting its status, checks that
// logged of them were logged as unplayable, and then plays good.
func (v *vodClient) failThenPlay(ts *testServer, bad []badPlay, logged int, good string) {
	v.t.Helper()
	for _, tc := range bad {
		v.command("play", tc.name, 0.0)
		if got, _ := v.next(); got != "status:"+tc.code {
			v.t.Errorf("play %q: %s, want %s", tc.name, got, tc.code)
		}
	}
	if n := len(ts.logs.FilterMessage("play: recorded stream unplayable").All()); n != logged {
		v.t.Errorf("%d unplayable streams logged, want %d", n, logged)
	}
	v.command("play", good, 0.0)
	v.expect(false, "uc:StreamIsRecorded", "uc:StreamBegin", "status:NetStream.Play.Reset", "status:NetStream.Play.Start",
		"data:|RtmpSampleAccess", "data:onMetaData")
	v.firstVideoFrame()
}

// firstVideoFrame reads until a video frame that is not a sequence
// header, failing on any status first.
func (v *vodClient) firstVideoFrame() protocol.Message {
	v.t.Helper()
	for {
		got, m := v.next()
		switch {
		case got == "video" && !isSeqHeader(m):
			return m
		case got != "audio" && got != "video":
			v.t.Fatalf("got %s before a video frame", got)
		}
	}
}

// TestVODStatusSequences checks, message by message, what AMS and
// nginx-rtmp send for a recorded stream (ams-behaviour.md §3.3, §3.6,
// §3.8): the play sequence, seek, pause and unpause, the end of the
// stream, a two-item playlist whose timestamps never go back, len, and
// getStreamLength.
func TestVODStatusSequences(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	clip := testtools.ClipFLV(t, t.TempDir(), 4, 10) // keyframes every second
	copyFile(t, clip, dir, "a.flv")
	copyFile(t, clip, dir, "b.flv")
	key := keyframes(t, clip) // ffmpeg's clips start at a few tens of ms
	if len(key) != 4 {
		t.Fatalf("clip keyframes %v, want 4", key)
	}
	// Long enough for the pause to come before the server, 3 s ahead,
	// reaches the end.
	long := testtools.ClipFLV(t, t.TempDir(), 10, 10)
	copyFile(t, long, dir, "long.flv")
	longKey := keyframes(t, long)

	t.Run("play seek pause end", func(t *testing.T) {
		v := newVODClient(t, ts)
		v.command("play", "long", 0.0, -1000.0, true)
		v.expect(false, "uc:StreamIsRecorded", "uc:StreamBegin", "status:NetStream.Play.Reset", "status:NetStream.Play.Start",
			"data:|RtmpSampleAccess")
		m := v.expect(false, "data:onMetaData")
		cmd, _ := v.c.DecodeCommand(m)
		if meta, _ := cmd.Arg(0).(amf.ECMAArray); meta == nil {
			t.Fatalf("onMetaData argument %T", cmd.Arg(0))
		} else if d, _ := meta.Number("duration"); d < 9.5 || d > 10.1 {
			t.Errorf("onMetaData duration %v, want about 10", d)
		}
		if f := v.firstVideoFrame(); f.Timestamp != longKey[0] || f.Payload[0]>>4 != 1 {
			t.Fatalf("first frame at %d (type %x), want the keyframe at %d", f.Timestamp, f.Payload[0], longKey[0])
		}
		v.command("seek", 2500.0)
		v.expect(true, "uc:StreamEOF", "status:NetStream.Seek.Notify", "uc:StreamBegin")
		v.last = map[protocol.Type]uint32{}
		if f := v.firstVideoFrame(); f.Timestamp != longKey[2] || f.Payload[0]>>4 != 1 {
			t.Fatalf("after seeking to 2500 ms: first frame at %d, want the keyframe at %d", f.Timestamp, longKey[2])
		}
		v.command("pause", true, 2100.0)
		v.expect(true, "status:NetStream.Pause.Notify", "uc:StreamEOF")
		// Paused: what was sent before the pause arrives at once; after
		// that, nothing for as long as the pause lasts.
		drain := func(d time.Duration) (media int) {
			_ = v.c.SetDeadline(time.Now().Add(d))
			for {
				m, err := v.c.ReadMessage()
				if err != nil {
					break
				}
				if m.Type == protocol.TypeAudio || m.Type == protocol.TypeVideo {
					media++
				}
			}
			return media
		}
		drain(300 * time.Millisecond)
		if n := drain(time.Second); n != 0 {
			t.Errorf("%d audio and video messages while paused", n)
		}
		// Nothing was in flight when the deadline passed: the client reads on.
		_ = v.c.SetDeadline(time.Now().Add(30 * time.Second))
		// A seek while paused sends the keyframe there, and stays paused.
		v.command("seek", 5500.0)
		v.expect(false, "uc:StreamEOF", "status:NetStream.Seek.Notify", "uc:StreamBegin")
		v.last = map[protocol.Type]uint32{}
		if f := v.firstVideoFrame(); f.Timestamp != longKey[5] {
			t.Fatalf("seeking to 5500 ms while paused: frame at %d, want the keyframe at %d", f.Timestamp, longKey[5])
		}
		if n := drain(500 * time.Millisecond); n != 0 {
			t.Errorf("%d audio and video messages after the paused seek's frame", n)
		}
		_ = v.c.SetDeadline(time.Now().Add(30 * time.Second))
		v.command("pause", false, 5500.0)
		v.expect(false, "uc:StreamBegin", "status:NetStream.Unpause.Notify")
		v.expect(true, "uc:StreamEOF", "data:onPlayStatus:NetStream.Play.Complete", "status:NetStream.Play.Stop")
		if v.last[protocol.TypeVideo] < longKey[9]+800 {
			t.Errorf("the stream ended at video %d ms, want the end (%d)", v.last[protocol.TypeVideo], longKey[9]+900)
		}
	})

	t.Run("playlist", func(t *testing.T) {
		v := newVODClient(t, ts)
		v.command("play", "a", 2500.0, -1000.0, true)
		v.command("play", "b", 0.0, 1500.0, false)
		v.expect(false, "uc:StreamIsRecorded", "uc:StreamBegin", "status:NetStream.Play.Reset", "status:NetStream.Play.Start",
			"data:|RtmpSampleAccess", "data:onMetaData")
		if f := v.firstVideoFrame(); f.Timestamp != key[2] {
			t.Fatalf("a from 2500 ms started at %d, want the keyframe at %d", f.Timestamp, key[2])
		}
		v.expect(true, "data:onPlayStatus:NetStream.Play.Switch", "status:NetStream.Play.Start", "data:onMetaData")
		endOfA := v.last[protocol.TypeVideo]
		f := v.firstVideoFrame()
		if f.Timestamp <= endOfA || f.Timestamp > endOfA+200 {
			t.Errorf("b starts at %d after a ended at %d", f.Timestamp, endOfA)
		}
		v.expect(true, "uc:StreamEOF", "data:onPlayStatus:NetStream.Play.Complete", "status:NetStream.Play.Stop")
		// len 1500 ms of b: its frames up to 1.5 s after its start.
		if end := v.last[protocol.TypeVideo]; end-f.Timestamp < 1400 || end-f.Timestamp > 1500 {
			t.Errorf("b played %d ms, want 1500", end-f.Timestamp)
		}
	})

	t.Run("one frame", func(t *testing.T) {
		v := newVODClient(t, ts)
		v.command("play", "a", 1500.0, 0.0, true)
		v.expect(false, "uc:StreamIsRecorded", "uc:StreamBegin", "status:NetStream.Play.Reset", "status:NetStream.Play.Start",
			"data:|RtmpSampleAccess", "data:onMetaData")
		if f := v.firstVideoFrame(); f.Timestamp != key[1] {
			t.Fatalf("frame at %d, want the keyframe at %d", f.Timestamp, key[1])
		}
		v.expect(false, "uc:StreamEOF", "data:onPlayStatus:NetStream.Play.Complete", "status:NetStream.Play.Stop")
	})
}

// TestVODBadInput: a missing file, names that leave the streams folder
// (.., absolute, a symbolic link), a missing MP4, a file that is not FLV
// and one cut inside its header each get their status and a log line, and
// the connection plays a good file afterwards.
func TestVODBadInput(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	copyFile(t, testtools.ClipFLV(t, t.TempDir(), 2, 10), dir, "good.flv")
	outside := t.TempDir()
	copyFile(t, testtools.ClipFLV(t, t.TempDir(), 2, 10), outside, "secret.flv")
	if err := os.Symlink(filepath.Join(outside, "secret.flv"), filepath.Join(dir, "escape.flv")); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "text.flv"), []byte("this is not a video file"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.flv"), []byte("FLV\x01\x05\x00\x00\x00\x09\x00\x00\x00\x00\x09\x00\x01"), 0o644); err != nil {
		t.Fatal(err)
	}
	v := newVODClient(t, ts)
	v.failThenPlay(ts, []badPlay{
		{"missing", protocol.PlayStreamNotFound},
		{"../../../../etc/passwd", protocol.PlayFailed},
		{"/etc/passwd", protocol.PlayFailed},
		{"escape", protocol.PlayFailed},
		{"mp4:movie.mp4", protocol.PlayStreamNotFound},
		{"text", protocol.PlayFailed},
		{"cut", protocol.PlayFailed},
	}, 5, "good")
}

// TestRecordStatuses: publish "record" gets Record.Start and, when it
// stops, Record.Stop before Unpublish.Success; "append" continues the
// file with later timestamps; a second recorder of the same file (another
// name mapping to it) and a name outside the folder get Record.NoAccess
// while their streams stay live.
func TestRecordStatuses(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	publishFrames := func(c *rtmp.Client, id uint32, from uint32) {
		send(t, c, id, protocol.TypeDataAMF0, 0, metadata(t))
		send(t, c, id, protocol.TypeVideo, from, avcSeqHeader())
		for i := range 20 {
			send(t, c, id, protocol.TypeVideo, from+uint32(i*40), avcFrame(i%10 == 0, i, 500))
		}
	}
	record := func(name, kind string) (*rtmp.Client, uint32) {
		c := dial(t, ts, rtmp.ClientConfig{})
		id, err := c.CreateStream()
		if err != nil {
			t.Fatal(err)
		}
		_ = c.SetDeadline(time.Now().Add(10 * time.Second))
		if err := c.Publish(id, name, kind); err != nil {
			t.Fatal(err)
		}
		return c, id
	}
	c, id := record("rec", "record")
	if _, err := c.WaitStatus(id, protocol.RecordStart); err != nil {
		t.Fatal(err)
	}
	// Another name for the same file: refused, the stream stays live.
	c2, id2 := record("flv:rec", "record")
	if _, err := c2.WaitStatus(id2, protocol.RecordStart); err == nil || !strings.Contains(err.Error(), protocol.RecordNoAccess) {
		t.Errorf("second recorder of rec.flv: %v, want %s", err, protocol.RecordNoAccess)
	}
	publishFrames(c, id, 1000)
	testtools.WaitFor(t, 5*time.Second, "the frames to be queued", func() bool { return ts.stream(t, "rec").Info().FramesIn >= 22 })
	if err := c.Command(id, "closeStream", 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitStatus(id, protocol.RecordStop); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitStatus(id, protocol.UnpublishSuccess); err != nil {
		t.Fatal(err)
	}
	first, last, n := videoSpan(testtools.FLVTags(t, filepath.Join(dir, "rec.flv")))
	if first != 0 || last != 19*40 || n != 20 {
		t.Errorf("recorded %d frames from %d to %d ms, want 20 from 0 to 760", n, first, last)
	}

	c, id = record("rec", "append")
	if _, err := c.WaitStatus(id, protocol.RecordStart); err != nil {
		t.Fatal(err)
	}
	publishFrames(c, id, 50000)
	testtools.WaitFor(t, 5*time.Second, "the frames to be queued", func() bool { return ts.stream(t, "rec").Info().FramesIn >= 22 })
	if err := c.Command(id, "closeStream", 0, nil); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitStatus(id, protocol.RecordStop); err != nil {
		t.Fatal(err)
	}
	first, last, n = videoSpan(testtools.FLVTags(t, filepath.Join(dir, "rec.flv")))
	if first != 0 || last != 760+40+760 || n != 40 {
		t.Errorf("after append: %d frames from %d to %d ms, want 40 from 0 to 1560", n, first, last)
	}

	c, id = record("../outside", "record")
	if _, err := c.WaitStatus(id, protocol.RecordStart); err == nil || !strings.Contains(err.Error(), protocol.RecordNoAccess) {
		t.Errorf("recording ../outside: %v, want %s", err, protocol.RecordNoAccess)
	}
	if s := ts.stream(t, "../outside"); s == nil || !s.Published() {
		t.Error("the stream whose recording was refused is not live")
	}
	if _, err := os.Stat(filepath.Join(dir, "..", "outside.flv")); err == nil {
		t.Error("a file was written outside the streams folder")
	}
}

// TestVODOverRTMFP: a recorded stream plays over RTMFP from 2.5 s,
// starting on the keyframe there with the metadata and sequence headers
// first.
func TestVODOverRTMFP(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	copyFile(t, testtools.ClipFLV(t, t.TempDir(), 4, 10), dir, "clip.flv")
	c := dialRTMFP(t, ts.mfp, tc.ClientConfig{})
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Play(id, "clip", 2500); err != nil {
		t.Fatal(err)
	}
	m := readMediaFrom(t, c, id)
	if m.Type != protocol.TypeDataAMF0 {
		t.Fatalf("first %v, want onMetaData", m.Type)
	}
	var video []uint32
	for len(video) < 15 {
		m := readMediaFrom(t, c, id)
		if m.Type == protocol.TypeVideo {
			if len(video) == 0 && !isSeqHeader(m) {
				t.Fatal("no sequence header before the first frame")
			}
			video = append(video, m.Timestamp)
		}
	}
	if key := keyframes(t, filepath.Join(dir, "clip.flv")); video[1] != key[2] {
		t.Errorf("first video frames at %v, want the keyframe at %d after the header", video[:3], key[2])
	}
	for i := 2; i < len(video); i++ {
		if video[i] != video[i-1]+100 {
			t.Errorf("video timestamps %v: not every 100 ms", video)
			break
		}
	}
}
