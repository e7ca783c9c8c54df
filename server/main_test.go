package server

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
)

func TestMain(m *testing.M) {
	code := m.Run()
	if testFLVDir != "" {
		_ = os.RemoveAll(testFLVDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// testServer is a server on an ephemeral loopback port, with its log lines
// captured for assertions.
type testServer struct {
	*Server
	url  string // rtmp://127.0.0.1:PORT/live
	logs *observer.ObservedLogs
}

// startServer starts a server; change adjusts the default configuration.
// The server is stopped, and every connection closed, when the test ends.
func startServer(t *testing.T, change func(*Config)) *testServer {
	t.Helper()
	cfg := Defaults()
	cfg.RTMP.Listen = "127.0.0.1:0"
	cfg.Apps = []AppConfig{{Name: "live"}}
	if change != nil {
		change(&cfg)
	}
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	core, logs := observer.New(zap.DebugLevel)
	log := zap.New(core)
	if testing.Verbose() {
		log = zap.New(zapcoreTee(core, t))
	}
	srv := New(cfg, log)
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- srv.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("serve: %v", err)
			}
		case <-time.After(10 * time.Second):
			t.Error("server did not stop within 10 s")
		}
	})
	return &testServer{Server: srv, url: fmt.Sprintf("rtmp://%s/live", srv.RTMPAddr()), logs: logs}
}

// stream returns the live stream called name in live/_definst_, or nil.
func (ts *testServer) stream(t *testing.T, name string) *media.Stream {
	t.Helper()
	inst, err := ts.Apps().Resolve("live", apps.DefaultInstance)
	if err != nil {
		t.Fatal(err)
	}
	return inst.Streams().Get(name)
}

// waitFor polls cond until it holds or the timeout passes.
func waitFor(t *testing.T, timeout time.Duration, what string, cond func() bool) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for !cond() {
		if time.Now().After(deadline) {
			t.Fatalf("timed out after %v waiting for %s", timeout, what)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// requireTool finds an external program. Interop tests must not pass
// silently in CI, so there a missing tool fails the test.
func requireTool(t *testing.T, name string) string {
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

var (
	testFLVOnce sync.Once
	testFLVPath string
	testFLVErr  error
	testFLVDir  string
)

// testFLV returns a 6-second H.264/AAC FLV made once per test binary with
// ffmpeg's testsrc and sine sources (320x240, 25 fps, a keyframe every 2 s).
func testFLV(t *testing.T) string {
	t.Helper()
	ffmpeg := requireTool(t, "ffmpeg")
	testFLVOnce.Do(func() {
		testFLVDir, testFLVErr = os.MkdirTemp("", "nimbus-test-flv")
		if testFLVErr != nil {
			return
		}
		testFLVPath = filepath.Join(testFLVDir, "test.flv")
		out, err := exec.Command(ffmpeg, "-hide_banner", "-loglevel", "error", "-y",
			"-f", "lavfi", "-i", "testsrc=size=320x240:rate=25",
			"-f", "lavfi", "-i", "sine=frequency=440:sample_rate=44100",
			"-t", "6", "-c:v", "libx264", "-preset", "ultrafast", "-tune", "zerolatency", "-pix_fmt", "yuv420p",
			"-g", "50", "-keyint_min", "50", "-sc_threshold", "0", "-b:v", "400k",
			"-c:a", "aac", "-b:a", "64k", "-f", "flv", testFLVPath).CombinedOutput()
		if err != nil {
			testFLVErr = fmt.Errorf("make test FLV: %v: %s", err, out)
		}
	})
	if testFLVErr != nil {
		t.Fatal(testFLVErr)
	}
	return testFLVPath
}
