package server

import (
	"context"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/internal/testtools"
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
	ts := startServer(t, func(c *Config) {
		c.Apps = append(c.Apps,
			AppConfig{Name: "tok", TokenSecret: "s3cret", TokenPublish: true},
			AppConfig{Name: "enc", Users: []UserConfig{{Name: "obs", Password: "hunter2"}}},
			AppConfig{Name: "hook", OnPublish: callback.URL, OnDone: callback.URL},
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
