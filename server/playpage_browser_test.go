package server

import (
	"context"
	"encoding/json"
	"net/http"
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

// TestPlayerDashboardPreview: the dashboard's stream view embeds the
// stream's player page from the playback listener, which plays over
// WebRTC in the frame (currentTime advances by more than 2 s in 4 s);
// the view counts that player and an HTTP-FLV one by protocol, and lists
// the stream's URLs, whose Copy button copies. A screenshot is kept.
func TestPlayerDashboardPreview(t *testing.T) {
	// Without site isolation the player's frame, another origin, is in
	// the page's process, where an isolated world can read its <video>.
	browser := testtools.StartChromium(t, "--autoplay-policy=no-user-gesture-required", "--allow-loopback-in-peer-connection",
		"--disable-site-isolation-trials", "--disable-features=WebRtcHideLocalIpsWithMdns,IsolateOrigins,site-per-process")
	ts := startServer(t, webrtcLoopback)
	publishClip(t, ts, "cam")
	flv, err := http.Get(ts.playURL("/live/cam.flv"))
	if err != nil {
		t.Fatal(err)
	}
	defer flv.Body.Close()

	browser.Call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 1000, "deviceScaleFactor": 1, "mobile": false}, nil)
	browser.Call(t, "Page.navigate", map[string]any{"url": "http://" + ts.HTTPAddr().String() + "/#/stream/live%2F_definst_%2Fcam"}, nil)
	testtools.WaitFor(t, 10*time.Second, "the preview frame", func() bool {
		return browser.Eval(t, `document.getElementById('sd-player')?.src ?? null`) == strconv.Quote(ts.playURL("/live/cam"))
	})
	var frames struct {
		FrameTree struct {
			ChildFrames []struct {
				Frame struct {
					ID string `json:"id"`
				} `json:"frame"`
			} `json:"childFrames"`
		} `json:"frameTree"`
	}
	browser.Call(t, "Page.getFrameTree", nil, &frames)
	if len(frames.FrameTree.ChildFrames) != 1 {
		t.Fatalf("%d frames in the dashboard, want the player's", len(frames.FrameTree.ChildFrames))
	}
	var world struct {
		ContextID int `json:"executionContextId"`
	}
	inFrame := func(expr string) string {
		var res struct {
			Result struct {
				Value json.RawMessage `json:"value"`
			} `json:"result"`
		}
		browser.Call(t, "Runtime.evaluate", map[string]any{"expression": expr, "contextId": world.ContextID, "returnByValue": true}, &res)
		return string(res.Result.Value)
	}
	testtools.WaitFor(t, 15*time.Second, "the preview to play over WebRTC", func() bool {
		// The frame's document is replaced as it loads: a world per try.
		browser.Call(t, "Page.createIsolatedWorld", map[string]any{"frameId": frames.FrameTree.ChildFrames[0].Frame.ID}, &world)
		return inFrame(`document.body?.dataset.transport ?? null`) == `"webrtc"`
	})
	advances(t, "dashboard preview", func() string { return inFrame(`document.getElementById('video').currentTime`) })

	testtools.WaitFor(t, 5*time.Second, "the players by protocol", func() bool {
		return browser.Eval(t, `[...document.querySelectorAll('#sd-protocols tr[data-protocol]')].map((r) =>
			r.dataset.protocol + '=' + r.querySelector('.count').textContent).join(' ')`) ==
			`"rtmp=0 rtmfp=0 http-flv=1 ws-flv=0 hls=0 webrtc=1"`
	})
	rtmp, mfp, play := ts.RTMPAddr().String(), ts.RTMFPAddr().String(), ts.PlayAddr().String()
	want := strings.Join([]string{
		"RTMP rtmp://" + rtmp + "/live/cam", "RTMFP rtmfp://" + mfp + "/live/cam", "Player page http://" + play + "/live/cam",
		"HTTP-FLV http://" + play + "/live/cam.flv", "WebSocket-FLV ws://" + play + "/live/cam.flv",
		"LL-HLS http://" + play + "/live/cam/index.m3u8", "HLS (MPEG-TS) http://" + play + "/live/cam/ts/index.m3u8",
		"WebRTC (WHEP) http://" + play + "/live/cam/whep",
	}, "\n")
	if got := browser.Eval(t, `[...document.querySelectorAll('#sd-urls tr[data-kind]')].map((r) =>
		r.dataset.kind + ' ' + r.querySelector('input').value).join('\n')`); got != strconv.Quote(want) {
		t.Errorf("URLs:\n%s\nwant:\n%s", got, want)
	}
	// A real click (a user's gesture) on Copy, with the clipboard allowed
	// to the dashboard's origin; the clipboard then holds the URL.
	admin := "http://" + ts.HTTPAddr().String()
	browser.Call(t, "Browser.grantPermissions", map[string]any{"origin": admin, "permissions": []string{"clipboardReadWrite", "clipboardSanitizedWrite"}}, nil)
	var at struct{ X, Y float64 }
	if err := json.Unmarshal([]byte(browser.Eval(t, `(() => { const r = document.querySelector('#sd-urls tr[data-kind="HTTP-FLV"] button').getBoundingClientRect();
		return {x: r.x + r.width / 2, y: r.y + r.height / 2}; })()`)), &at); err != nil {
		t.Fatal(err)
	}
	for _, typ := range []string{"mousePressed", "mouseReleased"} {
		browser.Call(t, "Input.dispatchMouseEvent", map[string]any{"type": typ, "x": at.X, "y": at.Y, "button": "left", "clickCount": 1}, nil)
	}
	testtools.WaitFor(t, 5*time.Second, "the copy to be confirmed", func() bool {
		return browser.Eval(t, `document.getElementById('toast').textContent`) == `"Copied the HTTP-FLV URL"`
	})
	if got := browser.Eval(t, `navigator.clipboard.readText()`); got != strconv.Quote("http://"+play+"/live/cam.flv") {
		t.Errorf("clipboard %s after Copy of HTTP-FLV", got)
	}
	testtools.SaveArtifact(t, "dashboard-preview.png", browser.Screenshot(t))
}
