package main

import (
	"context"
	"errors"
	"fmt"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"io/fs"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// TestSIGTERMDrains: with 20 players connected and a persistent
// SharedObject changed, SIGTERM makes every player get
// NetConnection.Connect.AppShutdown, the process exits within the shutdown
// bound, and the SharedObject is on disk.
func TestSIGTERMDrains(t *testing.T) {
	bin := nimbusBin(t)
	dir := t.TempDir()
	appsDir := filepath.Join(dir, "apps")
	if err := os.MkdirAll(filepath.Join(appsDir, "live"), 0o755); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	cfg := filepath.Join(dir, "nimbus.toml")
	srv, serverLog := serveConfig(t, ctx, bin, cfg, fmt.Sprintf("apps_dir = %q\nshutdown_timeout = \"5s\"\n", appsDir), addr)
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	url := "rtmp://" + addr + "/live/s"

	// A client sets a slot of a persistent SharedObject and waits for the
	// server's acknowledgement.
	so, err := rtmp.Dial(ctx, url, rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer so.Close()
	msg, err := protocol.AppendSharedObject(nil, protocol.TypeSharedObjectAMF0, &protocol.SharedObjectMessage{
		Name: "state", Persistent: true,
		Events: []protocol.SOEvent{{Type: protocol.SOUse}, {Type: protocol.SORequestChange, Key: "answer", Value: "forty-two"}},
	})
	if err != nil {
		t.Fatal(err)
	}
	if err := so.WriteMessage(protocol.Message{Type: protocol.TypeSharedObjectAMF0, Payload: msg}); err != nil {
		t.Fatal(err)
	}
	_ = so.SetDeadline(time.Now().Add(10 * time.Second))
	for acked := false; !acked; {
		m, err := so.ReadMessage()
		if err != nil {
			t.Fatalf("waiting for the SharedObject change to be acknowledged: %v", err)
		}
		if m.Type != protocol.TypeSharedObjectAMF0 {
			continue
		}
		var got protocol.SharedObjectMessage
		if err := protocol.DecodeSharedObject(amf.NewDecoder(), m.Type, m.Payload, &got); err != nil {
			t.Fatal(err)
		}
		for _, ev := range got.Events {
			acked = acked || (ev.Type == protocol.SOSuccess && ev.Key == "answer")
		}
	}

	// 20 players wait for the stream.
	const players = 20
	told := make(chan error, players)
	var wg sync.WaitGroup
	for range players {
		c, err := rtmp.Dial(ctx, url, rtmp.ClientConfig{})
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		id, err := c.CreateStream()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Play(id, "s", -2000); err != nil {
			t.Fatal(err)
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			_ = c.SetDeadline(time.Now().Add(30 * time.Second))
			_, err := c.WaitStatus(0, protocol.ConnectAppShutdown)
			var se *protocol.StatusError
			if errors.As(err, &se) && se.Code == protocol.ConnectAppShutdown {
				err = nil // AppShutdown is an error-level status
			}
			told <- err
		}()
	}

	start := time.Now()
	if err := srv.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	if err := srv.Wait(); err != nil {
		t.Fatalf("exit after SIGTERM: %v\n%s", err, serverLog.String())
	}
	if took := time.Since(start); took > 8*time.Second {
		t.Errorf("took %v to exit, shutdown_timeout is 5 s", took)
	}
	wg.Wait()
	close(told)
	for err := range told {
		if err != nil {
			t.Errorf("player: %v", err)
		}
	}
	var found bool
	_ = filepath.WalkDir(appsDir, func(p string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() && strings.HasSuffix(p, ".so") {
			b, _ := os.ReadFile(p)
			found = found || strings.Contains(string(b), "forty-two")
		}
		return nil
	})
	if !found {
		t.Errorf("persistent SharedObject not on disk under %s", appsDir)
	}
}

// serveConfig writes a configuration file (top-level keys in head, RTMP
// on addr, RTMFP, HTTP and playback off, tail appended) and starts `nimbus serve
// -config` on it, returning once it listens.
func serveConfig(t *testing.T, ctx context.Context, bin, file, head, addr string, tail ...string) (*exec.Cmd, *testtools.Buffer) {
	t.Helper()
	writeConfig(t, file, head, addr, tail...)
	serverLog := &testtools.Buffer{}
	srv := exec.CommandContext(ctx, bin, "serve", "-config", file)
	srv.Stdout, srv.Stderr = serverLog, serverLog
	srv.WaitDelay = 5 * time.Second
	if err := srv.Start(); err != nil {
		t.Fatal(err)
	}
	waitListening(t, addr, serverLog)
	return srv, serverLog
}

// writeConfig writes the configuration serveConfig uses.
func writeConfig(t *testing.T, file, head, addr string, tail ...string) {
	t.Helper()
	text := head + fmt.Sprintf("[rtmp]\nlisten = %q\n[rtmfp]\nlisten = \"\"\n[rtmpt]\nlisten = \"\"\n[http]\nlisten = \"\"\n[play]\nlisten = \"\"\n", addr) + strings.Join(tail, "")
	if err := os.WriteFile(file, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
}

// waitListening waits until addr accepts TCP connections.
func waitListening(t *testing.T, addr string, log *testtools.Buffer) {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := dialTCP(addr)
		if err == nil {
			c.Close()
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("server did not listen: %s", log.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
}
