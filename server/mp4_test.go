package server

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// TestMP4PlayRTMP: MP4s as ffmpeg writes them, moov at the end and at the
// start (faststart), play over RTMP: ffmpeg gets H.264/AAC of the right
// length, paced; our client gets AMS's sequence with an onMetaData
// carrying duration and size, the AVC and AAC sequence headers before the
// first keyframe, composition offsets, and a seek that lands on the
// keyframe before the target; getStreamLength answers the duration.
func TestMP4PlayRTMP(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	src := t.TempDir()
	files := map[string]string{
		"end.mp4":   testtools.ClipMP4(t, src, "end.mp4", 6, 10),
		"start.mp4": testtools.ClipMP4(t, src, "start.mp4", 6, 10, "-movflags", "+faststart"),
	}
	for name, path := range files {
		copyFile(t, path, dir, name)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	for name, path := range files {
		t.Run(name, func(t *testing.T) {
			want := testtools.FFprobe(t, path).Duration(t)
			c := dial(t, ts, rtmp.ClientConfig{})
			res, err := c.Call("getStreamLength", "mp4:"+name)
			if err != nil {
				t.Fatal(err)
			}
			if n, _ := res.ArgNumber(0); n < want-0.05 || n > want+0.05 {
				t.Errorf("getStreamLength = %v s, ffprobe says %.2f", n, want)
			}

			start := time.Now()
			out := ffmpegPlayFLV(t, ctx, ts.url+"/mp4:"+name)
			if d := time.Since(start); d < 2*time.Second {
				t.Errorf("a 6 s file played in %v: not paced", d)
			}
			testtools.CheckPlayed(t, out, path)
			if got, want := testtools.Packets(t, out, "video"), testtools.Packets(t, path, "video"); got != want {
				t.Errorf("ffmpeg got %d video frames of %d", got, want)
			}

			v := newVODClient(t, ts)
			v.command("play", "mp4:"+name, 0.0, -1000.0, true)
			v.expect(false, "uc:StreamIsRecorded", "uc:StreamBegin", "status:NetStream.Play.Reset", "status:NetStream.Play.Start",
				"data:|RtmpSampleAccess")
			m := v.expect(false, "data:onMetaData")
			cmd, _ := v.c.DecodeCommand(m)
			meta, _ := cmd.Arg(0).(amf.ECMAArray)
			if d, _ := meta.Number("duration"); d < want-0.05 || d > want+0.05 {
				t.Errorf("onMetaData duration %v, want %.2f", d, want)
			}
			if w, _ := meta.Number("width"); w != 320 {
				t.Errorf("onMetaData width %v", w)
			}
			_, vh := v.next()
			_, ah := v.next()
			if vh.Type != protocol.TypeVideo || !media.ParseVideo(vh.Payload).SeqHeader ||
				ah.Type != protocol.TypeAudio || !media.ParseAudio(ah.Payload).SeqHeader {
				t.Fatalf("after onMetaData: %v % x, %v % x; want the AVC and AAC sequence headers", vh.Type, vh.Payload[:2], ah.Type, ah.Payload[:2])
			}
			f := v.firstVideoFrame()
			if f.Timestamp != 0 || !media.ParseVideo(f.Payload).Keyframe {
				t.Fatalf("first frame at %d (% x), want the keyframe at 0", f.Timestamp, f.Payload[:5])
			}
			offsets := 0
			for range 20 {
				if got, m := v.next(); got == "video" && m.Payload[2]|m.Payload[3]|m.Payload[4] != 0 {
					offsets++
				}
			}
			if offsets == 0 {
				t.Error("no video frame with a composition time offset (the clip has B-frames)")
			}
			v.command("seek", 2500.0)
			v.expect(true, "uc:StreamEOF", "status:NetStream.Seek.Notify", "uc:StreamBegin")
			v.last = map[protocol.Type]uint32{}
			if f := v.firstVideoFrame(); f.Timestamp != 2000 || !media.ParseVideo(f.Payload).Keyframe {
				t.Fatalf("after seeking to 2500 ms: first frame at %d, want the keyframe at 2000", f.Timestamp)
			}
			m = v.expect(true, "uc:StreamEOF", "data:onPlayStatus:NetStream.Play.Complete")
			cmd, _ = v.c.DecodeCommand(m)
			info, _ := cmd.Arg(0).(amf.Object)
			if b, _ := info.Number("bytes"); int64(b) != fileSize(t, path) {
				t.Errorf("Play.Complete bytes %v, file %d", b, fileSize(t, path))
			}
			v.expect(false, "status:NetStream.Play.Stop")
			if v.last[protocol.TypeVideo] < 5800 {
				t.Errorf("the stream ended at video %d ms, want the end (5900)", v.last[protocol.TypeVideo])
			}
		})
	}
}

func fileSize(t *testing.T, path string) int64 {
	t.Helper()
	st, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	return st.Size()
}

// TestMP4OverRTMFP: an MP4 with moov at the end plays over RTMFP from
// 2.5 s: onMetaData, the sequence headers, then the keyframe at 2 s and a
// frame every 100 ms; a seek to 4.2 s then starts on the keyframe at 4 s.
func TestMP4OverRTMFP(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	testtools.ClipMP4(t, dir, "clip.mp4", 6, 10)
	c := dialRTMFP(t, ts.mfp, tc.ClientConfig{})
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	c.SetDeadline(time.Now().Add(20 * time.Second))
	if err := c.Play(id, "mp4:clip.mp4", 2500); err != nil {
		t.Fatal(err)
	}
	if m := readMediaFrom(t, c, id); m.Type != protocol.TypeDataAMF0 {
		t.Fatalf("first %v, want onMetaData", m.Type)
	}
	video := func(n int) []uint32 {
		var out []uint32
		for len(out) < n {
			m := readMediaFrom(t, c, id)
			if m.Type == protocol.TypeVideo {
				if len(out) == 0 && !isSeqHeader(m) {
					t.Fatal("no sequence header before the first frame")
				}
				out = append(out, m.Timestamp)
			}
		}
		return out
	}
	got := video(15)
	if got[1] != 2000 {
		t.Errorf("first video frames at %v, want the keyframe at 2000 after the header", got[:3])
	}
	for i := 2; i < len(got); i++ {
		if got[i] != got[i-1]+100 {
			t.Errorf("video timestamps %v: not every 100 ms", got)
			break
		}
	}
	if err := c.Command(id, "seek", 0, nil, 4200.0); err != nil {
		t.Fatal(err)
	}
	for {
		m := readMediaFrom(t, c, id)
		if m.Type == protocol.TypeVideo && m.Timestamp == 4000 && media.ParseVideo(m.Payload).Keyframe {
			break
		}
		if m.Type == protocol.TypeVideo && m.Timestamp > 4000 {
			t.Fatalf("after the seek to 4200: video at %d before the keyframe at 4000", m.Timestamp)
		}
	}
}

// TestMP4Playlist: an FLV and an MP4 play back to back as one playlist,
// the MP4's timestamps continuing after the FLV's, none going back, and
// the MP4's sequence headers coming before its first frame.
func TestMP4Playlist(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	copyFile(t, testtools.ClipFLV(t, t.TempDir(), 3, 10), dir, "a.flv")
	testtools.ClipMP4(t, dir, "b.mp4", 3, 10)
	v := newVODClient(t, ts)
	v.command("play", "a", 0.0, -1000.0, true)
	v.command("play", "mp4:b.mp4", 0.0, -1000.0, false)
	v.expect(false, "uc:StreamIsRecorded", "uc:StreamBegin", "status:NetStream.Play.Reset", "status:NetStream.Play.Start",
		"data:|RtmpSampleAccess", "data:onMetaData")
	v.firstVideoFrame()
	v.expect(true, "data:onPlayStatus:NetStream.Play.Switch", "status:NetStream.Play.Start", "data:onMetaData")
	endOfA := max(v.last[protocol.TypeVideo], v.last[protocol.TypeAudio])
	_, h := v.next()
	if h.Type != protocol.TypeVideo || !isSeqHeader(h) {
		t.Fatalf("b's first message %v % x, want its AVC sequence header", h.Type, h.Payload[:2])
	}
	f := v.firstVideoFrame()
	if f.Timestamp <= endOfA || f.Timestamp > endOfA+200 {
		t.Errorf("b starts at %d after a ended at %d", f.Timestamp, endOfA)
	}
	v.expect(true, "uc:StreamEOF", "data:onPlayStatus:NetStream.Play.Complete", "status:NetStream.Play.Stop")
	if end := v.last[protocol.TypeVideo]; end-f.Timestamp < 2800 || end-f.Timestamp > 3000 {
		t.Errorf("b played %d ms, want about 2900", end-f.Timestamp)
	}
}

// TestMP4Record: ffmpeg publishes mp4:rec.mp4 to an app that records
// everything: the file is fragmented MP4 that ffprobes as H.264/AAC of
// the published length and plays back over RTMP; a copy cut in the middle
// ffprobes and plays up to the cut. Appending to an MP4 gets
// Record.NoAccess with the reason, and the stream stays live.
func TestMP4Record(t *testing.T) {
	src := testFLV(t)
	ts, dir := startVODServer(t, "all")
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	publishRecorded(t, ctx, ts, src, "mp4:rec.mp4")
	recorded := filepath.Join(dir, "rec.mp4")
	testtools.CheckPlayed(t, recorded, src)
	if got, want := testtools.Packets(t, recorded, "video"), testtools.Packets(t, src, "video"); got != want {
		t.Errorf("recorded %d video frames of %d", got, want)
	}

	out := ffmpegPlayFLV(t, ctx, ts.url+"/mp4:rec.mp4")
	testtools.CheckPlayed(t, out, src)

	// Cut in the middle, as a server killed while recording leaves it.
	b, err := os.ReadFile(recorded)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.mp4"), b[:len(b)/2], 0o644); err != nil {
		t.Fatal(err)
	}
	full := testtools.FFprobe(t, src).Duration(t)
	if d := testtools.FFprobe(t, filepath.Join(dir, "cut.mp4")).Duration(t); d < full*0.3 || d > full*0.7 {
		t.Errorf("the cut recording ffprobes %.2f s of %.2f", d, full)
	}
	cutOut := ffmpegPlayFLV(t, ctx, ts.url+"/mp4:cut.mp4")
	if d := testtools.FFprobe(t, cutOut).Duration(t); d < full*0.3 || d > full*0.7 {
		t.Errorf("the cut recording played %.2f s of %.2f", d, full)
	}

	c := dial(t, ts, rtmp.ClientConfig{})
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	_ = c.SetDeadline(time.Now().Add(10 * time.Second))
	if err := c.Publish(id, "mp4:rec.mp4", "append"); err != nil {
		t.Fatal(err)
	}
	if _, err := c.WaitStatus(id, protocol.RecordStart); err == nil || !strings.Contains(err.Error(), protocol.RecordNoAccess) {
		t.Errorf("append to an MP4: %v, want %s", err, protocol.RecordNoAccess)
	}
	if s := ts.stream(t, "mp4:rec.mp4"); s == nil || !s.Published() {
		t.Error("the stream whose append was refused is not live")
	}
}

// TestMP4BadInput: a text file named .mp4, an FLV named .mp4, an MP4 cut
// before its moov, one whose sample table claims a billion samples and a
// name leaving the folder each get Play.Failed (or StreamNotFound for a
// missing file) and a log line, and the connection plays a good MP4 after.
func TestMP4BadInput(t *testing.T) {
	ts, dir := startVODServer(t, "off")
	good := testtools.ClipMP4(t, dir, "good.mp4", 2, 10, "-movflags", "+faststart")
	if err := os.WriteFile(filepath.Join(dir, "text.mp4"), []byte("this is not a video file"), 0o644); err != nil {
		t.Fatal(err)
	}
	copyFile(t, testtools.ClipFLV(t, t.TempDir(), 1, 10), dir, "flv.mp4")
	b, err := os.ReadFile(good)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "cut.mp4"), b[:200], 0o644); err != nil {
		t.Fatal(err)
	}
	// stsz: version/flags, a sample size of 100 for all, a billion samples.
	huge := append([]byte(nil), b...)
	i := strings.Index(string(huge), "stsz")
	copy(huge[i+4:], []byte{0, 0, 0, 0, 0, 0, 0, 100, 0x3b, 0x9a, 0xca, 0})
	if err := os.WriteFile(filepath.Join(dir, "huge.mp4"), huge, 0o644); err != nil {
		t.Fatal(err)
	}
	v := newVODClient(t, ts)
	v.failThenPlay(ts, []badPlay{
		{"mp4:missing.mp4", protocol.PlayStreamNotFound},
		{"mp4:text.mp4", protocol.PlayFailed},
		{"mp4:flv.mp4", protocol.PlayFailed},
		{"mp4:cut.mp4", protocol.PlayFailed},
		{"mp4:huge.mp4", protocol.PlayFailed},
		{"mp4:../../../good.mp4", protocol.PlayFailed},
		{"mp3:song", protocol.PlayFailed},
	}, 6, "mp4:good.mp4")
}
