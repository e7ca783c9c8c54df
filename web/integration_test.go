package web_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/web"
)

const (
	adminUser     = "admin"
	adminPassword = "correct horse"
)

// nimbus is a running server with the admin API on loopback ports.
type nimbus struct {
	rtmp string // rtmp://127.0.0.1:PORT/live
	http string // http://127.0.0.1:PORT
	// streams is live/_definst_'s streams folder (in a temporary
	// apps_dir), where recordings go.
	streams string
}

func startNimbus(t *testing.T) *nimbus { return startNimbusAuth(t, true) }

// startNimbusAuth starts a server whose admin API has the test login with
// creds and is open (loopback only, no credentials) without.
func startNimbusAuth(t *testing.T, creds bool) *nimbus {
	t.Helper()
	cfg := config.Defaults()
	cfg.RTMP.Listen, cfg.HTTP.Listen = "127.0.0.1:0", "127.0.0.1:0"
	cfg.RTMPT.Listen, cfg.Play.Listen = "", ""
	if creds {
		hash, err := web.HashPassword(adminPassword, 1000)
		if err != nil {
			t.Fatal(err)
		}
		cfg.HTTP.User, cfg.HTTP.PasswordHash = adminUser, hash
	}
	cfg.Apps = []config.AppConfig{{Name: "live"}}
	cfg.AppsDir = t.TempDir()
	if err := cfg.Validate(); err != nil {
		t.Fatal(err)
	}
	srv := server.New(cfg, zap.NewNop())
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
	return &nimbus{rtmp: fmt.Sprintf("rtmp://%s/live", srv.RTMPAddr()), http: "http://" + srv.HTTPAddr().String(),
		streams: filepath.Join(cfg.AppsDir, "live", "streams", "_definst_")}
}

// api calls the JSON API with basic auth and decodes the reply into v.
func (n *nimbus) api(t *testing.T, method, path string, v any) int {
	t.Helper()
	req, _ := http.NewRequest(method, n.http+path, nil)
	req.SetBasicAuth(adminUser, adminPassword)
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	if v != nil && res.StatusCode == http.StatusOK {
		if err := json.NewDecoder(res.Body).Decode(v); err != nil {
			t.Fatalf("%s %s: %v", method, path, err)
		}
	}
	return res.StatusCode
}

func (n *nimbus) stream(t *testing.T, name string) (web.StreamInfo, bool) {
	t.Helper()
	var streams []web.StreamInfo
	if st := n.api(t, "GET", "/api/v1/streams", &streams); st != http.StatusOK {
		t.Fatalf("GET /api/v1/streams: %d", st)
	}
	for _, s := range streams {
		if s.Name == name && s.Published {
			return s, true
		}
	}
	return web.StreamInfo{}, false
}

var (
	flvDir  string
	flvOnce sync.Once
)

// testFLV is the shared 6 s H.264/AAC 320x240 test file.
func testFLV(t *testing.T) string {
	t.Helper()
	flvOnce.Do(func() {
		var err error
		if flvDir, err = os.MkdirTemp("", "nimbus-web-test"); err != nil {
			t.Fatal(err)
		}
	})
	return testtools.FLV(t, flvDir)
}

// payloadBitrate is the file's media and data payload rate in bit/s: what
// the server should measure while the file is published in real time.
func payloadBitrate(t *testing.T, file string) float64 {
	t.Helper()
	f, err := os.Open(file)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	r, err := media.NewFLVReader(f)
	if err != nil {
		t.Fatal(err)
	}
	var total, last uint64
	for {
		tag, err := r.ReadTag()
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			t.Fatal(err)
		}
		if tag.Type == protocol.TypeAudio || tag.Type == protocol.TypeVideo {
			total += uint64(len(tag.Data))
			last = max(last, uint64(tag.Timestamp))
		}
	}
	return float64(total*8) / (float64(last) / 1000)
}

// proc is an external process whose output is kept for failure messages.
type proc struct {
	cmd  *exec.Cmd
	out  testtools.Buffer
	done chan error
}

func startProc(t *testing.T, cmd *exec.Cmd) *proc {
	t.Helper()
	p := &proc{cmd: cmd, done: make(chan error, 1)}
	cmd.Stdout, cmd.Stderr = &p.out, &p.out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- cmd.Wait() }()
	t.Cleanup(func() {
		_ = cmd.Process.Kill()
		<-p.done
	})
	return p
}

// exited waits for the process to end and returns its result.
func (p *proc) exited(t *testing.T, timeout time.Duration, what string) error {
	t.Helper()
	select {
	case err := <-p.done:
		p.done <- err // for the cleanup
		return err
	case <-time.After(timeout):
		t.Fatalf("%s still running after %v:\n%s", what, timeout, p.out.String())
		return nil
	}
}

// publish starts ffmpeg publishing the test file in real time, looping, to
// stream name.
func publish(t *testing.T, ctx context.Context, n *nimbus, name string) *proc {
	t.Helper()
	return startProc(t, testtools.FFmpeg(t, ctx, "-re", "-stream_loop", "-1", "-i", testFLV(t), "-c", "copy", "-f", "flv", n.rtmp+"/"+name))
}

// TestFFmpegStreamStats: ffmpeg publishes H.264/AAC; the API reports the
// stream with its codecs, the encoded size and a bit rate within 20% of the
// file's; a playing ffmpeg is listed as an RTMP subscriber. The AMS admin
// API lists the stream. Disconnecting the player and stopping the stream
// end both ffmpeg processes.
func TestFFmpegStreamStats(t *testing.T) {
	src := testFLV(t)
	want := payloadBitrate(t, src)
	n := startNimbus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()

	pub := publish(t, ctx, n, "cam")
	testtools.WaitFor(t, 10*time.Second, "the stream to be published", func() bool {
		_, ok := n.stream(t, "cam")
		return ok
	})
	player := startProc(t, testtools.FFmpeg(t, ctx, "-i", n.rtmp+"/cam", "-c", "copy", "-f", "null", "-"))
	var st web.StreamInfo
	testtools.WaitFor(t, 15*time.Second, "a full measurement window and the player", func() bool {
		st, _ = n.stream(t, "cam")
		return time.Since(st.Since) > 5500*time.Millisecond && st.SubscribersByProtocol["rtmp"] == 1
	})
	t.Logf("stream: %+v; file payload rate %.0f bit/s", st, want)
	if st.VideoCodec != "h264" || st.AudioCodec != "aac" {
		t.Errorf("codecs %q/%q, want h264/aac", st.VideoCodec, st.AudioCodec)
	}
	if st.FramesPerWrite != 1 {
		t.Errorf("%d frames per write for one player, want 1", st.FramesPerWrite)
	}
	if st.Width != 320 || st.Height != 240 {
		t.Errorf("resolution %dx%d, want 320x240", st.Width, st.Height)
	}
	if st.Bitrate < want*0.8 || st.Bitrate > want*1.2 {
		t.Errorf("bitrate %.0f bit/s, want within 20%% of %.0f", st.Bitrate, want)
	}
	if st.FrameRate < 20 || st.FrameRate > 30 {
		t.Errorf("frame rate %.1f, want about 25", st.FrameRate)
	}
	if st.KeyframeInterval < 1.9 || st.KeyframeInterval > 2.1 {
		t.Errorf("keyframe interval %.2f s, want 2", st.KeyframeInterval)
	}
	if st.Subscribers != 1 || st.Publisher == "" || st.PublisherProtocol != "rtmp" {
		t.Errorf("subscribers %d, publisher %q (%s)", st.Subscribers, st.Publisher, st.PublisherProtocol)
	}

	// The AMS administration API lists the stream.
	q := url.Values{"auser": {adminUser}, "apswd": {adminPassword}, "appInst": {"live/_definst_"}}
	res, err := http.Get(n.http + "/admin/getLiveStreams?" + q.Encode())
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusOK || !strings.Contains(string(body), "<code>NetConnection.Call.Success</code>") ||
		!strings.Contains(string(body), "<data><_0>cam</_0></data>") {
		t.Errorf("getLiveStreams: %d\n%s", res.StatusCode, body)
	}
	if res, err = http.Get(n.http + "/api/v1/streams"); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated API request: %d, want 401", res.StatusCode)
	}

	// Disconnect the player.
	var clients []web.ClientInfo
	n.api(t, "GET", "/api/v1/clients", &clients)
	playerID := ""
	for _, c := range clients {
		if c.ID != st.Publisher {
			playerID = c.ID
		}
	}
	if len(clients) != 2 || playerID == "" {
		t.Fatalf("clients %+v, want the publisher and the player", clients)
	}
	if code := n.api(t, "DELETE", "/api/v1/clients/"+playerID, nil); code != http.StatusNoContent {
		t.Fatalf("disconnect: %d", code)
	}
	err = player.exited(t, 10*time.Second, "the disconnected player")
	t.Logf("player ended (%v): %s", err, player.out.String())

	// Stop the stream: its publisher is kicked, and ffmpeg, which would
	// otherwise loop for ever, fails.
	if code := n.api(t, "DELETE", "/api/v1/streams/live/_definst_/cam", nil); code != http.StatusNoContent {
		t.Fatalf("stop stream: %d", code)
	}
	if err := pub.exited(t, 10*time.Second, "the kicked publisher"); err == nil {
		t.Errorf("the kicked publisher exited cleanly; want an error:\n%s", pub.out.String())
	}
	testtools.WaitFor(t, 5*time.Second, "the stream to go", func() bool {
		_, ok := n.stream(t, "cam")
		return !ok
	})
	if code := n.api(t, "DELETE", "/api/v1/streams/live/_definst_/cam", nil); code != http.StatusNotFound {
		t.Errorf("stopping a stopped stream: %d, want 404", code)
	}
}

// TestMain removes the shared test file and fails the run if any test
// leaves a goroutine behind: servers, WebSocket connections and external
// processes must all be gone.
func TestMain(m *testing.M) {
	code := m.Run()
	if flvDir != "" {
		_ = os.RemoveAll(flvDir)
	}
	if code == 0 {
		if err := goleak.Find(); err != nil {
			fmt.Fprintln(os.Stderr, "goroutines leaked:", err)
			code = 1
		}
	}
	os.Exit(code)
}

// TestUnloadApp: unloading an application over the API disconnects its
// clients (a waiting ffmpeg player ends) and forgets its instance; the
// AMS reloadApp of an unknown application is an error.
func TestUnloadApp(t *testing.T) {
	n := startNimbus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	player := startProc(t, testtools.FFmpeg(t, ctx, "-i", n.rtmp+"/notyet", "-c", "copy", "-f", "null", "-"))
	testtools.WaitFor(t, 10*time.Second, "the player to connect", func() bool {
		var clients []web.ClientInfo
		n.api(t, "GET", "/api/v1/clients", &clients)
		return len(clients) == 1
	})
	if code := n.api(t, "POST", "/api/v1/apps/live/unload", nil); code != http.StatusNoContent {
		t.Fatalf("unload: %d", code)
	}
	err := player.exited(t, 10*time.Second, "the player of the unloaded application")
	// ffmpeg prints the description of NetConnection.Connect.AppShutdown.
	if out := player.out.String(); !strings.Contains(out, "shutting down") {
		t.Errorf("player ended (%v) without the shutdown status:\n%s", err, out)
	}
	var apps []web.AppInfo
	n.api(t, "GET", "/api/v1/apps", &apps)
	if len(apps) != 1 || apps[0].Name != "live" || len(apps[0].Instances) != 0 {
		t.Errorf("apps after unload: %+v, want live without instances", apps)
	}
	if code := n.api(t, "POST", "/api/v1/apps/nosuchapp/reload", nil); code != http.StatusNotFound {
		t.Errorf("reload of an unknown application: %d, want 404", code)
	}
}
