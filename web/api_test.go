package web

import (
	"context"
	"crypto/tls"
	"encoding/json"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/web/metrics"
	"io"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	"go.uber.org/zap"
)

func getJSON(t *testing.T, c *http.Client, u string, hdr http.Header, v any) {
	t.Helper()
	res := do(t, c, "GET", u, hdr)
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		body, _ := io.ReadAll(res.Body)
		t.Fatalf("GET %s: %s %s", u, res.Status, body)
	}
	if err := json.NewDecoder(res.Body).Decode(v); err != nil {
		t.Fatalf("GET %s: %v", u, err)
	}
}

func basic(user, pass string) http.Header {
	r, _ := http.NewRequest("GET", "/", nil)
	r.SetBasicAuth(user, pass)
	return r.Header
}

func bearer(tok string) http.Header { return http.Header{"Authorization": {"Bearer " + tok}} }

// expectStatus checks a response's status and, for API errors, that the
// body is a JSON error with a message.
func expectStatus(t *testing.T, res *http.Response, want int) {
	t.Helper()
	defer res.Body.Close()
	body, _ := io.ReadAll(res.Body)
	if res.StatusCode != want {
		t.Fatalf("%s %s: status %d, want %d (%s)", res.Request.Method, res.Request.URL.Path, res.StatusCode, want, body)
	}
	if want >= 400 && strings.HasPrefix(res.Request.URL.Path, "/api/") {
		var e apiError
		if err := json.Unmarshal(body, &e); err != nil || e.Error == "" {
			t.Fatalf("error body %q is not a JSON error with a message", body)
		}
	}
}

func TestAuthentication(t *testing.T) {
	_, _, base := startTest(t, true, nil)
	c := browser(t)
	for _, tt := range []struct {
		name, method, path string
		hdr                http.Header
		want               int
	}{
		{"no credentials", "GET", "/api/v1/streams", nil, http.StatusUnauthorized},
		{"no credentials, action", "DELETE", "/api/v1/clients/1", nil, http.StatusUnauthorized},
		{"basic auth", "GET", "/api/v1/streams", basic(testUser, testPassword), http.StatusOK},
		{"basic auth, wrong password", "GET", "/api/v1/streams", basic(testUser, "nope"), http.StatusUnauthorized},
		{"basic auth, wrong user", "GET", "/api/v1/streams", basic("root", testPassword), http.StatusUnauthorized},
		{"bearer token", "GET", "/api/v1/clients", bearer(testToken), http.StatusOK},
		{"bearer token, wrong", "GET", "/api/v1/clients", bearer("guess"), http.StatusUnauthorized},
		{"script action needs no CSRF token", "DELETE", "/api/v1/clients/1", bearer(testToken), http.StatusNoContent},
		{"metrics", "GET", "/metrics", nil, http.StatusUnauthorized},
		{"metrics with token", "GET", "/metrics", bearer(testToken), http.StatusOK},
		{"pprof", "GET", "/debug/pprof/", nil, http.StatusUnauthorized},
		{"pprof with token", "GET", "/debug/pprof/", bearer(testToken), http.StatusOK},
		{"events socket", "GET", "/api/v1/events", nil, http.StatusUnauthorized},
		{"dashboard sends to login", "GET", "/", nil, http.StatusSeeOther},
		{"login page", "GET", "/login", nil, http.StatusOK},
		{"static files", "GET", "/ui/app.js", nil, http.StatusOK},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expectStatus(t, do(t, c, tt.method, base+tt.path, tt.hdr), tt.want)
		})
	}
}

func TestSessionAndCSRF(t *testing.T) {
	_, b, base := startTest(t, true, nil)
	c := browser(t)
	csrf := login(t, c, base)

	expectStatus(t, do(t, c, "GET", base+"/", nil), http.StatusOK)
	expectStatus(t, do(t, c, "DELETE", base+"/api/v1/clients/1", nil), http.StatusForbidden)
	expectStatus(t, do(t, c, "DELETE", base+"/api/v1/clients/1", http.Header{csrfHeader: {"wrong"}}), http.StatusForbidden)
	if got := b.recorded(); len(got) != 0 {
		t.Fatalf("actions without a valid CSRF token ran: %v", got)
	}
	expectStatus(t, do(t, c, "DELETE", base+"/api/v1/clients/1", http.Header{csrfHeader: {csrf}}), http.StatusNoContent)
	expectStatus(t, do(t, c, "DELETE", base+"/api/v1/streams/live/_definst_/cam%3C1%3E", http.Header{csrfHeader: {csrf}}), http.StatusNoContent)
	expectStatus(t, do(t, c, "POST", base+"/api/v1/apps/live/reload?instance=_definst_", http.Header{csrfHeader: {csrf}}), http.StatusNoContent)
	expectStatus(t, do(t, c, "POST", base+"/api/v1/apps/live/unload", http.Header{csrfHeader: {csrf}}), http.StatusNoContent)
	want := []string{"disconnect 1", "stop live/_definst_/cam<1>", "reload live/_definst_", "unload live/"}
	if got := b.recorded(); strings.Join(got, "|") != strings.Join(want, "|") {
		t.Fatalf("actions %q, want %q", got, want)
	}

	// A cross-origin logout is refused; a same-origin one ends the session.
	expectStatus(t, do(t, c, "POST", base+"/logout", http.Header{"Origin": {"http://evil.example"}}), http.StatusForbidden)
	expectStatus(t, do(t, c, "POST", base+"/logout", nil), http.StatusSeeOther)
	expectStatus(t, do(t, c, "GET", base+"/api/v1/streams", nil), http.StatusUnauthorized)
}

func TestLoginFailures(t *testing.T) {
	_, _, base := startTest(t, true, nil)
	c := browser(t)
	res, err := c.PostForm(base+"/login", url.Values{"user": {testUser}, "password": {"wrong"}})
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusSeeOther || res.Header.Get("Location") != "/login?failed=1" {
		t.Fatalf("wrong password: %s to %q, want 303 to /login?failed=1", res.Status, res.Header.Get("Location"))
	}
	req, _ := http.NewRequest("POST", base+"/login", strings.NewReader(url.Values{"user": {testUser}, "password": {testPassword}}.Encode()))
	req.Header.Set("Content-Type", "application/x-www-form-urlencoded")
	req.Header.Set("Origin", "http://evil.example")
	if res, err = c.Do(req); err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin login: %s, want 403", res.Status)
	}
	expectStatus(t, do(t, c, "GET", base+"/api/v1/streams", nil), http.StatusUnauthorized)
}

// TestOpenServer: without credentials the server is open on loopback but
// refuses foreign Host names (DNS rebinding) and cross-origin actions.
func TestOpenServer(t *testing.T) {
	_, b, base := startTest(t, false, nil)
	c := browser(t)
	for _, tt := range []struct {
		name, method, path string
		hdr                http.Header
		host               string
		want               int
	}{
		{"read", "GET", "/api/v1/streams", nil, "", http.StatusOK},
		{"read as localhost", "GET", "/api/v1/streams", nil, "localhost:8080", http.StatusOK},
		{"foreign host name", "GET", "/api/v1/streams", nil, "rebind.evil.example", http.StatusForbidden},
		{"cross-origin action", "DELETE", "/api/v1/clients/1", http.Header{"Origin": {"http://evil.example"}}, "", http.StatusForbidden},
		{"cross-site action without origin", "DELETE", "/api/v1/clients/1", http.Header{"Sec-Fetch-Site": {"cross-site"}}, "", http.StatusForbidden},
		{"script action", "DELETE", "/api/v1/clients/2", nil, "", http.StatusNoContent},
		{"dashboard", "GET", "/", nil, "", http.StatusOK},
		{"login page goes to the dashboard", "GET", "/login", nil, "", http.StatusSeeOther},
	} {
		t.Run(tt.name, func(t *testing.T) {
			req, _ := http.NewRequest(tt.method, base+tt.path, nil)
			for k, v := range tt.hdr {
				req.Header[k] = v
			}
			if tt.host != "" {
				req.Host = tt.host
			}
			res, err := c.Do(req)
			if err != nil {
				t.Fatal(err)
			}
			expectStatus(t, res, tt.want)
		})
	}
	if got := b.recorded(); len(got) != 1 || got[0] != "disconnect 2" {
		t.Fatalf("actions %q, want only the script's", got)
	}
}

func TestAPIErrors(t *testing.T) {
	_, _, base := startTest(t, true, nil)
	c := browser(t)
	tok := bearer(testToken)
	for _, tt := range []struct {
		name, method, path string
		want               int
	}{
		{"unknown client", "GET", "/api/v1/clients/99", http.StatusNotFound},
		{"disconnect unknown client", "DELETE", "/api/v1/clients/99", http.StatusNotFound},
		{"unknown stream", "GET", "/api/v1/streams/live/_definst_/nope", http.StatusNotFound},
		{"stop unknown stream", "DELETE", "/api/v1/streams/live/_definst_/nope", http.StatusNotFound},
		{"reload unknown app", "POST", "/api/v1/apps/vod/reload", http.StatusNotFound},
		{"unknown endpoint", "GET", "/api/v1/nothing", http.StatusNotFound},
	} {
		t.Run(tt.name, func(t *testing.T) {
			expectStatus(t, do(t, c, tt.method, base+tt.path, tok), tt.want)
		})
	}
}

func TestAPIContent(t *testing.T) {
	_, _, base := startTest(t, true, nil)
	c := browser(t)
	tok := bearer(testToken)

	var streams []StreamInfo
	getJSON(t, c, base+"/api/v1/streams", tok, &streams)
	if len(streams) != 1 || streams[0].Name != "cam<1>" || streams[0].VideoCodec != "h264" || streams[0].SubscribersByProtocol["rtmfp"] != 1 {
		t.Fatalf("streams = %+v", streams)
	}
	var one StreamInfo
	getJSON(t, c, base+"/api/v1/streams/live/_definst_/cam%3C1%3E", tok, &one)
	if one.Width != 1280 || one.Height != 720 {
		t.Fatalf("stream = %+v", one)
	}
	var st ServerStats
	getJSON(t, c, base+"/api/v1/server", tok, &st)
	if st.Version != "test" || st.Connections["rtmp"] != 1 || st.Connections["rtmfp"] != 1 || st.TotalConnections != 2 ||
		st.BytesIn != 1010 || st.BytesOut != 510 || st.Goroutines == 0 || len(st.Listeners) != 1 {
		t.Fatalf("server = %+v", st)
	}
	var cl ClientInfo
	getJSON(t, c, base+"/api/v1/clients/2", tok, &cl)
	if cl.Protocol != "rtmfp" || cl.RTTMillis != 12 {
		t.Fatalf("client = %+v", cl)
	}
	var apps []AppInfo
	getJSON(t, c, base+"/api/v1/apps", tok, &apps)
	if len(apps) != 1 || apps[0].Instances[0].Path != "live/_definst_" {
		t.Fatalf("apps = %+v", apps)
	}
	// Empty lists are [] rather than null, so clients can iterate.
	for _, p := range []string{"/api/v1/sharedobjects", "/api/v1/netgroups"} {
		res := do(t, c, "GET", base+p, tok)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if strings.TrimSpace(string(body)) != "[]" {
			t.Errorf("%s = %s, want []", p, body)
		}
	}
}

func TestMetricsEndpoint(t *testing.T) {
	_, _, base := startTest(t, true, nil)
	res := do(t, browser(t), "GET", base+"/metrics", bearer(testToken))
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if ct := res.Header.Get("Content-Type"); !strings.HasPrefix(ct, "text/plain; version=0.0.4") {
		t.Errorf("content type %q", ct)
	}
	for _, want := range []string{
		"# TYPE nimbus_connections gauge\n",
		`nimbus_connections{protocol="rtmp"} 1` + "\n",
		`nimbus_connections{protocol="rtmfp"} 1` + "\n",
		"nimbus_received_bytes_total 1010\n",
		`nimbus_stream_bitrate_bits{app="live/_definst_",stream="cam<1>"} 2e+06` + "\n",
		`nimbus_stream_subscribers{app="live/_definst_",protocol="rtmfp",stream="cam<1>"} 1` + "\n",
		`nimbus_build_info{version="test"} 1` + "\n",
		`nimbus_refusals_total{limit="max_connections_per_ip"} 2` + "\n",
		"go_goroutines ",
	} {
		if !strings.Contains(string(body), want) {
			t.Errorf("metrics lack %q:\n%s", want, body)
		}
	}
}

// TestScriptsGetNoSession: scripts need no CSRF token, so asking for the
// session does not create one that would count against the bound.
func TestScriptsGetNoSession(t *testing.T) {
	s, _, base := startTest(t, true, nil)
	c := browser(t)
	var sv sessionView
	getJSON(t, c, base+"/api/v1/session", bearer(testToken), &sv)
	if sv.CSRF != "" {
		t.Errorf("script got CSRF token %q", sv.CSRF)
	}
	s.auth.mu.Lock()
	n := len(s.auth.sessions)
	s.auth.mu.Unlock()
	if n != 0 {
		t.Errorf("%d sessions after a script's request, want 0", n)
	}
}

func BenchmarkGatherMetrics(b *testing.B) {
	b.ReportAllocs()
	fb := newFakeBackend()
	snap := &Snapshot{Server: ServerStats{Version: "bench", Connections: map[string]int{"rtmp": 10, "rtmfp": 5}}}
	for range 50 {
		snap.Streams = append(snap.Streams, fb.streams[0])
	}
	h := newHub(1, time.Second, zap.NewNop())
	n := 0
	emit := func(string, string, metrics.Type, float64, ...metrics.Label) { n++ }
	for b.Loop() {
		gatherMetrics(emit, snap, h, 0, nil)
	}
}

// TestServeEndsWhenListenerFails: a failing listener ends Serve (and its
// pump) without the context being cancelled.
func TestServeEndsWhenListenerFails(t *testing.T) {
	s, err := New(Config{Listen: "127.0.0.1:0"}, newFakeBackend(), zap.NewNop())
	if err != nil {
		t.Fatal(err)
	}
	if err := s.Listen(); err != nil {
		t.Fatal(err)
	}
	_ = s.ln.Close()
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background()) }()
	select {
	case err := <-done:
		if err == nil {
			t.Error("Serve on a closed listener returned nil")
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Serve did not return after its listener failed")
	}
}

// TestHTTPS: with a certificate the admin listener serves HTTPS only.
func TestHTTPS(t *testing.T) {
	cert, key := testtools.SelfSigned(t, t.TempDir())
	_, _, base := startTest(t, true, func(c *Config) { c.CertFile, c.KeyFile = cert, key })
	tlsBase := "https" + strings.TrimPrefix(base, "http")
	client := &http.Client{Transport: &http.Transport{TLSClientConfig: &tls.Config{InsecureSkipVerify: true}}}
	defer client.CloseIdleConnections()
	req, _ := http.NewRequest("GET", tlsBase+"/api/v1/server", nil)
	req.Header.Set("Authorization", "Bearer "+testToken)
	res, err := client.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	res.Body.Close()
	if res.StatusCode != http.StatusOK || res.TLS == nil {
		t.Fatalf("HTTPS request: status %d, TLS %v", res.StatusCode, res.TLS != nil)
	}
	plain := &http.Client{}
	defer plain.CloseIdleConnections()
	if res, err := plain.Get(base + "/api/v1/server"); err == nil {
		res.Body.Close()
		if res.StatusCode == http.StatusOK {
			t.Fatal("plain HTTP served on the TLS listener")
		}
	}
}
