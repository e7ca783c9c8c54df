package main

import (
	"context"
	"fmt"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// These tests drive the Flash-like RTMFP client (librtmfp, which copies
// Flash Player on the wire; shared/peers/flashlike) against a real
// `nimbus serve`, and judge from its event lines and its log.

// flashServer starts `nimbus serve` with RTMP and RTMFP on loopback ports
// and returns the RTMP address, the rtmfp:// URL of app live and the log.
func flashServer(t *testing.T, ctx context.Context) (rtmpAddr, rtmfpURL string, log *testtools.Buffer) {
	t.Helper()
	testtools.FlashLike(t) // build (or skip) before the server runs
	addr, udp := freePort(t), freeUDPPort(t)
	srv, log := startNimbus(t, ctx, nimbusBin(t), addr, udp)
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	return addr, "rtmfp://" + udp + "/live", log
}

// checkNoDrops fails if the client dropped any packet of ours for its
// header (librtmfp logs each one; Flash Player drops them silently).
func checkNoDrops(t *testing.T, peers ...*testtools.FlashPeer) {
	t.Helper()
	for _, p := range peers {
		for _, bad := range []string{"Unexpected RTMFP marker", "Unexpected Handshake marker"} {
			if n := strings.Count(p.Log(), bad); n > 0 {
				t.Errorf("%s dropped %d packets: %q", p.Name, n, bad)
			}
		}
	}
}

// TestFlashLikeConnect: the client connects in well under a second (it took
// 3 s while our packets lacked timestamps and it dropped them) with
// objectEncoding 3, Flash Player's default.
func TestFlashLikeConnect(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	_, url, log := flashServer(t, ctx)
	p := testtools.StartFlashPeer(t, ctx, "client", "connect", url)
	p.Wait(t, 20*time.Second)
	if ct := p.ConnectTime(t); ct > 0.5 {
		t.Errorf("connected after %.3f s, want < 0.5 s", ct)
	}
	if st := p.Statuses(); len(st) == 0 || st[0] != "NetConnection.Connect.Success" {
		t.Errorf("statuses %v, want NetConnection.Connect.Success first", st)
	}
	waitLog(t, log, `"objectEncoding": 3`)
	checkNoDrops(t, p)
}

// TestFlashLikePlay: ffmpeg publishes over RTMP; the Flash-like client and
// an ffmpeg player take the whole stream, and the Flash-like one gets at
// least 95 % of the video messages ffmpeg gets.
func TestFlashLikePlay(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	addr, url, log := flashServer(t, ctx)
	src := testtools.FLV(t, binDir)
	out := filepath.Join(t.TempDir(), "ffmpeg.flv")

	flash := testtools.StartFlashPeer(t, ctx, "flash player", "play", url, "--stream=s1", "--secs=12")
	waitLog(t, log, "playing")
	ff := testtools.FFmpeg(t, ctx, "-i", "rtmp://"+addr+"/live/s1", "-c", "copy", "-f", "flv", out)
	ffLog := &testtools.Buffer{}
	ff.Stdout, ff.Stderr = ffLog, ffLog
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, 10*time.Second, "ffmpeg to play", func() bool { return strings.Count(log.String(), "playing") >= 2 })
	if out, err := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", "rtmp://"+addr+"/live/s1").CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish: %v\n%s", err, out)
	}
	if err := ff.Wait(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, ffLog.String())
	}
	flash.Wait(t, 20*time.Second)

	want := testtools.Packets(t, src, "video")
	ffGot := testtools.Packets(t, out, "video")
	got := flash.Summary(t)
	t.Logf("video messages: published %d, ffmpeg player %d, Flash-like player %d", want, ffGot, got.Video)
	if ffGot < want*9/10 {
		t.Errorf("ffmpeg got %d of %d video messages", ffGot, want)
	}
	if got.Video*100 < ffGot*95 {
		t.Errorf("Flash-like player got %d video messages, ffmpeg %d: under 95 %%", got.Video, ffGot)
	}
	if got.Audio == 0 {
		t.Error("Flash-like player got no audio")
	}
	checkNoDrops(t, flash)
}

// flashClip is a 2-second 30 fps clip for the Flash-like client to publish
// in a loop. librtmfp drops what is written before the server's
// NetStream.Publish.Start comes back (RTMFP_Write before its publisher
// exists), which takes the metadata and the codec headers at the head of
// the file; a short loop sends them again after 2 s, so players start
// after that.
func flashClip(t *testing.T) string { return testtools.ClipFLV(t, binDir, 2, 30) }

// TestFlashLikePublish: the Flash-like client publishes over RTMFP; ffmpeg
// plays it over RTMP and a second Flash-like client over RTMFP.
func TestFlashLikePublish(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	addr, url, _ := flashServer(t, ctx)
	clip := flashClip(t)
	out := filepath.Join(t.TempDir(), "ffmpeg.flv")

	pub := testtools.StartFlashPeer(t, ctx, "flash publisher", "publish", url, "--stream=p1", "--flv="+clip, "--secs=10")
	pub.WaitEvent(t, "STATUS NetStream.Publish.Start", 10*time.Second)
	time.Sleep(2500 * time.Millisecond) // the loop's second pass has sent the codec headers
	player := testtools.StartFlashPeer(t, ctx, "flash player", "play", url, "--stream=p1", "--secs=4")
	if out, err := testtools.FFmpeg(t, ctx, "-i", "rtmp://"+addr+"/live/p1", "-t", "4", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, out)
	}
	player.Wait(t, 20*time.Second)
	pub.Wait(t, 20*time.Second)

	probe := testtools.FFprobe(t, out)
	if probe.Codec("video") != "h264" || probe.Codec("audio") != "aac" {
		t.Errorf("ffmpeg's recording has video %q, audio %q; want h264 and aac", probe.Codec("video"), probe.Codec("audio"))
	}
	// 4 s at 30 fps is 120 frames.
	if n := testtools.Packets(t, out, "video"); n < 100 {
		t.Errorf("ffmpeg got %d video messages in 4 s of a 30 fps stream", n)
	}
	if s := player.Summary(t); s.Video < 100 || s.Audio == 0 {
		t.Errorf("Flash-like player got %d video and %d audio messages in 4 s of a 30 fps stream", s.Video, s.Audio)
	}
	if ev, _ := pub.Event("RESULT "); !strings.HasPrefix(ev, "RESULT OK") {
		t.Errorf("publisher: %s", ev)
	}
	checkNoDrops(t, pub, player)
}

// TestFlashLikeDirectP2P: NetStream.DIRECT_CONNECTIONS — one client
// publishes by peer ID, another plays from it; the server only introduces
// them (a Redirect to the player, a Forwarded IHello to the publisher).
func TestFlashLikeDirectP2P(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	_, url, _ := flashServer(t, ctx)
	clip := flashClip(t)

	pub := testtools.StartFlashPeer(t, ctx, "p2p publisher", "p2p-publish", url, "--stream=d1", "--flv="+clip, "--secs=12")
	id := pub.PeerID(t)
	pub.WaitEvent(t, "PUBLISHING", 10*time.Second)
	player := testtools.StartFlashPeer(t, ctx, "p2p player", "p2p-play", url, "--stream=d1", "--peer="+id, "--secs=6")
	player.Wait(t, 20*time.Second)
	// 6 s at 30 fps is 180 frames; the introduction and the P2P
	// handshake take well under a second.
	if s := player.Summary(t); s.Video < 120 || s.Audio == 0 {
		t.Errorf("p2p player got %d video and %d audio messages in 6 s of a 30 fps stream", s.Video, s.Audio)
	}
	checkNoDrops(t, pub, player)
}

// testGroup is the groupspec librtmfp's documentation uses (group "test").
const testGroup = "G:027f0201010103010c050e74657374011b00"

// TestFlashLikeNetGroup: group multicast among Flash-like members. The
// server gives each joiner neighbours; the media then goes peer to peer.
// Every member must reach neighbours. In the group of 3 both receivers must
// be getting the stream at the end of a 20 s run. In the group of 8 a
// member is killed mid-stream and another joins late; the late one must
// reach three neighbours and the others must keep the stream going.
//
// librtmfp's multicast is weaker than Flash Player's (docs/flashlike.md):
// its group buffer delivers fragments strictly in order and can wait out
// its window for one no neighbour sends, and it takes a silent neighbour
// for dead only after 6 minutes, so a receiver that took a share of the
// fragments from the killed member may stall. Measured over ten runs of
// the group of 8, one receiver in six got nothing at all once, and up to
// three stalled for the last seconds of a run. So the group of 8 asks that
// five of its six remaining receivers get at least 3 s of video, and logs
// the rest.
func TestFlashLikeNetGroup(t *testing.T) {
	for _, n := range []int{3, 8} {
		t.Run(fmt.Sprintf("members=%d", n), func(t *testing.T) { testNetGroup(t, n) })
	}
}

func testNetGroup(t *testing.T, members int) {
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	_, url, _ := flashServer(t, ctx)
	clip := flashClip(t)
	const secs = 20
	group := "--group=" + testGroup

	pub := testtools.StartFlashPeer(t, ctx, "group publisher", "group-publish", url, "--stream=g1", group, "--flv="+clip, fmt.Sprintf("--secs=%d", secs+2))
	pub.WaitEvent(t, "PUBLISHING", 10*time.Second)
	var rx []*testtools.FlashPeer
	for i := range members - 1 {
		rx = append(rx, testtools.StartFlashPeer(t, ctx, fmt.Sprintf("member %d", i+1), "group-play", url, "--stream=g1", group, fmt.Sprintf("--secs=%d", secs)))
	}
	var late *testtools.FlashPeer
	if members > 3 {
		time.Sleep(8 * time.Second)
		rx[len(rx)-1].Kill()
		rx = rx[:len(rx)-1]
		// A member joining late, once the group runs: the server must
		// introduce it to the live members (not the killed one alone).
		late = testtools.StartFlashPeer(t, ctx, "late member", "group-play", url, "--stream=g1", group, fmt.Sprintf("--secs=%d", secs-8))
	}
	for _, p := range rx {
		p.Wait(t, secs*time.Second+20*time.Second)
	}
	pub.Wait(t, 30*time.Second)

	for _, p := range append([]*testtools.FlashPeer{pub}, rx...) {
		if n := strings.Count(p.Log(), "P2PSession is now connected"); n == 0 {
			t.Errorf("%s connected to no neighbour", p.Name)
		}
	}
	playing := 0
	for _, p := range rx {
		s := p.Summary(t)
		end := p.VideoBetween(t, secs-4, secs+1)
		t.Logf("%s: %d video (%d in the last 4 s), %d audio", p.Name, s.Video, end, s.Audio)
		switch {
		case members == 3 && end < 60: // 4 s at 30 fps is 120 frames
			t.Errorf("%s got %d video messages in the last 4 s of a 30 fps stream", p.Name, end)
		case members > 3 && s.Video >= 90: // 3 s at 30 fps
			playing++
		}
	}
	if members > 3 && playing < len(rx)-1 {
		t.Errorf("%d of %d remaining receivers got 3 s of video, want at least %d", playing, len(rx), len(rx)-1)
	}
	if late != nil {
		late.Wait(t, 20*time.Second)
		if n := strings.Count(late.Log(), "P2PSession is now connected"); n < 3 {
			t.Errorf("the late member reached %d neighbours, want at least 3", n)
		}
		// Whether it plays in its few seconds is up to librtmfp's group
		// buffer (see above); log it.
		s := late.Summary(t)
		t.Logf("late member: %d video, %d audio", s.Video, s.Audio)
	}
	checkNoDrops(t, append(rx, pub)...)
}

// TestFlashLikePublishHTTPFLV: the Flash-like client publishes over RTMFP;
// ffmpeg plays it over HTTP-FLV from the playback listener and finds
// H.264 and AAC, with about the frames of the time it read.
func TestFlashLikePublishHTTPFLV(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	testtools.FlashLike(t)
	addr, udp, play := freePort(t), freeUDPPort(t), freePort(t)
	srv, _ := startNimbus(t, ctx, nimbusBin(t), addr, udp, "-play", play)
	t.Cleanup(func() { _ = srv.Process.Kill(); _ = srv.Wait() })
	clip := flashClip(t)
	out := filepath.Join(t.TempDir(), "ffmpeg.flv")

	pub := testtools.StartFlashPeer(t, ctx, "flash publisher", "publish", "rtmfp://"+udp+"/live", "--stream=p1", "--flv="+clip, "--secs=10")
	pub.WaitEvent(t, "STATUS NetStream.Publish.Start", 10*time.Second)
	time.Sleep(2500 * time.Millisecond) // the loop's second pass has sent the codec headers
	if out, err := testtools.FFmpeg(t, ctx, "-i", "http://"+play+"/live/p1.flv", "-t", "4", "-c", "copy", "-f", "flv", out).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg over HTTP-FLV: %v\n%s", err, out)
	}
	pub.Wait(t, 20*time.Second)
	probe := testtools.FFprobe(t, out)
	if probe.Codec("video") != "h264" || probe.Codec("audio") != "aac" {
		t.Errorf("ffmpeg's recording has video %q, audio %q; want h264 and aac", probe.Codec("video"), probe.Codec("audio"))
	}
	// 4 s at 30 fps is 120 frames.
	if n := testtools.Packets(t, out, "video"); n < 100 {
		t.Errorf("ffmpeg got %d video messages in 4 s of a 30 fps stream", n)
	}
	checkNoDrops(t, pub)
}
