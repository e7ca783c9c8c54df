package server

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"net/http"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/protocol/rtmpt"
	"github.com/nimbus-media/nimbus/server/config"
)

// startRTMPTServer is startServer with the RTMPT listener on an ephemeral
// loopback port; it returns the server and its rtmpt:// base URL.
func startRTMPTServer(t *testing.T, change func(*config.Config)) (*testServer, string) {
	t.Helper()
	ts := startServer(t, func(c *config.Config) {
		c.RTMPT.Listen = "127.0.0.1:0"
		if change != nil {
			change(c)
		}
	})
	return ts, fmt.Sprintf("rtmpt://%s/live", ts.RTMPTAddr())
}

// countPackets returns how many video and audio packets file holds.
func countPackets(t *testing.T, file string) (video, audio int) {
	t.Helper()
	out, err := exec.Command(testtools.Require(t, "ffprobe"), "-v", "error", "-count_packets",
		"-show_entries", "stream=codec_type,nb_read_packets", "-of", "csv=p=0", file).Output()
	if err != nil {
		t.Fatalf("ffprobe %s: %v", file, err)
	}
	for line := range strings.Lines(string(out)) {
		kind, n, _ := strings.Cut(strings.TrimSpace(line), ",")
		v, _ := strconv.Atoi(n)
		switch kind {
		case "video":
			video = v
		case "audio":
			audio = v
		}
	}
	return video, audio
}

// TestRTMPTFFmpeg: ffmpeg's own RTMPT client publishes and plays through
// the tunnel, alongside plain RTMP: every player gets at least 90 % of
// the published video and audio packets.
func TestRTMPTFFmpeg(t *testing.T) {
	src := testFLV(t)
	wantV, wantA := countPackets(t, src)
	for _, tc := range []struct {
		name    string
		publish string   // "rtmp" or "rtmpt"
		players []string // the players' schemes
	}{
		{"publish rtmpt, play rtmpt and rtmp", "rtmpt", []string{"rtmpt", "rtmp"}},
		{"publish rtmp, play rtmpt", "rtmp", []string{"rtmpt"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ts, tunnel := startRTMPTServer(t, nil)
			base := map[string]string{"rtmp": ts.url, "rtmpt": tunnel}
			ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
			defer cancel()
			dir := t.TempDir()
			type player struct {
				cmd *exec.Cmd
				out string
				log *testtools.Buffer
			}
			var players []player
			for i, scheme := range tc.players {
				p := player{out: filepath.Join(dir, fmt.Sprintf("%d-%s.flv", i, scheme)), log: &testtools.Buffer{}}
				p.cmd = testtools.FFmpeg(t, ctx, "-i", base[scheme]+"/s", "-c", "copy", "-f", "flv", p.out)
				p.cmd.Stdout, p.cmd.Stderr = p.log, p.log
				if err := p.cmd.Start(); err != nil {
					t.Fatal(err)
				}
				players = append(players, p)
			}
			testtools.WaitFor(t, 15*time.Second, "the players to subscribe", func() bool {
				s := ts.stream(t, "s")
				return s != nil && s.Info().Subscribers == len(players)
			})
			pub := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", base[tc.publish]+"/s")
			if out, err := pub.CombinedOutput(); err != nil {
				t.Fatalf("ffmpeg publish over %s: %v\n%s", tc.publish, err, out)
			}
			for i, p := range players {
				if err := p.cmd.Wait(); err != nil {
					t.Fatalf("ffmpeg play over %s: %v\n%s", tc.players[i], err, p.log.String())
				}
				v, a := countPackets(t, p.out)
				t.Logf("player over %s: %d/%d video, %d/%d audio packets", tc.players[i], v, wantV, a, wantA)
				if v < wantV*9/10 || a < wantA*9/10 {
					t.Errorf("player over %s got %d/%d video and %d/%d audio packets, want 90 %%", tc.players[i], v, wantV, a, wantA)
				}
			}
			for _, e := range ts.logs.FilterMessage("connected").All() {
				if e.ContextMap()["proto"] == "rtmpt" {
					return
				}
			}
			t.Error("no connection logged with proto rtmpt")
		})
	}
}

// dialRTMPT connects our RTMP client through an RTMPT session.
func dialRTMPT(ctx context.Context, ts *testServer) (*rtmp.Client, error) {
	nc, err := rtmpt.Dial(ctx, ts.RTMPTAddr().String())
	if err != nil {
		return nil, err
	}
	u, err := rtmp.ParseURL(ts.url)
	if err != nil {
		return nil, err
	}
	c, err := rtmp.NewClient(ctx, nc, u, rtmp.ClientConfig{})
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// rtmptPost makes one raw RTMPT request.
func rtmptPost(t *testing.T, hc *http.Client, ts *testServer, path string, body []byte) (int, string) {
	t.Helper()
	resp, err := hc.Post("http://"+ts.RTMPTAddr().String()+path, rtmpt.ContentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// TestRTMPTHostile: malformed requests, unknown sessions, a flood of
// /open and a client that stops polling each get an HTTP error or a
// logged close, while a plain RTMP player and an RTMPT player of a live
// stream keep receiving it.
func TestRTMPTHostile(t *testing.T) {
	ts, _ := startRTMPTServer(t, func(c *config.Config) {
		c.RTMPT.IdleTimeout = config.Duration{Duration: time.Second}
		c.RTMPT.MaxSessions = 40
		c.Limits.HandshakesPerIPPerSecond = 30
	})
	pub, pid := startPublishing(t, ts, "steady", rtmp.ClientConfig{})
	player, id := startPlaying(t, ts, "steady", rtmp.ClientConfig{})
	ctx, cancel := context.WithCancel(context.Background())
	dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
	tplayer, err := dialRTMPT(dctx, ts)
	dcancel()
	if err != nil {
		t.Fatal(err)
	}
	defer tplayer.Close()
	tid, err := tplayer.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := tplayer.Play(tid, "steady", -2000); err != nil {
		t.Fatal(err)
	}

	var wg sync.WaitGroup
	var sent, got, gotT atomic.Int64
	wg.Go(func() { publishSteadily(ctx, pub, pid, &sent) })
	wg.Go(func() { countVideo(ctx, player, id, &got) })
	wg.Go(func() { countVideo(ctx, tplayer, tid, &gotT) })
	defer func() { cancel(); wg.Wait() }()

	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	hc := &http.Client{Transport: tr}
	undisturbed := func(t *testing.T) {
		t.Helper()
		before, beforeT := got.Load(), gotT.Load()
		testtools.WaitFor(t, 5*time.Second, "both players to keep receiving", func() bool {
			return got.Load() > before+2 && gotT.Load() > beforeT+2
		})
	}
	t.Run("malformed", func(t *testing.T) {
		for path, want := range map[string]int{
			"/send/abc":                     http.StatusBadRequest,
			"/idle/a-b/1":                   http.StatusBadRequest,
			"/nonsense":                     http.StatusBadRequest,
			"/send/abc/1/2":                 http.StatusBadRequest,
			"/idle/ab/99999999999999999999": http.StatusBadRequest,
		} {
			if status, body := rtmptPost(t, hc, ts, path, []byte{0}); status != want {
				t.Errorf("POST %s: %d %q, want %d", path, status, body, want)
			}
		}
		undisturbed(t)
	})
	t.Run("unknown session", func(t *testing.T) {
		if status, body := rtmptPost(t, hc, ts, "/send/0123456789abcdef/1", []byte("x")); status != http.StatusNotFound {
			t.Errorf("unknown session: %d %q, want 404", status, body)
		}
		undisturbed(t)
	})
	t.Run("oversized body", func(t *testing.T) {
		status, body := rtmptPost(t, hc, ts, "/open/1", make([]byte, 2<<20))
		if status != http.StatusRequestEntityTooLarge {
			t.Errorf("2 MiB /open: %d %q, want 413", status, body)
		}
		undisturbed(t)
	})
	t.Run("open flood", func(t *testing.T) {
		counts := map[int]int{}
		for range 300 {
			status, _ := rtmptPost(t, hc, ts, "/open/1", []byte{0})
			counts[status]++
		}
		t.Logf("300 /open: %v", counts)
		if counts[http.StatusOK] > 40 || counts[http.StatusTooManyRequests]+counts[http.StatusServiceUnavailable] < 250 ||
			counts[http.StatusOK]+counts[http.StatusTooManyRequests]+counts[http.StatusServiceUnavailable] != 300 {
			t.Errorf("300 /open answered %v: want at most 40 sessions and the rest 429 or 503", counts)
		}
		undisturbed(t)
		// The flood's sessions never speak: the handshake timeout or
		// the idle timeout ends them all.
		testtools.WaitFor(t, 15*time.Second, "the flood's sessions to go", func() bool {
			return ts.rtmpt.Sessions() <= 1 // the RTMPT player's
		})
	})
	t.Run("stops polling", func(t *testing.T) {
		dctx, dcancel := context.WithTimeout(ctx, 5*time.Second)
		defer dcancel()
		time.Sleep(time.Second) // let the flood's rate limit refill
		c, err := dialRTMPT(dctx, ts)
		if err != nil {
			t.Fatal(err)
		}
		defer c.Close()
		sid, err := c.CreateStream()
		if err != nil {
			t.Fatal(err)
		}
		if err := c.Play(sid, "steady", -2000); err != nil {
			t.Fatal(err)
		}
		// No more requests: the server closes the session after its
		// idle timeout, saying why.
		testtools.WaitFor(t, 10*time.Second, "a close log line for the silent client", func() bool {
			for _, e := range ts.logs.FilterMessage("closed").All() {
				if err, ok := e.ContextMap()["error"].(string); ok && strings.Contains(err, "stopped polling") {
					return true
				}
			}
			return false
		})
		undisturbed(t)
	})
	if sent.Load() == 0 || got.Load() < sent.Load()*9/10 {
		t.Errorf("RTMP player received %d of %d frames", got.Load(), sent.Load())
	}
	if gotT.Load() < sent.Load()*9/10 {
		t.Errorf("RTMPT player received %d of %d frames", gotT.Load(), sent.Load())
	}
}

// TestRTMPTShutdown: a server stopping with an RTMPT client connected
// tells it NetConnection.Connect.AppShutdown through the tunnel and stops
// within its shutdown timeout, leaving no goroutine behind (TestMain).
func TestRTMPTShutdown(t *testing.T) {
	var c *rtmp.Client
	told := make(chan error, 1)
	// Registered before the server's, so it runs after the server stops.
	t.Cleanup(func() {
		if c == nil {
			return
		}
		select {
		case err := <-told:
			if err != nil {
				t.Errorf("waiting for %s: %v", protocol.ConnectAppShutdown, err)
			}
		case <-time.After(10 * time.Second):
			t.Error("the client's reads did not end")
		}
		_ = c.Close()
	})
	ts, _ := startRTMPTServer(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	var err error
	if c, err = dialRTMPT(ctx, ts); err != nil {
		t.Fatal(err)
	}
	go func() {
		_, err := c.WaitStatus(0, protocol.ConnectAppShutdown)
		told <- err
	}()
}
