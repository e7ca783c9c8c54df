package testtools

import (
	"fmt"
	"os/exec"
	"path/filepath"
	"strconv"
	"testing"
)

// ClipMP4 makes dir/name, secs seconds of testsrc at fps (a keyframe every
// second, H.264 with B-frames so that samples have composition offsets)
// and a sine (AAC) as ffmpeg writes MP4 by default, moov at the end;
// extra output options go last (`-movflags +faststart`, `-c:v libx265`,
// `-movflags frag_keyframe+empty_moov`) and override the defaults.
func ClipMP4(t testing.TB, dir, name string, secs, fps int, extra ...string) string {
	t.Helper()
	path := filepath.Join(dir, name)
	args := []string{"-hide_banner", "-loglevel", "error", "-y",
		"-f", "lavfi", "-i", fmt.Sprintf("testsrc=size=320x240:rate=%d", fps),
		"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
		"-t", strconv.Itoa(secs), "-c:v", "libx264", "-preset", "ultrafast", "-bf", "2", "-pix_fmt", "yuv420p",
		"-g", strconv.Itoa(fps), "-keyint_min", strconv.Itoa(fps), "-sc_threshold", "0", "-b:v", "400k",
		"-c:a", "aac", "-b:a", "64k"}
	args = append(append(args, extra...), path)
	if out, err := exec.Command(Require(t, "ffmpeg"), args...).CombinedOutput(); err != nil {
		t.Fatalf("make %s: %v: %s", path, err, out)
	}
	return path
}
