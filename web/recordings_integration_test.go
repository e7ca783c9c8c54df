package web_test

import (
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/web"
)

// send makes an authenticated request (basic auth unless anonymous) and
// returns the status and body.
func (n *nimbus) send(t *testing.T, method, path string, anonymous bool) (int, []byte) {
	t.Helper()
	req, _ := http.NewRequest(method, n.http+path, nil)
	if !anonymous {
		req.SetBasicAuth(adminUser, adminPassword)
	}
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer res.Body.Close()
	body, err := io.ReadAll(res.Body)
	if err != nil {
		t.Fatal(err)
	}
	return res.StatusCode, body
}

// expectError checks an API error: the status, and a JSON body whose
// message says what went wrong.
func expectError(t *testing.T, what string, status int, body []byte, want int, mentions string) {
	t.Helper()
	var e struct {
		Error string `json:"error"`
	}
	if status != want || json.Unmarshal(body, &e) != nil || !strings.Contains(e.Error, mentions) {
		t.Errorf("%s: %d %s; want %d with an error mentioning %q", what, status, body, want, mentions)
	}
}

func (n *nimbus) recordings(t *testing.T) map[string]web.RecordingInfo {
	t.Helper()
	var list []web.RecordingInfo
	if st := n.api(t, "GET", "/api/v1/recordings?app=live&instance=_definst_", &list); st != http.StatusOK {
		t.Fatalf("GET /api/v1/recordings: %d", st)
	}
	m := make(map[string]web.RecordingInfo, len(list))
	for _, r := range list {
		m[r.Name] = r
	}
	return m
}

// TestRecordOverAPI: while ffmpeg publishes, POST .../record starts a
// recording (a second is a 409, a stream that is not live a 404); the
// stream and the recordings list say it records, with the duration so
// far; DELETE stops it, and the file downloads whole, ffprobes with both
// codecs and the listed duration, and a range of it downloads. An
// appending recording started over the API stops when the publisher is
// stopped. Without credentials nothing of it is served; a symbolic link
// out of the folder is neither listed nor served.
func TestRecordOverAPI(t *testing.T) {
	n := startNimbus(t)
	ctx, cancel := context.WithTimeout(context.Background(), 90*time.Second)
	defer cancel()
	pub := publish(t, ctx, n, "cam")
	testtools.WaitFor(t, 10*time.Second, "the stream to be published", func() bool {
		_, ok := n.stream(t, "cam")
		return ok
	})
	const rec = "/api/v1/streams/live/_definst_/cam/record"
	st, body := n.send(t, "POST", rec, true)
	expectError(t, "anonymous record", st, body, http.StatusUnauthorized, "authentication")
	if st, body = n.send(t, "POST", rec, false); st != http.StatusNoContent {
		t.Fatalf("POST %s: %d %s", rec, st, body)
	}
	st, body = n.send(t, "POST", rec+"?mode=append", false)
	expectError(t, "second recording", st, body, http.StatusConflict, "being recorded already")
	st, body = n.send(t, "POST", "/api/v1/streams/live/_definst_/nobody/record", false)
	expectError(t, "recording a stream that is not live", st, body, http.StatusNotFound, "no publisher")
	if s, _ := n.stream(t, "cam"); !s.Recording {
		t.Errorf("stream %+v does not say it records", s)
	}
	testtools.WaitFor(t, 10*time.Second, "3 s recorded", func() bool {
		r := n.recordings(t)["cam.flv"]
		return r.Recording && r.Duration >= 3
	})

	if st, body = n.send(t, "DELETE", rec, false); st != http.StatusNoContent {
		t.Fatalf("DELETE %s: %d %s", rec, st, body)
	}
	st, body = n.send(t, "DELETE", rec, false)
	expectError(t, "stopping a stopped recording", st, body, http.StatusNotFound, "not being recorded")
	if s, _ := n.stream(t, "cam"); s.Recording {
		t.Errorf("stream %+v still records", s)
	}
	listed := n.recordings(t)["cam.flv"]
	if listed.Recording || listed.Duration < 3 || listed.Size < 10000 || listed.App != "live" || listed.Instance != "_definst_" ||
		time.Since(listed.Modified) > time.Minute {
		t.Fatalf("listed %+v", listed)
	}

	const file = "/api/v1/recordings/live/_definst_/cam.flv"
	st, body = n.send(t, "GET", file, true)
	expectError(t, "anonymous download", st, body, http.StatusUnauthorized, "authentication")
	if st, body = n.send(t, "GET", file, false); st != http.StatusOK || int64(len(body)) != listed.Size {
		t.Fatalf("download: %d, %d bytes; want 200, %d", st, len(body), listed.Size)
	}
	got := filepath.Join(t.TempDir(), "cam.flv")
	if err := os.WriteFile(got, body, 0o644); err != nil {
		t.Fatal(err)
	}
	p := testtools.FFprobe(t, got)
	if p.Codec("video") != "h264" || p.Codec("audio") != "aac" {
		t.Errorf("downloaded recording has %q/%q, want h264/aac", p.Codec("video"), p.Codec("audio"))
	}
	if d := p.Duration(t); d < listed.Duration-0.2 || d > listed.Duration+0.2 {
		t.Errorf("ffprobe duration %.2f s, listed %.2f s", d, listed.Duration)
	}
	req, _ := http.NewRequest("GET", n.http+file, nil)
	req.SetBasicAuth(adminUser, adminPassword)
	req.Header.Set("Range", "bytes=0-12")
	res, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	head, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || string(head) != string(body[:13]) ||
		res.Header.Get("Content-Disposition") != `attachment; filename=cam.flv` {
		t.Errorf("range: %s %q (%q)", res.Status, head, res.Header.Get("Content-Disposition"))
	}

	// A link out of the folder is not listed and not served.
	secret := filepath.Join(t.TempDir(), "secret.flv")
	if err := os.WriteFile(secret, body, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(n.streams, "link.flv")); err != nil {
		t.Fatal(err)
	}
	if _, ok := n.recordings(t)["link.flv"]; ok {
		t.Error("a symbolic link out of the folder is listed")
	}
	st, body = n.send(t, "GET", "/api/v1/recordings/live/_definst_/link.flv", false)
	expectError(t, "download through a link", st, body, http.StatusNotFound, "recording")
	st, body = n.send(t, "GET", "/api/v1/recordings/live/%2e%2e/_definst_/cam.flv", false)
	expectError(t, "download from instance ..", st, body, http.StatusNotFound, "recording")

	// Appending, then the publisher stopped: the recording ends with it.
	if st, body = n.send(t, "POST", rec+"?mode=append", false); st != http.StatusNoContent {
		t.Fatalf("POST %s?mode=append: %d %s", rec, st, body)
	}
	testtools.WaitFor(t, 10*time.Second, "the appended recording to grow", func() bool {
		return n.recordings(t)["cam.flv"].Duration > listed.Duration+1
	})
	if st, body = n.send(t, "DELETE", "/api/v1/streams/live/_definst_/cam", false); st != http.StatusNoContent {
		t.Fatalf("stop the stream: %d %s", st, body)
	}
	_ = pub.exited(t, 10*time.Second, "the stopped publisher")
	testtools.WaitFor(t, 5*time.Second, "the recording to end with the publisher", func() bool {
		return !n.recordings(t)["cam.flv"].Recording
	})
	appended := n.recordings(t)["cam.flv"]
	if appended.Duration <= listed.Duration+1 || appended.Size <= listed.Size {
		t.Errorf("after append: %+v; before: %+v", appended, listed)
	}
	st, body = n.send(t, "DELETE", rec, false)
	expectError(t, "stopping the ended recording", st, body, http.StatusNotFound, "not being recorded")
}
