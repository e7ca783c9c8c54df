package testtools

import (
	"context"
	"encoding/base64"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
)

// Browser is headless Chromium driven over the Chrome DevTools Protocol:
// one WebSocket to the browser, commands sent to one page's session in
// flattened mode, replies matched by ID and events ignored.
type Browser struct {
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

// Call sends a command to the page and decodes its result into out (may
// be nil).
func (b *Browser) Call(t testing.TB, method string, params, out any) {
	t.Helper()
	b.next++
	id := b.next
	if params == nil {
		params = struct{}{}
	}
	_ = b.conn.SetWriteDeadline(time.Now().Add(10 * time.Second))
	if err := b.conn.WriteJSON(cdpMessage{ID: id, Method: method, Params: params, SessionID: b.session}); err != nil {
		t.Fatalf("cdp %s: %v", method, err)
	}
	_ = b.conn.SetReadDeadline(time.Now().Add(30 * time.Second))
	for {
		var m cdpMessage
		if err := b.conn.ReadJSON(&m); err != nil {
			t.Fatalf("cdp %s: %v", method, err)
		}
		if m.ID != id {
			continue
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

// Eval evaluates a JavaScript expression in the page (awaiting a
// promise) and returns its value as JSON text.
func (b *Browser) Eval(t testing.TB, expr string) string {
	t.Helper()
	var res struct {
		Result struct {
			Value json.RawMessage `json:"value"`
		} `json:"result"`
		ExceptionDetails *struct {
			Text      string `json:"text"`
			Exception *struct {
				Description string `json:"description"`
			} `json:"exception"`
		} `json:"exceptionDetails"`
	}
	b.Call(t, "Runtime.evaluate", map[string]any{"expression": expr, "returnByValue": true, "awaitPromise": true}, &res)
	if d := res.ExceptionDetails; d != nil {
		text := d.Text
		if d.Exception != nil {
			text += " " + d.Exception.Description
		}
		t.Fatalf("evaluate %q: %s", expr, text)
	}
	return string(res.Result.Value)
}

// Screenshot captures the page as PNG.
func (b *Browser) Screenshot(t testing.TB) []byte {
	t.Helper()
	var shot struct {
		Data string `json:"data"`
	}
	b.Call(t, "Page.captureScreenshot", map[string]any{"format": "png"}, &shot)
	png, err := base64.StdEncoding.DecodeString(shot.Data)
	if err != nil || len(png) < 1000 {
		t.Fatalf("screenshot: %d bytes, %v", len(png), err)
	}
	return png
}

// StartChromium runs headless Chromium (Debian's chromium, or a Chrome)
// with remote debugging, args added to its command line, and attaches to
// a new page. The browser is closed and its profile removed when the test
// ends. A missing browser skips the test, or fails it under CI.
func StartChromium(t testing.TB, args ...string) *Browser {
	t.Helper()
	bin := ""
	for _, name := range []string{"chromium", "chromium-browser", "google-chrome"} {
		if p, err := exec.LookPath(name); err == nil {
			bin = p
			break
		}
	}
	if bin == "" {
		bin = Require(t, "chromium")
	}
	profile := t.TempDir()
	ctx, cancel := context.WithCancel(context.Background())
	cmd := exec.CommandContext(ctx, bin, append([]string{"--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
		"--disable-background-networking", "--disable-component-update", "--disable-sync", "--disable-dev-shm-usage",
		"--user-data-dir=" + profile, "--remote-debugging-port=0"}, append(args, "about:blank")...)...)
	cmd.WaitDelay = 5 * time.Second
	out := &Buffer{}
	cmd.Stdout, cmd.Stderr = out, out
	if err := cmd.Start(); err != nil {
		cancel()
		t.Fatal(err)
	}
	done := make(chan struct{})
	go func() { _ = cmd.Wait(); close(done) }()
	b := &Browser{}
	t.Cleanup(func() {
		if b.conn != nil {
			b.session = ""
			b.next++
			_ = b.conn.WriteJSON(cdpMessage{ID: b.next, Method: "Browser.close", Params: struct{}{}})
			_ = b.conn.Close()
		}
		select {
		case <-done:
		case <-time.After(5 * time.Second):
			cancel()
			<-done
		}
		cancel()
	})
	var port, path string
	deadline := time.Now().Add(20 * time.Second)
	for port == "" {
		if data, err := os.ReadFile(filepath.Join(profile, "DevToolsActivePort")); err == nil {
			if lines := strings.Split(strings.TrimSpace(string(data)), "\n"); len(lines) == 2 {
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
	b.conn = conn
	var target struct {
		TargetID string `json:"targetId"`
	}
	b.Call(t, "Target.createTarget", map[string]any{"url": "about:blank"}, &target)
	var attached struct {
		SessionID string `json:"sessionId"`
	}
	b.Call(t, "Target.attachToTarget", map[string]any{"targetId": target.TargetID, "flatten": true}, &attached)
	b.session = attached.SessionID
	return b
}

// SaveArtifact writes a file to the test's artefact directory (kept with
// go test -artifacts) and, when NIMBUS_ARTIFACTS is set, there as well.
func SaveArtifact(t *testing.T, name string, data []byte) {
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
