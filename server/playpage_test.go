package server

import (
	"context"
	"crypto/sha256"
	"encoding/base64"
	"io"
	"net/http"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestPlayerPageRouting: on the playback listener, /APP/STREAM and
// /APP/INSTANCE/STREAM are the player page (HTML whose Content-Security-
// Policy admits only its own inline script and style, by hash, and
// requests to its own origin; the listener's CORS header), while the
// stream's .flv, index.m3u8 and whep paths reach HTTP-FLV, HLS and WebRTC
// as before, and a path of an unknown application is a plain 404.
func TestPlayerPageRouting(t *testing.T) {
	ts := startServer(t, webrtcLoopback)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publisher := testtools.FFmpeg(t, ctx, "-re", "-i", testtools.ClipFLV(t, t.TempDir(), 20, 25), "-c", "copy", "-f", "flv", ts.url+"/cam")
	if err := publisher.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() { cancel(); _ = publisher.Wait() }()
	testtools.WaitFor(t, 10*time.Second, "the publisher", func() bool {
		s := ts.stream(t, "cam")
		return s != nil && s.Info().VideoCodec == "h264"
	})

	for _, path := range []string{"/live/cam", "/live/cam?expires=1&token=x", "/live/_definst_/cam", "/live/later"} {
		resp := httpGet(t, ts.playURL(path))
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusOK || resp.Header.Get("Content-Type") != "text/html; charset=utf-8" {
			t.Fatalf("GET %s: %d %q, want the page", path, resp.StatusCode, resp.Header.Get("Content-Type"))
		}
		if got := resp.Header.Get("Access-Control-Allow-Origin"); got != "*" {
			t.Errorf("GET %s: Access-Control-Allow-Origin %q, want the listener's *", path, got)
		}
		page := string(body)
		if !strings.Contains(page, `<html data-whep="on" data-hls="on" lang="en">`) || !strings.Contains(page, "<video") {
			t.Errorf("GET %s: not the player page with WHEP and HLS on:\n%.300s", path, page)
		}
		csp := resp.Header.Get("Content-Security-Policy")
		for _, want := range []string{"default-src 'none'", "script-src " + inlineHash(t, page, "script") + ";",
			"style-src " + inlineHash(t, page, "style") + ";", "connect-src 'self'", "media-src 'self'"} {
			if !strings.Contains(csp, want) {
				t.Errorf("GET %s: Content-Security-Policy %q lacks %q", path, csp, want)
			}
		}
	}

	// The stream's own transports are untouched.
	c := &http.Client{Timeout: 10 * time.Second}
	for _, tc := range []struct {
		method, path, ctype string
		status              int
		want                string // the answer's Content-Type, or its body's start
	}{
		{"GET", "/live/cam.flv", "", http.StatusOK, "video/x-flv"},
		{"GET", "/live/cam/index.m3u8", "", http.StatusOK, "application/vnd.apple.mpegurl"},
		{"POST", "/live/cam/whep", "text/plain", http.StatusUnsupportedMediaType, ""},
		{"GET", "/live/cam/whep", "", http.StatusMethodNotAllowed, ""},
		{"GET", "/nosuchapp/cam", "", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"GET", "/live", "", http.StatusNotFound, "text/plain; charset=utf-8"},
		{"GET", "/live/cam/index", "", http.StatusOK, "text/html; charset=utf-8"}, // stream "index" of instance "cam"
	} {
		req, err := http.NewRequestWithContext(ctx, tc.method, ts.playURL(tc.path), strings.NewReader("x"))
		if err != nil {
			t.Fatal(err)
		}
		if tc.ctype != "" {
			req.Header.Set("Content-Type", tc.ctype)
		}
		resp, err := c.Do(req)
		if err != nil {
			t.Fatalf("%s %s: %v", tc.method, tc.path, err)
		}
		resp.Body.Close() // an FLV response goes on: closing it ends the player
		if resp.StatusCode != tc.status || (tc.want != "" && resp.Header.Get("Content-Type") != tc.want) {
			t.Errorf("%s %s: %d %q, want %d %q", tc.method, tc.path, resp.StatusCode, resp.Header.Get("Content-Type"), tc.status, tc.want)
		}
	}
}

// TestPlayerPageTransportsOff: with WebRTC and HLS off the page says so
// (it then lists the URLs and tries neither), and /APP/STREAM/whep is no
// page but a 404.
func TestPlayerPageTransportsOff(t *testing.T) {
	ts := startServer(t, func(cfg *config.Config) { cfg.WebRTC.Enabled, cfg.Play.HLS = false, false })
	resp := httpGet(t, ts.playURL("/live/cam"))
	body, _ := io.ReadAll(resp.Body)
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), `<html data-whep="off" data-hls="off" `) {
		t.Errorf("page: %d, %.200s", resp.StatusCode, body)
	}
	resp = httpGet(t, ts.playURL("/live/cam/whep"))
	resp.Body.Close()
	if resp.StatusCode != http.StatusNotFound {
		t.Errorf("GET /live/cam/whep with WebRTC off: %d, want 404", resp.StatusCode)
	}
}

// inlineHash is the CSP hash source of the page's <tag> element, computed
// here independently of the server's.
func inlineHash(t *testing.T, page, tag string) string {
	t.Helper()
	m := regexp.MustCompile(`(?s)<` + tag + `>(.*?)</` + tag + `>`).FindStringSubmatch(page)
	if m == nil {
		t.Fatalf("no <%s> in the page", tag)
	}
	sum := sha256.Sum256([]byte(m[1]))
	return "'sha256-" + base64.StdEncoding.EncodeToString(sum[:]) + "'"
}
