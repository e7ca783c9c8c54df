package web

import (
	"context"
	"fmt"
	"net/http"
	"net/http/cookiejar"
	"net/url"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/zap"
)

// fakeBackend is a Backend with fixed contents that records actions.
type fakeBackend struct {
	mu      sync.Mutex
	clients []ClientInfo
	streams []StreamInfo
	actions []string
	// recording holds the streams being recorded, by app/instance/name.
	recording map[string]bool
	// recDir holds the recordings, in <app>/<instance>/ folders.
	recDir string
}

func newFakeBackend() *fakeBackend {
	since := time.Now().Add(-time.Minute)
	return &fakeBackend{
		clients: []ClientInfo{
			{ID: "1", Protocol: "rtmp", Address: "127.0.0.1:5000", Agent: "FMLE/3.0", App: "live/_definst_", Since: since, BytesIn: 1000, BytesOut: 10},
			{ID: "2", Protocol: "rtmfp", Address: "127.0.0.1:5001", Agent: "WIN 32,0,0,465", App: "live/_definst_", Since: since, BytesIn: 10, BytesOut: 500, RTTMillis: 12},
		},
		streams: []StreamInfo{{
			App: "live", Instance: "_definst_", Name: "cam<1>", Published: true, Since: since, Publisher: "1",
			VideoCodec: "h264", AudioCodec: "aac", Width: 1280, Height: 720, FrameRate: 25, Bitrate: 2e6,
			Subscribers: 1, SubscribersByProtocol: map[string]int{"rtmfp": 1},
		}},
		recording: make(map[string]bool),
	}
}

func (f *fakeBackend) record(a string) {
	f.mu.Lock()
	f.actions = append(f.actions, a)
	f.mu.Unlock()
}

func (f *fakeBackend) recorded() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	return append([]string(nil), f.actions...)
}

func (f *fakeBackend) Listeners() []Listener {
	return []Listener{{Protocol: "rtmp", Addr: "127.0.0.1:1935"}}
}
func (f *fakeBackend) Apps() []AppInfo {
	return []AppInfo{{Name: "live", Clients: 2, Streams: 1, Instances: []InstanceInfo{{Name: "_definst_", Path: "live/_definst_", Clients: 2, Streams: 1}}}}
}
func (f *fakeBackend) Clients() []ClientInfo             { return f.clients }
func (f *fakeBackend) Streams() []StreamInfo             { return f.streams }
func (f *fakeBackend) SharedObjects() []SharedObjectInfo { return nil }
func (f *fakeBackend) NetGroups() []NetGroupInfo         { return nil }
func (f *fakeBackend) Refusals() map[string]uint64 {
	return map[string]uint64{"max_connections_per_ip": 2}
}

func (f *fakeBackend) DisconnectClient(id string) error {
	for _, c := range f.clients {
		if c.ID == id {
			f.record("disconnect " + id)
			return nil
		}
	}
	return fmt.Errorf("%w: client %q", ErrNotFound, id)
}

func (f *fakeBackend) StopStream(app, instance, name string) error {
	for _, s := range f.streams {
		if s.App == app && s.Instance == instance && s.Name == name {
			f.record("stop " + app + "/" + instance + "/" + name)
			return nil
		}
	}
	return fmt.Errorf("%w: stream %q", ErrNotFound, name)
}

func (f *fakeBackend) ReloadApp(app, instance string) error {
	return f.appAction("reload", app, instance)
}
func (f *fakeBackend) UnloadApp(app, instance string) error {
	return f.appAction("unload", app, instance)
}

func (f *fakeBackend) appAction(what, app, instance string) error {
	if app != "live" {
		return fmt.Errorf("%w: application %q", ErrNotFound, app)
	}
	f.record(what + " " + app + "/" + instance)
	return nil
}

func (f *fakeBackend) StartRecording(app, instance, name string, appendMode bool) error {
	if !slices.ContainsFunc(f.streams, func(s StreamInfo) bool { return s.App == app && s.Instance == instance && s.Name == name }) {
		return fmt.Errorf("%w: stream %q", ErrNotFound, name)
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	key := app + "/" + instance + "/" + name
	if f.recording[key] {
		return fmt.Errorf("%w: %s is being recorded already", ErrConflict, key)
	}
	f.recording[key] = true
	f.actions = append(f.actions, fmt.Sprintf("record %s append=%v", key, appendMode))
	return nil
}

func (f *fakeBackend) StopRecording(app, instance, name string) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	key := app + "/" + instance + "/" + name
	if !f.recording[key] {
		return fmt.Errorf("%w: %s is not being recorded", ErrNotFound, key)
	}
	delete(f.recording, key)
	f.actions = append(f.actions, "stop recording "+key)
	return nil
}

func (f *fakeBackend) Recordings(app, instance string) ([]RecordingInfo, error) {
	if app != "" && app != "live" {
		return nil, fmt.Errorf("%w: application %q", ErrNotFound, app)
	}
	f.record("list " + app + "/" + instance)
	return []RecordingInfo{{App: "live", Instance: "_definst_", Name: "cam<1>.flv", Size: 1 << 20, Duration: 61.5, Modified: testNow()}}, nil
}

func (f *fakeBackend) OpenRecording(app, instance, name string) (*os.File, error) {
	root, err := os.OpenRoot(filepath.Join(f.recDir, app, instance))
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	defer root.Close()
	file, err := root.Open(name)
	if err != nil {
		return nil, fmt.Errorf("%w: %w", ErrNotFound, err)
	}
	return file, nil
}

// Test credentials; the hash uses few iterations to keep tests fast.
const (
	testUser     = "admin"
	testPassword = "s3cret pass"
	testToken    = "test-token-0123456789"
)

func testHash(t testing.TB) string {
	t.Helper()
	h, err := HashPassword(testPassword, 1000)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

// startTest runs an admin server over a fake backend on a loopback port
// until the test ends. With creds, it has a user, password and token.
func startTest(t *testing.T, creds bool, change func(*Config)) (*Server, *fakeBackend, string) {
	t.Helper()
	cfg := Config{Listen: "127.0.0.1:0", Version: "test", StatsInterval: 50 * time.Millisecond}
	if creds {
		cfg.User, cfg.PasswordHash, cfg.TokenSHA256 = testUser, testHash(t), HashToken(testToken)
	}
	if change != nil {
		change(&cfg)
	}
	b := newFakeBackend()
	s, err := New(cfg, b, zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("serve: %v", err)
		}
	})
	return s, b, "http://" + s.Addr().String()
}

// browser is an HTTP client with a cookie jar that does not follow
// redirects, so tests see them.
func browser(t *testing.T) *http.Client {
	t.Helper()
	jar, _ := cookiejar.New(nil)
	return &http.Client{Jar: jar, Timeout: 10 * time.Second, CheckRedirect: func(*http.Request, []*http.Request) error {
		return http.ErrUseLastResponse
	}}
}

// login signs c in through the form and returns the session's CSRF token.
func login(t *testing.T, c *http.Client, base string) string {
	t.Helper()
	res, err := c.PostForm(base+"/login", url.Values{"user": {testUser}, "password": {testPassword}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/" {
		t.Fatalf("login: %s to %q, want 303 to /", res.Status, res.Header.Get("Location"))
	}
	var sv sessionView
	getJSON(t, c, base+"/api/v1/session", nil, &sv)
	if sv.CSRF == "" {
		t.Fatal("session has no CSRF token")
	}
	return sv.CSRF
}

func do(t *testing.T, c *http.Client, method, u string, hdr http.Header) *http.Response {
	t.Helper()
	req, err := http.NewRequest(method, u, strings.NewReader(""))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header[k] = v
	}
	res, err := c.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	return res
}

func testNow() time.Time { return time.Unix(1_800_000_000, 0) }
