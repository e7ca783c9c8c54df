package server

import (
	"context"
	"net"
	"net/netip"
	"path/filepath"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

func TestAdmissionLimits(t *testing.T) {
	ip1, ip2 := netip.MustParseAddr("10.0.0.1"), netip.MustParseAddr("10.0.0.2")
	now := time.Unix(1000, 0)
	a := newAdmission(config.LimitsConfig{MaxConnections: 3, MaxConnectionsPerIP: 2, HandshakesPerIPPerSecond: 100})
	r1, why := a.admit(ip1, now)
	r2, _ := a.admit(ip1, now)
	if why != "" || r2 == nil {
		t.Fatal("first two connections refused")
	}
	if _, why := a.admit(ip1, now); why != refusedPerIP {
		t.Fatalf("third from one IP: %q, want %q", why, refusedPerIP)
	}
	r3, _ := a.admit(ip2, now)
	if _, why := a.admit(netip.MustParseAddr("10.0.0.3"), now); why != refusedTotal {
		t.Fatalf("fourth overall: %q, want %q", why, refusedTotal)
	}
	r1()
	r1() // idempotent
	if _, why := a.admit(ip1, now); why != "" {
		t.Fatalf("after a release: %q", why)
	}
	r2()
	r3()

	rate := newAdmission(config.LimitsConfig{HandshakesPerIPPerSecond: 2})
	for i := range 2 {
		rel, why := rate.admit(ip1, now)
		if why != "" {
			t.Fatalf("handshake %d refused", i)
		}
		rel()
	}
	if _, why := rate.admit(ip1, now); why != refusedRate {
		t.Fatalf("third handshake in one second: %q", why)
	}
	if rel, why := rate.admit(ip1, now.Add(time.Second)); why != "" {
		t.Fatalf("a second later: %q", why)
	} else {
		rel()
	}
	if got := rate.Refusals()[refusedRate]; got != 1 {
		t.Errorf("rate refusals %d", got)
	}
}

// TestConnectionLimitRefusesExcess: past max_connections_per_ip the next
// connection is closed at once with a log line, while the clients under the
// limit keep streaming.
func TestConnectionLimitRefusesExcess(t *testing.T) {
	ts := startServer(t, func(c *config.Config) { c.Limits.MaxConnectionsPerIP = 2 })
	pub, pid := startPublishing(t, ts, "lim", rtmp.ClientConfig{})
	player, id := startPlaying(t, ts, "lim", rtmp.ClientConfig{})
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if c, err := rtmp.Dial(ctx, ts.url, rtmp.ClientConfig{}); err == nil {
		c.Close()
		t.Fatal("third connection from one address was admitted")
	}
	testtools.WaitFor(t, 5*time.Second, "the refusal log line", func() bool {
		return len(ts.logs.FilterMessage("connection refused").All()) == 1
	})
	send(t, pub, pid, protocol.TypeVideo, 0, avcFrame(true, 1, 100))
	if m := readMedia(t, player, id); m.Type != protocol.TypeVideo {
		t.Fatal("stream under the limit stopped")
	}
}

// TestRTMPSPublish: ffmpeg publishes over RTMPS (a self-signed certificate
// made here) and a player reads the stream over plain RTMP.
func TestRTMPSPublish(t *testing.T) {
	src := testFLV(t)
	certFile, keyFile := testtools.SelfSigned(t, t.TempDir())
	ts := startServer(t, func(c *config.Config) {
		c.RTMPS = config.RTMPSConfig{Listen: "127.0.0.1:0", CertFile: certFile, KeyFile: keyFile}
	})
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	out := filepath.Join(t.TempDir(), "played.flv")
	player := testtools.FFmpeg(t, ctx, "-i", ts.url+"/secure", "-c", "copy", "-f", "flv", out)
	playerOut := &testtools.Buffer{}
	player.Stdout, player.Stderr = playerOut, playerOut
	if err := player.Start(); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, 10*time.Second, "the player to subscribe", func() bool {
		s := ts.stream(t, "secure")
		return s != nil && s.Info().Subscribers == 1
	})
	url := "rtmps://" + ts.RTMPSAddr().String() + "/live/secure"
	if out, err := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", url).CombinedOutput(); err != nil {
		t.Fatalf("ffmpeg publish over rtmps: %v\n%s", err, out)
	}
	if err := player.Wait(); err != nil {
		t.Fatalf("ffmpeg play: %v\n%s", err, playerOut.String())
	}
	testtools.CheckPlayed(t, out, src)
	if len(ts.logs.FilterField(zapString("proto", "rtmps")).FilterMessage("publishing").All()) != 1 {
		t.Error("no publish logged on the rtmps listener")
	}
}

// TestListenFailureClosesListeners: when a listener cannot open (here
// RTMFP's port is taken), those Listen opened before it are closed again.
func TestListenFailureClosesListeners(t *testing.T) {
	taken, err := net.ListenPacket("udp4", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer taken.Close()
	free := func() string {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		defer ln.Close()
		return ln.Addr().String()
	}
	cfg := config.Defaults()
	cfg.RTMP.Listen, cfg.RTMPT.Listen, cfg.HTTP.Listen, cfg.Play.Listen = free(), free(), "", ""
	cfg.RTMFP.Listen = taken.LocalAddr().String()
	if err := New(cfg, zap.NewNop()).Listen(); err == nil {
		t.Fatal("Listen succeeded on a taken UDP port")
	}
	for _, addr := range []string{cfg.RTMP.Listen, cfg.RTMPT.Listen} {
		ln, err := net.Listen("tcp", addr)
		if err != nil {
			t.Fatalf("%s is still held after the failure: %v", addr, err)
		}
		_ = ln.Close()
	}
}
