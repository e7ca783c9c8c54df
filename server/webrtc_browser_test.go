package server

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
)

// whepPage is a WHEP player as small as they come: a receive-only offer
// with every candidate, POSTed to the URL given; the answer's tracks go
// to a muted, autoplaying <video>.
const whepPage = `<!doctype html>
<html><body style="margin:0;background:#000">
<video id="v" autoplay muted playsinline width="640" height="480"></video>
<script>
window.whep = async (url) => {
  const pc = new RTCPeerConnection();
  pc.addTransceiver('video', {direction: 'recvonly'});
  pc.addTransceiver('audio', {direction: 'recvonly'});
  const v = document.getElementById('v');
  pc.ontrack = (e) => { if (!v.srcObject) v.srcObject = e.streams[0]; };
  await pc.setLocalDescription(await pc.createOffer());
  await new Promise((done) => {
    if (pc.iceGatheringState === 'complete') return done();
    pc.onicegatheringstatechange = () => pc.iceGatheringState === 'complete' && done();
    setTimeout(done, 3000);
  });
  const resp = await fetch(url, {method: 'POST', headers: {'Content-Type': 'application/sdp'}, body: pc.localDescription.sdp});
  const body = await resp.text();
  if (resp.status !== 201) throw new Error('WHEP answered ' + resp.status + ': ' + body);
  await pc.setRemoteDescription({type: 'answer', sdp: body});
  window.pc = pc;
  return resp.headers.get('Location');
};
</script></body></html>`

// TestWHEPInChromium: headless Chromium plays a stream ffmpeg publishes
// over RTMP (H.264 and AAC) through WHEP from a page on another origin:
// the <video> shows the 320x240 picture and its currentTime advances by
// more than 2 s in 4 s. Debian's Chromium decodes H.264 over WebRTC (it
// offers the H.264 profiles); the AAC is not sent. A screenshot is kept.
func TestWHEPInChromium(t *testing.T) {
	browser := testtools.StartChromium(t, "--autoplay-policy=no-user-gesture-required",
		"--allow-loopback-in-peer-connection", "--disable-features=WebRtcHideLocalIpsWithMdns")
	src := testtools.ClipFLV(t, t.TempDir(), 20, 25)
	ts := startServer(t, webrtcLoopback)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", src, "-c", "copy", "-f", "flv", ts.url+"/browser")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = publisher.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, "browser")
		return s != nil && s.Info().VideoCodec == "h264"
	})
	page := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		w.Header().Set("Content-Type", "text/html")
		fmt.Fprint(w, whepPage)
	}))
	defer page.Close()
	browser.Call(t, "Page.navigate", map[string]any{"url": page.URL}, nil)
	testtools.WaitFor(t, 10*time.Second, "the page", func() bool { return browser.Eval(t, `typeof window.whep`) == `"function"` })
	loc := browser.Eval(t, `whep(`+strconv.Quote(ts.playURL("/live/browser/whep"))+`)`)
	t.Logf("session %s", loc)
	testtools.WaitFor(t, 10*time.Second, "the video to play", func() bool {
		return browser.Eval(t, `document.getElementById('v').currentTime > 0`) == "true"
	})
	start, _ := strconv.ParseFloat(browser.Eval(t, `document.getElementById('v').currentTime`), 64)
	time.Sleep(4 * time.Second)
	end, _ := strconv.ParseFloat(browser.Eval(t, `document.getElementById('v').currentTime`), 64)
	if end-start <= 2 {
		t.Errorf("currentTime advanced %.2f s in 4 s (%.2f to %.2f)", end-start, start, end)
	}
	if size := browser.Eval(t, `(() => { const v = document.getElementById('v'); return v.videoWidth + 'x' + v.videoHeight })()`); size != `"320x240"` {
		t.Errorf("video size %s, want 320x240", size)
	}
	stats := browser.Eval(t, `pc.getStats().then((r) => { let s = ''; r.forEach((x) => { if (x.type === 'inbound-rtp' && x.kind === 'video') s = x.framesDecoded + ' frames decoded, ' + x.framesDropped + ' dropped, jitter buffer delay ' + (x.jitterBufferDelay / x.jitterBufferEmittedCount).toFixed(3) + ' s'; }); return s; })`)
	t.Logf("chromium: %s; currentTime %.2f to %.2f", stats, start, end)
	testtools.SaveArtifact(t, "whep-chromium.png", browser.Screenshot(t))
}
