// Package testtools finds and drives the external programs the interop
// tests use (ffmpeg, ffprobe) and makes their test media. Only tests import it.
package testtools

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"
)

// Require finds an external program. Interop tests must not pass silently
// in CI, so with CI set a missing tool fails the test instead of skipping it.
func Require(t testing.TB, name string) string {
	t.Helper()
	p, err := exec.LookPath(name)
	if err == nil {
		return p
	}
	if os.Getenv("CI") != "" {
		t.Fatalf("%s is required in CI (make deps installs it): %v", name, err)
	}
	t.Skipf("%s not installed (make deps installs it)", name)
	return ""
}

// FFmpeg returns a command running ffmpeg quietly with args, tied to ctx.
func FFmpeg(t testing.TB, ctx context.Context, args ...string) *exec.Cmd {
	t.Helper()
	cmd := exec.CommandContext(ctx, Require(t, "ffmpeg"), append([]string{"-hide_banner", "-loglevel", "error", "-nostdin"}, args...)...)
	cmd.WaitDelay = 5 * time.Second
	return cmd
}

var (
	flvOnce sync.Once
	flvPath string
	flvErr  error
)

// FLV returns a 6-second H.264/AAC FLV (320x240, 25 fps, a keyframe every
// 2 s, 400 kbit/s video) made with ffmpeg's testsrc and sine sources, once
// per test binary, in dir (the caller's TestMain removes it).
func FLV(t testing.TB, dir string) string {
	t.Helper()
	ffmpeg := Require(t, "ffmpeg")
	flvOnce.Do(func() {
		flvPath = filepath.Join(dir, "test.flv")
		flvErr = makeFLV(ffmpeg, flvPath, 6, 25, 50)
	})
	if flvErr != nil {
		t.Fatal(flvErr)
	}
	return flvPath
}

// makeFLV encodes secs seconds of testsrc (320x240 at fps, a keyframe
// every gop frames, 400 kbit/s H.264) and a 440 Hz sine (AAC) into path.
func makeFLV(ffmpeg, path string, secs, fps, gop int) error {
	out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x240:rate=%d", fps),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
		"-g", strconv.Itoa(gop), "-keyint_min", strconv.Itoa(gop), "-sc_threshold", "0", "-b:v", "400k",
		"-c:a", "aac", "-b:a", "64k", "-f", "flv", path).CombinedOutput()
	if err != nil {
		return fmt.Errorf("make %s: %v: %s", path, err, out)
	}
	return nil
}

// Probe is what ffprobe tells about a media file.
type Probe struct {
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

// FFprobe runs ffprobe on file.
func FFprobe(t testing.TB, file string) Probe {
	t.Helper()
	out, err := exec.Command(Require(t, "ffprobe"), "-v", "error", "-print_format", "json",
		"-show_streams", "-show_format", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	var p Probe
	if err := json.Unmarshal(out, &p); err != nil {
		t.Fatalf("ffprobe output: %v", err)
	}
	return p
}

// Codec returns the codec of the first stream of kind ("video", "audio").
func (p Probe) Codec(kind string) string {
	for _, s := range p.Streams {
		if s.CodecType == kind {
			return s.CodecName
		}
	}
	return ""
}

// Duration is the container duration in seconds.
func (p Probe) Duration(t testing.TB) float64 {
	t.Helper()
	d, err := strconv.ParseFloat(p.Format.Duration, 64)
	if err != nil {
		t.Fatalf("ffprobe duration %q: %v", p.Format.Duration, err)
	}
	return d
}

// CheckPlayed checks that played has H.264 video and AAC audio and lasts as
// long as src within 10%.
func CheckPlayed(t testing.TB, played, src string) {
	t.Helper()
	got := FFprobe(t, played)
	if c := got.Codec("video"); c != "h264" {
		t.Errorf("video codec = %q, want h264", c)
	}
	if c := got.Codec("audio"); c != "aac" {
		t.Errorf("audio codec = %q, want aac", c)
	}
	want := FFprobe(t, src).Duration(t)
	if d := got.Duration(t); d < want*0.9 || d > want*1.1 {
		t.Errorf("played duration %.2f s, published %.2f s: not within 10%%", d, want)
	}
}

// WaitFor polls cond until it holds, failing the test after timeout with
// what it was waiting for.
func WaitFor(t testing.TB, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// Packets counts the packets of the first stream of kind ("video",
// "audio") in file.
func Packets(t testing.TB, file, kind string) int {
	t.Helper()
	sel := map[string]string{"video": "v:0", "audio": "a:0"}[kind]
	out, err := exec.Command(Require(t, "ffprobe"), "-v", "error", "-select_streams", sel, "-count_packets",
		"-show_entries", "stream=nb_read_packets", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe -count_packets %s: %v", file, err)
	}
	n, err := strconv.Atoi(strings.TrimSpace(string(out)))
	if err != nil {
		t.Fatalf("ffprobe packet count %q: %v", out, err)
	}
	return n
}

// ClipFLV makes an H.264/AAC FLV of secs seconds at fps frames per second
// (a keyframe every second) in dir.
func ClipFLV(t testing.TB, dir string, secs, fps int) string {
	t.Helper()
	path := filepath.Join(dir, fmt.Sprintf("clip-%ds-%dfps.flv", secs, fps))
	if err := makeFLV(Require(t, "ffmpeg"), path, secs, fps, fps); err != nil {
		t.Fatal(err)
	}
	return path
}
