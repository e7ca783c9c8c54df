package web_test

import (
	"context"
	"encoding/json"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/web"
)

// TestDashboardInBrowser: headless Chromium signs in through the login form,
// loads the dashboard and, while ffmpeg publishes, shows the stream's row
// with its codec and a non-zero live bit rate within 5 s. The overview
// charts start from the server's history, and Sign out shows. The stream
// view's Record button records the stream, the Recordings list shows the
// file with a download link, and the row's button stops it. Screenshots
// of the pages are kept as test artefacts.
func TestDashboardInBrowser(t *testing.T) {
	browser := testtools.StartChromium(t)
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

	browser.Call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 1280, "height": 800, "deviceScaleFactor": 1, "mobile": false}, nil)
	browser.Call(t, "Page.navigate", map[string]any{"url": n.http + "/"}, nil)
	testtools.WaitFor(t, 10*time.Second, "the login form", func() bool {
		return browser.Eval(t, `location.pathname === "/login" && !!document.getElementById("login-form")`) == "true"
	})
	browser.Eval(t, fmt.Sprintf(`document.getElementById("user").value = %q;
		document.getElementById("password").value = %q;
		document.getElementById("login-form").submit(); true`, adminUser, adminPassword))
	testtools.WaitFor(t, 10*time.Second, "the dashboard", func() bool {
		return browser.Eval(t, `location.pathname === "/" && !!document.getElementById("overview-streams")`) == "true"
	})

	loaded := time.Now()
	testtools.WaitFor(t, time.Second, "the charts to start from the history", func() bool {
		return browser.Eval(t, fmt.Sprintf(`["chart-bw", "chart-conns"].every((id) =>
			Number(document.getElementById(id).dataset.points) >= %d)`, historyPoints)) == "true"
	})
	if got := browser.Eval(t, `document.getElementById("logout-form").hidden`); got != "false" {
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
		raw := browser.Eval(t, `(() => { const r = `+row+`; if (!r) return null;
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
	if got := browser.Eval(t, `document.getElementById("live").className`); got != `"dot on"` {
		t.Errorf("live indicator %s, want on", got)
	}
	if got := browser.Eval(t, `document.getElementById("c-conns").textContent`); got != `"1"` {
		t.Errorf("connections card %s, want 1", got)
	}
	time.Sleep(1500 * time.Millisecond) // a couple of chart points

	testtools.SaveArtifact(t, "dashboard.png", browser.Screenshot(t))

	// The stream detail view and the clients table.
	browser.Eval(t, `location.hash = "#/stream/" + encodeURIComponent("live/_definst_/browsercam"); true`)
	testtools.WaitFor(t, 5*time.Second, "the stream detail view", func() bool {
		return browser.Eval(t, `!document.getElementById("view-stream").hidden &&
			document.getElementById("sd-title").textContent.startsWith("browsercam") &&
			document.getElementById("sd-cards").children.length > 0`) == "true"
	})
	time.Sleep(1200 * time.Millisecond)
	testtools.SaveArtifact(t, "stream-detail.png", browser.Screenshot(t))

	// Record from the detail view: the server records, the button turns
	// into Stop recording; the streams view lists the file with a download
	// link, and its row's button stops the recording.
	browser.Eval(t, `document.getElementById("sd-record").click(); true`)
	testtools.WaitFor(t, 5*time.Second, "the recording to start", func() bool {
		s, _ := n.stream(t, "browsercam")
		return s.Recording
	})
	testtools.WaitFor(t, 5*time.Second, "the button to offer Stop recording", func() bool {
		return browser.Eval(t, `document.getElementById("sd-record").textContent`) == `"Stop recording"`
	})
	browser.Eval(t, `location.hash = "#/streams"; true`)
	recRow := `document.querySelector('#recordings tr[data-recording="live/_definst_/browsercam.flv"]')`
	testtools.WaitFor(t, 5*time.Second, "the recording in the list", func() bool {
		return browser.Eval(t, `(() => { const r = `+recRow+`; return !!r && !!r.querySelector(".rec") &&
			r.querySelector("a[download]").getAttribute("href") === "/api/v1/recordings/live/_definst_/browsercam.flv"; })()`) == "true"
	})
	browser.Eval(t, `document.querySelector('#streams tr[data-stream="live/_definst_/browsercam"] button[data-action="record"]').click(); true`)
	testtools.WaitFor(t, 5*time.Second, "the recording to stop", func() bool {
		s, _ := n.stream(t, "browsercam")
		return !s.Recording
	})
	testtools.WaitFor(t, 5*time.Second, "the list to show the finished recording", func() bool {
		return browser.Eval(t, `(() => { const r = `+recRow+`; return !!r && !r.querySelector(".rec") &&
			r.querySelector("td.duration").textContent !== "–" && r.querySelector("td.size").textContent !== "0 B"; })()`) == "true"
	})
	testtools.SaveArtifact(t, "recordings.png", browser.Screenshot(t))
	browser.Eval(t, `location.hash = "#/clients"; true`)
	testtools.WaitFor(t, 5*time.Second, "the clients table", func() bool {
		return browser.Eval(t, `document.querySelectorAll('#clients tr[data-client]').length`) == "1"
	})

	// The same page on a phone-sized screen.
	browser.Eval(t, `location.hash = "#/"; true`)
	browser.Call(t, "Emulation.setDeviceMetricsOverride", map[string]any{"width": 390, "height": 844, "deviceScaleFactor": 2, "mobile": true}, nil)
	time.Sleep(300 * time.Millisecond)
	testtools.SaveArtifact(t, "dashboard-phone.png", browser.Screenshot(t))
}

// TestOpenDashboardInBrowser: on an open server (no credentials) the
// dashboard loads without a login and offers no Sign out, which would only
// lead to a login page that sends it back.
func TestOpenDashboardInBrowser(t *testing.T) {
	browser := testtools.StartChromium(t)
	n := startNimbusAuth(t, false)
	browser.Call(t, "Page.navigate", map[string]any{"url": n.http + "/"}, nil)
	// The live socket opens after the page has learned about its session.
	testtools.WaitFor(t, 10*time.Second, "the dashboard's live updates", func() bool {
		return browser.Eval(t, `location.pathname === "/" && document.getElementById("live")?.className === "dot on"`) == "true"
	})
	if got := browser.Eval(t, `document.getElementById("logout-form").hidden`); got != "true" {
		t.Errorf("Sign out shown (hidden: %s) on an open server", got)
	}
}
