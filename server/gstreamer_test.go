package server

import (
	"context"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// TestRecordingPlaysInGStreamer: a recording made of ffmpeg's publish
// plays in GStreamer's rtmp2src (its own RTMP client, neither librtmp nor
// ffmpeg's), whole and paced, and the bytes it writes are an FLV that
// ffprobe reads with the source's codecs and duration.
func TestRecordingPlaysInGStreamer(t *testing.T) {
	gst := testtools.Require(t, "gst-launch-1.0")
	src := testFLV(t)
	ts, _ := startVODServer(t, "all")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publishRecorded(t, ctx, ts, src, "gst")
	out := filepath.Join(t.TempDir(), "gst.flv")
	start := time.Now()
	// -e: end of stream (Play.Complete, then Play.Stop) finishes the file.
	cmd := exec.CommandContext(ctx, gst, "-e", "rtmp2src", "location="+ts.url+"/gst", "timeout=10",
		"!", "filesink", "location="+out)
	cmd.WaitDelay = 5 * time.Second
	if b, err := cmd.CombinedOutput(); err != nil {
		t.Fatalf("gst-launch rtmp2src: %v\n%s", err, b)
	}
	if d := time.Since(start); d < 2*time.Second {
		t.Errorf("a 6 s recording played in %v: not paced", d)
	}
	testtools.CheckPlayed(t, out, src)
}
