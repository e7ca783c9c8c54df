package main

import (
	"context"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

var binDir string

func TestMain(m *testing.M) {
	var err error
	if binDir, err = os.MkdirTemp("", "nimbus-cli-test"); err != nil {
		panic(err)
	}
	code := m.Run()
	_ = os.RemoveAll(binDir)
	os.Exit(code)
}

var (
	buildOnce sync.Once
	buildErr  error
)

// nimbusBin builds the nimbus binary once for the test run.
func nimbusBin(t *testing.T) string {
	t.Helper()
	bin := filepath.Join(binDir, "nimbus")
	buildOnce.Do(func() {
		out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput()
		if err != nil {
			buildErr = err
			t.Logf("go build: %s", out)
		}
	})
	if buildErr != nil {
		t.Fatal(buildErr)
	}
	return bin
}

// freePort returns a loopback port that was free a moment ago.
func freePort(t *testing.T) string {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	return ln.Addr().String()
}

// startNimbus starts `nimbus serve` and waits until its RTMP port accepts;
// RTMPT and playback are off unless extra flags turn them on.
func startNimbus(t *testing.T, ctx context.Context, bin, rtmpAddr, rtmfpAddr string, extra ...string) (*exec.Cmd, *testtools.Buffer) {
	t.Helper()
	serverLog := &testtools.Buffer{}
	args := append([]string{"serve", "-rtmp", rtmpAddr, "-rtmfp", rtmfpAddr, "-http", "127.0.0.1:0", "-rtmpt", "", "-play", ""}, extra...)
	srv := exec.CommandContext(ctx, bin, args...)
	srv.Stdout, srv.Stderr = serverLog, serverLog
	srv.WaitDelay = 5 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", rtmpAddr)
		if err == nil {
			c.Close()
			return srv, serverLog
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen: %s", serverLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestServePublishPlay runs the real binary: `nimbus serve` with the
// embedded configuration, `nimbus play -o` recording what `nimbus publish`
// sends; ffprobe checks the recording; SIGTERM stops the server cleanly.
func TestServePublishPlay(t *testing.T) {
	dir := t.TempDir()
	src := testtools.FLV(t, binDir)
	bin := nimbusBin(t)
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	srv, serverLog := startNimbus(t, ctx, bin, addr, "127.0.0.1:0")
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()

	url := "rtmp://" + addr + "/live/cli"
	out := filepath.Join(dir, "played.flv")
	playerLog := &testtools.Buffer{}
	player := exec.CommandContext(ctx, bin, "play", "-o", out, url)
	player.Stdout, player.Stderr = playerLog, playerLog
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(serverLog.String(), "playing") {
		if time.Now().After(deadline) {
			t.Fatalf("player did not start: %s\n%s", playerLog.String(), serverLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	start := time.Now()
	if out, err := exec.CommandContext(ctx, bin, "publish", src, url).CombinedOutput(); err != nil {
		t.Fatalf("nimbus publish: %v\n%s", err, out)
	}
	if took := time.Since(start); took < 5*time.Second {
		t.Errorf("publishing a 6 s file took %v: not paced in real time", took)
	}
	if err := player.Wait(); err != nil {
		t.Fatalf("nimbus play: %v\n%s", err, playerLog.String())
	}
	testtools.CheckPlayed(t, out, src)

	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- srv.Wait() }()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("server exit after SIGTERM: %v\n%s", err, serverLog.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("server did not exit within 10 s of SIGTERM")
	}
	if !strings.Contains(serverLog.String(), "stopped") {
		t.Errorf("no shutdown log line:\n%s", serverLog.String())
	}
}

func TestUnknownCommand(t *testing.T) {
	if err := run(t.Context(), []string{"frobnicate"}); err == nil || !strings.Contains(err.Error(), "unknown command") {
		t.Fatalf("run(frobnicate) = %v", err)
	}
}

// freeUDPPort returns a loopback UDP address that was free a moment ago.
func freeUDPPort(t *testing.T) string {
	t.Helper()
	c, err := net.ListenPacket("udp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	return c.LocalAddr().String()
}

// waitLog waits for a server log line containing s.
func waitLog(t *testing.T, log *testtools.Buffer, s string) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for !strings.Contains(log.String(), s) {
		if time.Now().After(deadline) {
			t.Fatalf("no %q in the server log:\n%s", s, log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestCrossProtocolTools: ffmpeg publishes over RTMP and `nimbus play
// rtmfp://` records it; `nimbus publish rtmfp://` sends a file that ffmpeg
// plays over RTMP. ffprobe checks both recordings; `nimbus probe` answers
// over both protocols.
func TestCrossProtocolTools(t *testing.T) {
	dir := t.TempDir()
	src := testtools.FLV(t, binDir)
	bin := nimbusBin(t)
	addr, udp := freePort(t), freeUDPPort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 120*time.Second)
	defer cancel()
	srv, serverLog := startNimbus(t, ctx, bin, addr, udp)
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()

	for _, u := range []string{"rtmp://" + addr + "/live", "rtmfp://" + udp + "/live"} {
		out, err := exec.CommandContext(ctx, bin, "probe", u).CombinedOutput()
		if err != nil || !strings.Contains(string(out), "NetConnection.Connect.Success") || !strings.Contains(string(out), "fmsVer:  FMS/") {
			t.Fatalf("nimbus probe %s: %v\n%s", u, err, out)
		}
	}

	// RTMP in (ffmpeg), RTMFP out (nimbus play).
	out1 := filepath.Join(dir, "via-rtmfp.flv")
	player := exec.CommandContext(ctx, bin, "play", "-o", out1, "rtmfp://"+udp+"/live/a")
	playerLog := &testtools.Buffer{}
	player.Stdout, player.Stderr = playerLog, playerLog
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	waitLog(t, serverLog, "playing")
	if out, err := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", "rtmp://"+addr+"/live/a").CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish: %v\n%s", err, out)
	}
	if err := player.Wait(); err != nil {
		t.Fatalf("nimbus play rtmfp: %v\n%s", err, playerLog.String())
	}
	testtools.CheckPlayed(t, out1, src)

	// RTMFP in (nimbus publish), RTMP out (ffmpeg).
	out2 := filepath.Join(dir, "via-rtmp.flv")
	ff := testtools.FFmpeg(t, ctx, "-i", "rtmp://"+addr+"/live/b", "-c", "copy", "-f", "flv", out2)
	ffLog := &testtools.Buffer{}
	ff.Stdout, ff.Stderr = ffLog, ffLog
	if err := ff.Start(); err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for strings.Count(serverLog.String(), "playing") < 2 {
		if time.Now().After(deadline) {
			t.Fatalf("ffmpeg did not start playing:\n%s", ffLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	if out, err := exec.CommandContext(ctx, bin, "publish", src, "rtmfp://"+udp+"/live/b").CombinedOutput(); err != nil {
		t.Fatalf("nimbus publish rtmfp: %v\n%s", err, out)
	}
	if err := ff.Wait(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, ffLog.String())
	}
	testtools.CheckPlayed(t, out2, src)
}

func dialTCP(addr string) (net.Conn, error) { return net.Dial("tcp", addr) }
