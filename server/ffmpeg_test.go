package server

import (
	"context"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// TestFFmpegPublishPlay: ffmpeg publishes an H.264/AAC FLV in real time, a
// second ffmpeg plays it into a file, and ffprobe finds both codecs and the
// published duration.
func TestFFmpegPublishPlay(t *testing.T) {
	src := testFLV(t)
	ts := startServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "played.flv")

	player := testtools.FFmpeg(t, ctx, "-i", ts.url+"/s1", "-c", "copy", "-f", "flv", out)
	playerOut := &testtools.Buffer{}
	player.Stdout, player.Stderr = playerOut, playerOut
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, 10*time.Second, "the player to subscribe", func() bool {
		s := ts.stream(t, "s1")
		return s != nil && s.Info().Subscribers == 1
	})

	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/s1")
	if out, err := publisher.CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish: %v\n%s", err, out)
	}
	// The publisher's unpublish ends the player (NetStream.Play.UnpublishNotify).
	if err := player.Wait(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, playerOut.String())
	}
	testtools.CheckPlayed(t, out, src)
}
