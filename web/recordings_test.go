package web

import (
	"io"
	"net/http"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestRecordEndpoints: the mode comes from the query or a JSON body;
// an unknown mode is a 400, a stream that is not live a 404, a second
// recording of one stream a 409, stopping one that is not recorded a
// 404; all of it needs credentials.
func TestRecordEndpoints(t *testing.T) {
	_, b, base := startTest(t, true, nil)
	c := browser(t)
	tok := bearer(testToken)
	rec := base + "/api/v1/streams/live/_definst_/cam%3C1%3E/record"

	expectStatus(t, do(t, c, "POST", rec, nil), http.StatusUnauthorized)
	expectStatus(t, do(t, c, "POST", rec+"?mode=sideways", tok), http.StatusBadRequest)
	post := func(body string) *http.Response {
		req, _ := http.NewRequest("POST", rec, strings.NewReader(body))
		req.Header = tok.Clone()
		req.Header.Set("Content-Type", "application/json")
		res, err := c.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		return res
	}
	expectStatus(t, post(`{"mode":`), http.StatusBadRequest)
	expectStatus(t, post(`{"mode":"append"}`), http.StatusNoContent)
	expectStatus(t, do(t, c, "POST", rec, tok), http.StatusConflict)
	expectStatus(t, do(t, c, "DELETE", rec, tok), http.StatusNoContent)
	expectStatus(t, do(t, c, "DELETE", rec, tok), http.StatusNotFound)
	expectStatus(t, do(t, c, "POST", rec+"?mode=record", tok), http.StatusNoContent)
	expectStatus(t, do(t, c, "POST", base+"/api/v1/streams/live/_definst_/nope/record", tok), http.StatusNotFound)
	want := []string{
		"record live/_definst_/cam<1> append=true", "stop recording live/_definst_/cam<1>",
		"record live/_definst_/cam<1> append=false",
	}
	if got := b.recorded(); !slices.Equal(got, want) {
		t.Errorf("actions %q, want %q", got, want)
	}
}

// TestRecordingsListAndDownload: the list is JSON with the file's
// fields; a download is an attachment that serves ranges; names with ..
// (plain or escaped), absolute names and symbolic links out of the
// folder never reach the outside file.
func TestRecordingsListAndDownload(t *testing.T) {
	_, b, base := startTest(t, true, nil)
	b.recDir = t.TempDir()
	folder := filepath.Join(b.recDir, "live", "_definst_")
	if err := os.MkdirAll(folder, 0o755); err != nil {
		t.Fatal(err)
	}
	content := []byte("FLV\x01 not really, but bytes to range over")
	if err := os.WriteFile(filepath.Join(folder, "a b.flv"), content, 0o644); err != nil {
		t.Fatal(err)
	}
	secret := filepath.Join(b.recDir, "secret.flv")
	if err := os.WriteFile(secret, []byte("SECRET"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Symlink(secret, filepath.Join(folder, "link.flv")); err != nil {
		t.Fatal(err)
	}
	c := browser(t)
	tok := bearer(testToken)

	var list []RecordingInfo
	getJSON(t, c, base+"/api/v1/recordings?app=live", tok, &list)
	if len(list) != 1 || list[0].Name != "cam<1>.flv" || list[0].Duration != 61.5 || list[0].Size != 1<<20 {
		t.Fatalf("recordings = %+v", list)
	}
	expectStatus(t, do(t, c, "GET", base+"/api/v1/recordings?app=vod", tok), http.StatusNotFound)
	expectStatus(t, do(t, c, "GET", base+"/api/v1/recordings?instance=x", tok), http.StatusBadRequest)
	expectStatus(t, do(t, c, "GET", base+"/api/v1/recordings", nil), http.StatusUnauthorized)

	file := base + "/api/v1/recordings/live/_definst_/a%20b.flv"
	expectStatus(t, do(t, c, "GET", file, nil), http.StatusUnauthorized)
	res := do(t, c, "GET", file, http.Header{"Authorization": tok["Authorization"], "Range": {"bytes=4-9"}})
	body, _ := io.ReadAll(res.Body)
	res.Body.Close()
	if res.StatusCode != http.StatusPartialContent || string(body) != string(content[4:10]) {
		t.Errorf("range 4-9: %s %q, want 206 %q", res.Status, body, content[4:10])
	}
	if cd := res.Header.Get("Content-Disposition"); cd != `attachment; filename="a b.flv"` {
		t.Errorf("Content-Disposition %q", cd)
	}
	if ct := res.Header.Get("Content-Type"); ct != "video/x-flv" {
		t.Errorf("Content-Type %q", ct)
	}

	// The mux redirects a path with a literal .. to its clean form; the
	// handler refuses the escaped forms, and os.Root the link.
	for p, want := range map[string]int{
		"../secret.flv":       http.StatusTemporaryRedirect,
		"%2e%2e/secret.flv":   http.StatusBadRequest,
		"..%2fsecret.flv":     http.StatusBadRequest,
		"%2e%2e%2fsecret.flv": http.StatusBadRequest,
		"%2F" + strings.TrimPrefix(filepath.ToSlash(secret), "/"): http.StatusBadRequest,
		"..%5csecret.flv": http.StatusBadRequest,
		"link.flv":        http.StatusNotFound,
		"nothing.flv":     http.StatusNotFound,
		"":                http.StatusBadRequest,
	} {
		res := do(t, c, "GET", base+"/api/v1/recordings/live/_definst_/"+p, tok)
		body, _ := io.ReadAll(res.Body)
		res.Body.Close()
		if res.StatusCode != want || strings.Contains(string(body), "SECRET") {
			t.Errorf("GET %s: %s %q; want %d", p, res.Status, body, want)
		}
	}
}
