package main

import (
	"context"
	"errors"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// TestSIGHUPReload: SIGHUP applies a changed configuration (here: publish
// tokens become required) to new clients while a live stream keeps flowing
// to its player.
func TestSIGHUPReload(t *testing.T) {
	bin := nimbusBin(t)
	dir := t.TempDir()
	addr := freePort(t)
	cfg := filepath.Join(dir, "nimbus.toml")
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	head := "apps_dir = \"\"\n"
	srv, serverLog := serveConfig(t, ctx, bin, cfg, head, addr, "[[app]]\nname = \"live\"\n")
	defer func() { _ = srv.Process.Kill(); _ = srv.Wait() }()
	url := "rtmp://" + addr + "/live/"

	pub, err := rtmp.Dial(ctx, url+"s", rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer pub.Close()
	pid, _ := pub.CreateStream()
	if err := pub.Publish(pid, "s", "live"); err != nil {
		t.Fatal(err)
	}
	player, err := rtmp.Dial(ctx, url+"s", rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer player.Close()
	id, _ := player.CreateStream()
	if err := player.Play(id, "s", -2000); err != nil {
		t.Fatal(err)
	}

	writeConfig(t, cfg, head, addr, "[[app]]\nname = \"live\"\ntoken_secret = \"k\"\ntoken_publish = true\n")
	if err := srv.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	waitLog(t, serverLog, "configuration reloaded")
	// A new publisher now needs a token…
	late, err := rtmp.Dial(ctx, url+"t", rtmp.ClientConfig{})
	if err != nil {
		t.Fatal(err)
	}
	defer late.Close()
	lid, _ := late.CreateStream()
	var se *protocol.StatusError
	if err := late.Publish(lid, "t", "live"); !errors.As(err, &se) || se.Code != protocol.PublishBadName {
		t.Fatalf("publish without a token after reload: %v", err)
	}
	// …while the stream that was live keeps reaching its player.
	if err := pub.WriteMessage(protocol.Message{Type: protocol.TypeVideo, StreamID: pid, Payload: []byte{0x17, 1, 0, 0, 0, 42}}); err != nil {
		t.Fatal(err)
	}
	_ = player.SetDeadline(time.Now().Add(10 * time.Second))
	for {
		m, err := player.ReadMessage()
		if err != nil {
			t.Fatalf("player after reload: %v", err)
		}
		if m.Type == protocol.TypeVideo {
			break
		}
	}
}
