package main

import (
	"bytes"
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

type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// TestServePublishPlay runs the real binary: `nimbus serve` with the
// embedded configuration, `nimbus play -o` recording what `nimbus publish`
// sends; ffprobe checks the recording; SIGTERM stops the server cleanly.
func TestServePublishPlay(t *testing.T) {
	dir := t.TempDir()
	src := testtools.FLV(t, dir)
	bin := nimbusBin(t)
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()

	serverLog := &syncBuffer{}
	srv := exec.CommandContext(ctx, bin, "serve", "-rtmp", addr, "-http", "127.0.0.1:0")
	srv.Stdout, srv.Stderr = serverLog, serverLog
	srv.WaitDelay = 5 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil {
			c.Close()
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen: %s", serverLog.String())
		}
		time.Sleep(50 * time.Millisecond)
	}

	url := "rtmp://" + addr + "/live/cli"
	out := filepath.Join(dir, "played.flv")
	playerLog := &syncBuffer{}
	player := exec.CommandContext(ctx, bin, "play", "-o", out, url)
	player.Stdout, player.Stderr = playerLog, playerLog
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	deadline = time.Now().Add(10 * time.Second)
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
