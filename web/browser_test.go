package web_test

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/web"
)

// cdp is a minimal Chrome DevTools Protocol client: one WebSocket to the
// browser, commands sent to one page's session in flattened mode, replies
// matched by ID and events ignored.
type cdp struct {
	conn    *websocket.Conn
	session string
	next    int
}

type cdpMessage struct {
	ID        int             `json:"id,omitempty"`
	Method    string          `json:"method,omitempty"`
	Params    any             `json:"params,omitempty"`
	SessionID string          `json:"sessionId,omitempty"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     *struct {
		Message string `json:"message"`
	} `json:"error,omitempty"`
}

// call sends a command and decodes its result into out (may be nil).
func (c *cdp) call(t *testing.T, method string, params, out any) {
	t.Helper()
	c.next++
	id := c.next
	if params == nil {
		params = struct{}{}
	}
	_ = c.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := c.conn.WriteJSON(cdpMessage{ID: id, Method: method, Params: params, SessionID: c.session}); err != nil {
		t.Fatalf("cdp %s: %v", method, err)
	}
	_ = c.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m cdpMessage
		if err := c.conn.ReadJSON(&m); err != nil {
			t.Fatalf("cdp %s: %v", method, err)
		}
		if m.ID != id {
			continue // an event or another session's reply
		}
		if m.Error != nil {
			t.Fatalf("cdp %s: %s", method, m.Error.Message)
		}
		if out != nil {
			if err := json.Unmarshal(m.Result, out); err != nil {
				t.Fatalf("cdp %s result: %v", method, err)
			}
		}
		return
	}
}

// eval evaluates a JavaScript expression in the page and returns its value
// as JSON text.
func (c *cdp) eval(t *testing.T, expr string) string {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text string `json:"text"`
		} `json:"exceptionDetails"`
	}
	c.call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true}, &res)
	if res.ExceptionDetails != nil {
		t.Fatalf("evaluate %q: %s", expr, res.ExceptionDetails.Text)
	}
	return string(res.Result.Value)
}

// startChromium runs headless Chromium with remote debugging and attaches
// to a new page. The browser is closed and its profile removed when the
// test ends.
func startChromium(t *testing.T) *cdp {
	t.Helper()
	bin := chromiumPath(t)
	profile := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir="+profile, "--remote-debugging-port=0", "about:blank")
	cmd.WaitDelay = 5 * time.Second
	out := &testtools.Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	c := &cdp{}
	t.Cleanup(func() {
		if c.conn != nil {
			c.session = ""
			c.next++
			_ = c.conn.WriteJSON(cdpMessage{ID: c.next, Method: "Browser.close", Params: struct{}{}})
			_ = c.conn.Close()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})

	// Chromium writes its port and browser target path once it listens.
	var port, path string
	deadline := time.Now().Add(20 * time.Second)
	for port == "" {
		if b, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			if lines := strings.Split(strings.TrimSpace(string(b)), "\n"); len(lines) == 2 {
				port, path = lines[0], lines[1]
				break
			}
		}
		select {
		case <-done:
			t.Fatalf("chromium exited:\n%s", out.String())
		default:
		}
		if time.Now().After(deadline) {
			t.Fatalf("chromium did not start remote debugging:\n%s", out.String())
		}
		time.Sleep(50 * time.Millisecond)
	}
	conn, _, err := websocket.DefaultDialer.Dial("ws://127.0.0.1:"+port+path, nil)
	if err != nil {
		t.Fatalf("connect to chromium: %v", err)
	}
	c.conn = conn
	var target struct {
		TargetID string `json:"targetId"`
	}
	c.call(t, "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	c.call(t, "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	c.session = attached.SessionID
	return c
}

// chromiumPath finds Debian's chromium (or a Chrome) for the browser test;
// CI must have it (make deps installs it).
func chromiumPath(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	return testtools.Require(t, "chromium")
}

// TestDashboardInBrowser: headless Chromium signs in through the login form,
// loads the dashboard and, while ffmpeg publishes, shows the stream's row
// with its codec and a non-zero live bit rate within 5 s. The overview
// charts start from the server's history, and Sign out shows. The stream
// view's Record button records the stream, the Recordings list shows the
// file with a download link, and the row's button stops it. Screenshots
// of the pages are kept as test artefacts.
func TestDashboardInBrowser(t *testing.T) {
	browser := startChromium(t)
	n := startNimbus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	publish(t, ctx, n, "browsercam")
	testtools.WaitFor(t, 10*time.Second, "the stream to be published", func() bool {
		_, ok := n.stream(t, "browsercam")
		return ok
	})
	// Enough history that live updates alone could not chart as many
	// points within a second of the page loading.
	const historyPoints = 5
	testtools.WaitFor(t, 10*time.Second, "the server's stats history", func() bool {
		var h web.StatsHistory
		n.api(t, "GET", "/api/v1/stats/history", &h)
		return len(h.Samples) >= historyPoints
	})

	browser.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}, nil)
	browser.call(t, "Page.navigate", map[string]any{"url": n.http + "/"}, nil)
	testtools.WaitFor(t, 10*time.Second, "the login form", func() bool {
		return browser.eval(t, `location.pathname === "/login" && !!document.getElementById("login-form")`) == "true"
	})
	browser.eval(t, fmt.Sprintf(`document.getElementById("user").value = %q;
		document.getElementById("password").value = %q;
		document.getElementById("login-form").submit(); true`, adminUser, adminPassword))
	testtools.WaitFor(t, 10*time.Second, "the dashboard", func() bool {
		return browser.eval(t, `location.pathname === "/" && !!document.getElementById("overview-streams")`) == "true"
	})

	loaded := time.Now()
	testtools.WaitFor(t, time.Second, "the charts to start from the history", func() bool {
		return browser.eval(t, fmt.Sprintf(`["chart-bw", "chart-conns"].every((id) =>
			Number(document.getElementById(id).dataset.points) >= %d)`, historyPoints)) == "true"
	})
	if got := browser.eval(t, `document.getElementById("logout-form").hidden`); got != "false" {
		t.Errorf("Sign out hidden (%s) on a server with credentials", got)
	}
	row := `document.querySelector('#overview-streams tr[data-stream="live/_definst_/browsercam"]')`
	var codec string
	var bps float64
	for {
		var cell struct {
			Codec string `json:"codec"`
			BPS   string `json:"bps"`
			Text  string `json:"text"`
		}
		raw := browser.eval(t, `(() => { const r = `+row+`; if (!r) return null;
			return {codec: r.querySelector("td.codec").textContent, bps: r.querySelector("td.bitrate").dataset.bps,
				text: r.querySelector("td.bitrate").textContent}; })()`)
		if raw != "null" {
			if err := json.Unmarshal([]byte(raw), &cell); err != nil {
				t.Fatal(err)
			}
			codec = cell.Codec
			bps, _ = strconv.ParseFloat(cell.BPS, 64)
			if codec == "h264" && bps > 0 {
				t.Logf("stream row after %v: codec %s, bit rate %s", time.Since(loaded).Round(time.Millisecond), codec, cell.Text)
				break
			}
		}
		if time.Since(loaded) > 5*time.Second {
			t.Fatalf("within 5 s the dashboard showed codec %q and bit rate %v, want h264 and > 0", codec, bps)
		}
		time.Sleep(100 * time.Millisecond)
	}
	// The live indicator and the overview cards are filled too.
	if got := browser.eval(t, `document.getElementById("live").className`); got != `"dot on"` {
		t.Errorf("live indicator %s, want on", got)
	}
	if got := browser.eval(t, `document.getElementById("c-conns").textContent`); got != `"1"` {
		t.Errorf("connections card %s, want 1", got)
	}
	time.Sleep(1500 * time.Millisecond) // a couple of chart points

	var shot struct {
		Data string `json:"data"`
	}
	browser.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	saveArtifact(t, "dashboard.png", png)

	// The stream detail view and the clients table.
	browser.eval(t, `location.hash = "#/stream/" + encodeURIComponent("live/_definst_/browsercam"); true`)
	testtools.WaitFor(t, 5*time.Second, "the stream detail view", func() bool {
		return browser.eval(t, `!document.getElementById("view-stream").hidden &&
			document.getElementById("sd-title").textContent.startsWith("browsercam") &&
			document.getElementById("sd-cards").children.length > 0`) == "true"
	})
	time.Sleep(1200 * time.Millisecond)
	browser.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	if png, err = base64.StdEncoding.DecodeString(shot.Data); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "stream-detail.png", png)

	// Record from the detail view: the server records, the button turns
	// into Stop recording; the streams view lists the file with a download
	// link, and its row's button stops the recording.
	browser.eval(t, `document.getElementById("sd-record").click(); true`)
	testtools.WaitFor(t, 5*time.Second, "the recording to start", func() bool {
		s, _ := n.stream(t, "browsercam")
		return s.Recording
	})
	testtools.WaitFor(t, 5*time.Second, "the button to offer Stop recording", func() bool {
		return browser.eval(t, `document.getElementById("sd-record").textContent`) == `"Stop recording"`
	})
	browser.eval(t, `location.hash = "#/streams"; true`)
	recRow := `document.querySelector('#recordings tr[data-recording="live/_definst_/browsercam.flv"]')`
	testtools.WaitFor(t, 5*time.Second, "the recording in the list", func() bool {
		return browser.eval(t, `(() => { const r = `+recRow+`; return !!r && !!r.querySelector(".rec") &&
			r.querySelector("a[download]").getAttribute("href") === "/api/v1/recordings/live/_definst_/browsercam.flv"; })()`) == "true"
	})
	browser.eval(t, `document.querySelector('#streams tr[data-stream="live/_definst_/browsercam"] button[data-action="record"]').click(); true`)
	testtools.WaitFor(t, 5*time.Second, "the recording to stop", func() bool {
		s, _ := n.stream(t, "browsercam")
		return !s.Recording
	})
	testtools.WaitFor(t, 5*time.Second, "the list to show the finished recording", func() bool {
		return browser.eval(t, `(() => { const r = `+recRow+`; return !!r && !r.querySelector(".rec") &&
			r.querySelector("td.duration").textContent !== "–" && r.querySelector("td.size").textContent !== "0 B"; })()`) == "true"
	})
	browser.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	if png, err = base64.StdEncoding.DecodeString(shot.Data); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "recordings.png", png)
	browser.eval(t, `location.hash = "#/clients"; true`)
	testtools.WaitFor(t, 5*time.Second, "the clients table", func() bool {
		return browser.eval(t, `document.querySelectorAll('#clients tr[data-client]').length`) == "1"
	})

	// The same page on a phone-sized screen.
	browser.eval(t, `location.hash = "#/"; true`)
	browser.call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}, nil)
	time.Sleep(300 * time.Millisecond)
	browser.call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	if png, err = base64.StdEncoding.DecodeString(shot.Data); err != nil {
		t.Fatal(err)
	}
	saveArtifact(t, "dashboard-phone.png", png)
}

// saveArtifact writes a file to the test's artefact directory (kept with
// go test -artifacts) and, when NIMBUS_ARTIFACTS is set, there as well.
func saveArtifact(t *testing.T, name string, data []byte) {
	t.Helper()
	dirs := []string{t.ArtifactDir()}
	if d := os.Getenv("NIMBUS_ARTIFACTS"); d != "" {
		dirs = append(dirs, d)
	}
	for _, d := range dirs {
		if err := os.MkdirAll(d, 0o755); err != nil {
			t.Fatal(err)
		}
		p := filepath.Join(d, name)
		if err := os.WriteFile(p, data, 0o644); err != nil {
			t.Fatal(err)
		}
		t.Logf("saved %s", p)
	}
}

// TestOpenDashboardInBrowser: on an open server (no credentials) the
// dashboard loads without a login and offers no Sign out, which would only
// lead to a login page that sends it back.
func TestOpenDashboardInBrowser(t *testing.T) {
	browser := startChromium(t)
	n := startNimbusAuth(t, false)
	browser.call(t, "Page.navigate", map[string]any{"url": n.http + "/"}, nil)
	// The live socket opens after the page has learned about its session.
	testtools.WaitFor(t, 10*time.Second, "the dashboard's live updates", func() bool {
		return browser.eval(t, `location.pathname === "/" && document.getElementById("live")?.className === "dot on"`) == "true"
	})
	if got := browser.eval(t, `document.getElementById("logout-form").hidden`); got != "true" {
		t.Errorf("Sign out shown (hidden: %s) on an open server", got)
	}
}
