package server

import (
	"context"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// chromiumForWebRTC is headless Chromium that plays muted and unmuted
// video without a gesture and reaches the server's loopback candidates.
func chromiumForWebRTC(t *testing.T, args ...string) *testtools.Browser {
	return testtools.StartChromium(t, append([]string{"--autoplay-policy=no-user-gesture-required",
		"--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns"}, args...)...)
}

// publishClip has ffmpeg publish a 20 s H.264/AAC clip over RTMP in real
// time as live/name until the test ends, once the server has its video.
func publishClip(t *testing.T, ts *testServer, name string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", testtools.ClipFLV(t, t.TempDir(), 20, 25), "-c", "copy", "-f", "flv", ts.url+"/"+name)
	if err := publisher.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	t.Cleanup(func() { cancel(); _ = publisher.Wait() })
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, name)
		return s != nil && s.Info().VideoCodec == "h264"
	})
}

// advances asserts that the number eval returns (a <video>'s currentTime)
// grows by more than 2 s in 4 s.
func advances(t *testing.T, what string, eval func() string) {
	t.Helper()
	start, _ := strconv.ParseFloat(eval(), 64)
	time.Sleep(4 * time.Second)
	end, _ := strconv.ParseFloat(eval(), 64)
	if end-start <= 2 {
		t.Errorf("%s: currentTime advanced %.2f s in 4 s (%.2f to %.2f)", what, end-start, start, end)
	}
	t.Logf("%s: currentTime %.2f to %.2f in 4 s", what, start, end)
}

// TestPlayerPageInChromium: headless Chromium opens the player page of a
// stream ffmpeg publishes over RTMP; the page plays it over WebRTC (WHEP)
// and says so (video only: the stream's audio is AAC), and the <video>'s
// currentTime advances by more than 2 s in 4 s. A screenshot is kept.
func TestPlayerPageInChromium(t *testing.T) {
	browser := chromiumForWebRTC(t)
	ts := startServer(t, webrtcLoopback)
	publishClip(t, ts, "cam")
	browser.Call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 800, "height": 600, "deviceScaleFactor": 1, "mobile": false}, nil)
	browser.Call(t, "Page.navigate", map[string]any{"url": ts.playURL("/live/cam?note=kept")}, nil)
	testtools.WaitFor(t, 15*time.Second, "the page to play over WebRTC", func() bool {
		return browser.Eval(t, `document.body && document.body.dataset.transport === 'webrtc'`) == "true"
	})
	if n := ts.stream(t, "cam").Info().SubscribersByProtocol["webrtc"]; n != 1 {
		t.Errorf("%d WebRTC players, want 1", n)
	}
	advances(t, "player page", func() string { return browser.Eval(t, `document.getElementById('video').currentTime`) })
	if status := browser.Eval(t, `document.getElementById('status').textContent`); !strings.Contains(status, "Playing over WebRTC (WHEP), video only") {
		t.Errorf("status %s", status)
	}
	if size := browser.Eval(t, `(() => { const v = document.getElementById('video'); return v.videoWidth + 'x' + v.videoHeight })()`); size != `"320x240"` {
		t.Errorf("video size %s, want 320x240", size)
	}
	if urls := browser.Eval(t, `document.getElementById('list').textContent`); !strings.Contains(urls, ts.playURL("/live/cam.flv?note=kept")) {
		t.Errorf("the page lists %s, without the HTTP-FLV URL with its query", urls)
	}
	testtools.SaveArtifact(t, "player-page.png", browser.Screenshot(t))
}
