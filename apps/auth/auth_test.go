package auth

import (
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strings"
	"testing"
	"time"
)

func parseDenial(t *testing.T, err error) string {
	t.Helper()
	var d *Denial
	if !errors.As(err, &d) || !errors.Is(err, ErrDenied) {
		t.Fatalf("want a denial, got %v", err)
	}
	return d.Description
}

// adobeClient walks the three connects as ffmpeg does and returns the
// last error.
func adobeClient(t *testing.T, m *Manager, user, password string) error {
	t.Helper()
	err := m.Connect(context.Background(), Request{App: "enc"}, url.Values{})
	if !strings.Contains(parseDenial(t, err), "code=403 need auth; authmod=adobe") {
		t.Fatalf("first connect: %v", err)
	}
	err = m.Connect(context.Background(), Request{App: "enc"}, url.Values{"authmod": {"adobe"}, "user": {user}})
	desc := parseDenial(t, err)
	_, query, ok := strings.Cut(desc, "?reason=needauth&")
	if !ok {
		t.Fatalf("second connect: %q", desc)
	}
	q, err := url.ParseQuery(query)
	if err != nil {
		t.Fatal(err)
	}
	cc := "0badf00d"
	resp := AdobeResponse(user, password, q.Get("salt"), q.Get("opaque"), cc)
	return m.Connect(context.Background(), Request{App: "enc"}, url.Values{
		"authmod": {"adobe"}, "user": {user}, "challenge": {cc}, "response": {resp}, "opaque": {q.Get("opaque")}})
}

func TestAdobeAuthmod(t *testing.T) {
	m := NewManager(map[string]Policy{"enc": {Users: map[string]string{"obs": "secret"}}}, []byte("k"), time.Second)
	if err := adobeClient(t, m, "obs", "secret"); err != nil {
		t.Fatalf("right password: %v", err)
	}
	wrong := parseDenial(t, adobeClient(t, m, "obs", "nope"))
	unknown := parseDenial(t, adobeClient(t, m, "eve", "secret"))
	if !strings.Contains(wrong, "reason=authfailed") || wrong != unknown {
		t.Fatalf("wrong password %q and unknown user %q must fail alike", wrong, unknown)
	}
	// A challenge older than its lifetime is refused.
	m.now = func() time.Time { return time.Now().Add(-2 * challengeTTL) }
	old := m.challenge("obs", m.now())
	m.now = time.Now
	if m.validChallenge("obs", old, time.Now()) {
		t.Fatal("expired challenge accepted")
	}
	// Other apps are open.
	if err := m.Connect(context.Background(), Request{App: "live"}, nil); err != nil {
		t.Fatal(err)
	}
}

func TestTokens(t *testing.T) {
	now := time.Unix(1_800_000_000, 0)
	m := NewManager(map[string]Policy{"live": {TokenSecret: "s", TokenPublish: true}}, nil, time.Second)
	m.now = func() time.Time { return now }
	name := SignedName("s", "live", "cam", now.Add(time.Hour))
	stream, query, _ := strings.Cut(name, "?")
	req := Request{App: "live", Stream: stream, Query: query}
	if err := m.Publish(context.Background(), req); err != nil {
		t.Fatalf("valid token: %v", err)
	}
	if err := m.Play(context.Background(), Request{App: "live", Stream: "cam"}); err != nil {
		t.Fatalf("play needs no token here: %v", err)
	}
	for _, tc := range []struct{ name, query, want string }{
		{"cam", "", "a token is required"},
		{"other", query, "invalid token"},
		{"cam", strings.Replace(query, "token=", "token=00", 1), "invalid token"},
	} {
		if got := parseDenial(t, m.Publish(context.Background(), Request{App: "live", Stream: tc.name, Query: tc.query})); got != tc.want {
			t.Errorf("%s?%s: %q, want %q", tc.name, tc.query, got, tc.want)
		}
	}
	m.now = func() time.Time { return now.Add(2 * time.Hour) }
	if got := parseDenial(t, m.Publish(context.Background(), req)); got != "token expired" {
		t.Errorf("expired: %q", got)
	}
}

func TestHTTPCallbacks(t *testing.T) {
	calls := make(chan url.Values, 10)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		_ = r.ParseForm()
		calls <- r.PostForm
		switch r.PostForm.Get("name") {
		case "allowed":
			w.WriteHeader(http.StatusNoContent)
		case "slow":
			time.Sleep(500 * time.Millisecond)
		default:
			w.WriteHeader(http.StatusForbidden)
		}
	}))
	defer srv.Close()
	m := NewManager(map[string]Policy{"live": {OnPublish: srv.URL, OnDone: srv.URL}}, nil, 200*time.Millisecond)
	ctx := context.Background()
	if err := m.Publish(ctx, Request{App: "live", Stream: "allowed", Query: "k=v", Addr: "1.2.3.4"}); err != nil {
		t.Fatalf("allowed: %v", err)
	}
	got := <-calls
	if got.Get("call") != "publish" || got.Get("addr") != "1.2.3.4" || got.Get("k") != "v" {
		t.Errorf("callback form %v", got)
	}
	if parseDenial(t, m.Publish(ctx, Request{App: "live", Stream: "denied"})) != "publish refused" {
		t.Error("403 did not refuse")
	}
	<-calls
	if parseDenial(t, m.Publish(ctx, Request{App: "live", Stream: "slow"})) != "publish refused" {
		t.Error("timeout did not refuse")
	}
	<-calls
	m.Done(Request{App: "live", Stream: "allowed"})
	if c := <-calls; c.Get("call") != "done" {
		t.Errorf("done callback %v", c)
	}
}
