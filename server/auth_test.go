package server

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// ffmpegPublishes runs ffmpeg publishing the test file to url for up to
// the file's length and reports whether it streamed (exit 0) and its output.
func ffmpegPublishes(t *testing.T, url string) (bool, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	out, err := testtools.FFmpeg(t, ctx, "-re", "-t", "2", "-i", testFLV(t), "-c", "copy", "-f", "flv", url).CombinedOutput()
	return err == nil, string(out)
}

// TestPublishAuthentication: ffmpeg publishes with a valid token and with
// authmod=adobe credentials; an expired token, a wrong password and an
// unknown user are refused; an HTTP callback allows and refuses.
func TestPublishAuthentication(t *testing.T) {
	testtools.Require(t, "ffmpeg") // the assertions after the subtests count what ffmpeg did
	var calls atomic.Int32
	callback := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		calls.Add(1)
		_ = r.ParseForm()
		if r.PostForm.Get("call") == "publish" && r.PostForm.Get("key") != "letmein" {
			w.WriteHeader(http.StatusForbidden)
			return
		}
		w.WriteHeader(http.StatusOK)
	}))
	defer callback.Close()
	ts := startServer(t, func(c *config.Config) {
		c.Apps = append(c.Apps,
			config.AppConfig{Name: "tok", TokenSecret: "s3cret", TokenPublish: true},
			config.AppConfig{Name: "enc", Users: []config.UserConfig{{Name: "obs", Password: "hunter2"}}},
			config.AppConfig{Name: "hook", OnPublish: callback.URL, OnDone: callback.URL},
		)
	})
	base := "rtmp://" + ts.RTMPAddr().String()
	hostport := ts.RTMPAddr().String()
	good := auth.SignedName("s3cret", "tok", "cam", time.Now().Add(time.Hour))
	expired := auth.SignedName("s3cret", "tok", "cam", time.Now().Add(-time.Minute))
	for _, tc := range []struct {
		name string
		url  string
		ok   bool
	}{
		{"valid token", base + "/tok/" + good, true},
		{"expired token", base + "/tok/" + expired, false},
		{"no token", base + "/tok/cam", false},
		{"adobe credentials", "rtmp://obs:hunter2@" + hostport + "/enc/cam", true},
		{"wrong password", "rtmp://obs:wrong@" + hostport + "/enc/cam", false},
		{"unknown user", "rtmp://eve:hunter2@" + hostport + "/enc/cam", false},
		{"callback allows", base + "/hook/cam?key=letmein", true},
		{"callback refuses", base + "/hook/cam?key=guess", false},
	} {
		t.Run(tc.name, func(t *testing.T) {
			ok, out := ffmpegPublishes(t, tc.url)
			if ok != tc.ok {
				t.Fatalf("ffmpeg published: %v, want %v\n%s", ok, tc.ok, out)
			}
		})
	}
	if calls.Load() < 3 { // two publishes and at least one done
		t.Errorf("callback server saw %d calls", calls.Load())
	}
	// The refusals for a wrong password and an unknown user read alike.
	var wrong, unknown string
	for _, e := range ts.logs.FilterMessage("connect refused").All() {
		if err, _ := e.ContextMap()["error"].(string); strings.Contains(err, "authfailed") {
			if wrong == "" {
				wrong = err
			} else {
				unknown = err
			}
		}
	}
	if wrong == "" || wrong != unknown {
		t.Errorf("refusals differ or are missing: %q vs %q", wrong, unknown)
	}
}

// TestCallbackEndsWithConnection: an HTTP callback the server waits on for
// a client runs under the client's connection, so closing the connection
// (here: the server shutting down) cancels it at once instead of leaving
// it to run until auth.callback_timeout.
func TestCallbackEndsWithConnection(t *testing.T) {
	started, cancelled := make(chan struct{}, 1), make(chan struct{}, 1)
	hook := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		// With the body read, the server watches the connection and
		// cancels r's context when the caller gives up.
		_, _ = io.Copy(io.Discard, r.Body)
		select {
		case started <- struct{}{}:
		default:
		}
		select {
		case <-r.Context().Done():
			cancelled <- struct{}{}
		case <-time.After(20 * time.Second):
		}
	}))
	defer hook.Close()
	cfg := config.Defaults()
	cfg.RTMP.Listen, cfg.RTMFP.Listen, cfg.HTTP.Listen, cfg.RTMPT.Listen, cfg.Play.Listen = "127.0.0.1:0", "", "", "", ""
	cfg.Apps = []config.AppConfig{{Name: "slow", OnConnect: hook.URL}}
	cfg.Auth.CallbackTimeout = config.Duration{Duration: 30 * time.Second}
	srv := New(cfg, zap.NewNop())
	if err := srv.Listen(); err != nil {
		t.Fatal(err)
	}
	ctx, stop := context.WithCancel(context.Background())
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ctx) }()
	defer stop()

	dctx, dcancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer dcancel()
	dialed := make(chan error, 1)
	go func() {
		c, err := rtmp.Dial(dctx, fmt.Sprintf("rtmp://%s/slow", srv.RTMPAddr()), rtmp.ClientConfig{})
		if err == nil {
			_ = c.Close()
		}
		dialed <- err
	}()
	select {
	case <-started:
	case <-time.After(5 * time.Second):
		t.Fatal("the connect callback was not called")
	}
	stop()
	select {
	case <-cancelled:
	case <-time.After(5 * time.Second):
		t.Fatal("the callback kept running after the connection closed")
	}
	if err := <-dialed; err == nil {
		t.Error("the connect succeeded")
	}
	select {
	case err := <-served:
		if err != nil {
			t.Errorf("serve: %v", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the server did not stop")
	}
}
