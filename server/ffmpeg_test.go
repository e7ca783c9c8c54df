package server

import (
	"context"
	"encoding/json"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
	"time"
)

// probeResult is what ffprobe tells about a file.
type probeResult struct {
	Streams []struct {
		CodecType string `json:"codec_type"`
		CodecName string `json:"codec_name"`
		Width     int    `json:"width"`
		Height    int    `json:"height"`
	} `json:"streams"`
	Format struct {
		Duration string `json:"duration"`
	} `json:"format"`
}

func (p probeResult) codec(kind string) string {
	for _, s := range p.Streams {
		if s.CodecType == kind {
			return s.CodecName
		}
	}
	return ""
}

func (p probeResult) duration(t *testing.T) float64 {
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", p.Format.Duration, err)
	}
	return d
}

func ffprobe(t *testing.T, file string) probeResult {
	t.Helper()
	out, err := exec.Command(requireTool(t, "ffprobe"), "-v", "error", "-print_format", "json",
		"-show_streams", "-show_format", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var r probeResult
	if err := json.Unmarshal(out, &r); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	return r
}

// ffmpegCmd starts ffmpeg with args; it is killed when the test ends if it
// is still running.
func ffmpegCmd(t *testing.T, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, requireTool(t, "ffmpeg"), append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

// TestFFmpegPublishPlay: ffmpeg publishes an H.264/AAC FLV in real time, a
// second ffmpeg plays it into a file, and ffprobe finds both codecs and the
// published duration.
func TestFFmpegPublishPlay(t *testing.T) {
	src := testFLV(t)
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "played.flv")

	player := ffmpegCmd(t, ctx, "-i", ts.url+"/s1", "-c", "copy", "-f", "flv", out)
	playerOut := &lockedBuffer{}
	player.Stdout, player.Stderr = playerOut, playerOut
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, 10*time.Second, "the player to subscribe", func() bool {
		s := ts.stream(t, "s1")
		return s != nil && s.Info().Subscribers == 1
	})

	publisher := ffmpegCmd(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/s1")
	if out, err := publisher.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish: %v\n%s", err, out)
	}
	// The publisher's unpublish ends the player (NetStream.Play.UnpublishNotify).
	if err := player.Wait(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, playerOut.String())
	}
	got := ffprobe(t, out)
	if c := got.codec("video"); c != "h264" {
		t.Errorf("video codec = %q, want h264", c)
	}
	if c := got.codec("audio"); c != "aac" {
		t.Errorf("audio codec = %q, want aac", c)
	}
	want := ffprobe(t, src).duration(t)
	if d := got.duration(t); d < want*0.9 || d > want*1.1 {
		t.Errorf("played duration %.2f s, published %.2f s: not within 10%%", d, want)
	}
}
