package rtmpt

import (
	"bytes"
	"context"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// tunnel is a Handler on a loopback HTTP server whose sessions are served
// by serve (an echo by default); ended receives each session's read error.
type tunnel struct {
	h     *Handler
	srv   *httptest.Server
	ended chan error
	wg    sync.WaitGroup
}

func startTunnel(t *testing.T, cfg Config, serve func(c *Conn) error) *tunnel {
	t.Helper()
	tn := &tunnel{ended: make(chan error, 100)}
	if serve == nil {
		serve = func(c *Conn) error {
			_, err := io.Copy(c, c)
			return err
		}
	}
	open := cfg.Open
	cfg.Open = func(c *Conn) error {
		if open != nil {
			if err := open(c); err != nil {
				return err
			}
		}
		tn.wg.Add(1)
		go func() {
			defer tn.wg.Done()
			err := serve(c)
			_ = c.Close()
			tn.ended <- err
		}()
		return nil
	}
	tn.h = NewHandler(cfg)
	tn.srv = httptest.NewServer(tn.h)
	t.Cleanup(func() {
		tn.h.Close(errors.New("test over"))
		tn.wg.Wait()
		tn.srv.Close()
	})
	return tn
}

func (tn *tunnel) addr() string { return strings.TrimPrefix(tn.srv.URL, "http://") }

// post makes one raw request.
func (tn *tunnel) post(t *testing.T, path string, body []byte) (int, []byte) {
	t.Helper()
	resp, err := tn.srv.Client().Post(tn.srv.URL+path, ContentType, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp.StatusCode, data
}

// open opens a session with raw requests and returns its id.
func (tn *tunnel) open(t *testing.T) string {
	t.Helper()
	status, body := tn.post(t, "/open/1", []byte{0})
	if status != http.StatusOK || !bytes.HasSuffix(body, []byte("\n")) {
		t.Fatalf("/open/1: %d %q", status, body)
	}
	return strings.TrimSpace(string(body))
}

// TestEcho: bytes written through a ClientConn come back through the
// session's Conn, in order, across many requests.
func TestEcho(t *testing.T) {
	tn := startTunnel(t, Config{}, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := Dial(ctx, tn.addr())
	if err != nil {
		t.Fatal(err)
	}
	want := make([]byte, 300<<10)
	for i := range want {
		want[i] = byte(i * 7)
	}
	go func() {
		for b := want; len(b) > 0; b = b[min(len(b), 5000):] {
			if _, err := c.Write(b[:min(len(b), 5000)]); err != nil {
				return
			}
		}
	}()
	got := make([]byte, len(want))
	if err := c.SetReadDeadline(time.Now().Add(10 * time.Second)); err != nil {
		t.Fatal(err)
	}
	if _, err := io.ReadFull(c, got); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		t.Fatal("echo differs")
	}
	if n := tn.h.Sessions(); n != 1 {
		t.Errorf("%d sessions, want 1", n)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := <-tn.ended; !errors.Is(err, io.EOF) && err != nil {
		t.Errorf("session ended with %v, want a clean end after /close", err)
	}
	if n := tn.h.Sessions(); n != 0 {
		t.Errorf("%d sessions after /close, want 0", n)
	}
}

// TestBadRequests: each malformed request gets its HTTP error, and none
// disturbs an open session.
func TestBadRequests(t *testing.T) {
	tn := startTunnel(t, Config{MaxBody: 1000}, nil)
	id := tn.open(t)
	for _, tc := range []struct {
		path   string
		body   []byte
		status int
	}{
		{"/fcs/ident2", []byte{0}, http.StatusNotFound},
		{"/send/0000000000000000/1", []byte("x"), http.StatusNotFound},
		{"/idle/nosuchsession/1", []byte{0}, http.StatusNotFound},
		{"/send/" + id, []byte("x"), http.StatusBadRequest},
		{"/send/" + id + "/x", []byte("x"), http.StatusBadRequest},
		{"/idle/" + id + "/1/2", []byte{0}, http.StatusBadRequest},
		{"/../etc/passwd", nil, http.StatusBadRequest},
		{"/open/2", []byte{0}, http.StatusBadRequest},
		{"/send/" + id + "/5", make([]byte, 1001), http.StatusRequestEntityTooLarge},
		{"/send/" + id + "/6", []byte("ok"), http.StatusOK},
		{"/send/" + id + "/6", []byte("replayed"), http.StatusBadRequest},
	} {
		status, body := tn.post(t, tc.path, tc.body)
		if status != tc.status {
			t.Errorf("POST %s: %d %q, want %d", tc.path, status, body, tc.status)
		}
	}
	resp, err := tn.srv.Client().Get(tn.srv.URL + "/open/1")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusMethodNotAllowed {
		t.Errorf("GET /open/1: %d, want 405", resp.StatusCode)
	}
	// The session still echoes (its "ok" came back already or comes now).
	var got []byte
	for seq := 7; len(got) < 2 && seq < 100; seq++ {
		status, body := tn.post(t, "/idle/"+id+"/"+itoa(seq), []byte{0})
		if status != http.StatusOK || len(body) == 0 {
			t.Fatalf("idle: %d %q", status, body)
		}
		got = append(got, body[1:]...)
	}
	if string(got) != "ok" {
		t.Errorf("echo after bad requests = %q, want \"ok\"", got)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

// TestOpenLimits: past MaxSessions an /open gets 503, and a refusal by
// Config.Open carries its status; refused sessions leave nothing behind.
func TestOpenLimits(t *testing.T) {
	refuse := false
	var mu sync.Mutex
	tn := startTunnel(t, Config{MaxSessions: 3, Open: func(*Conn) error {
		mu.Lock()
		defer mu.Unlock()
		if refuse {
			return &Refusal{Status: http.StatusTooManyRequests, Reason: "rate"}
		}
		return nil
	}}, nil)
	for range 3 {
		tn.open(t)
	}
	for range 50 {
		if status, _ := tn.post(t, "/open/1", []byte{0}); status != http.StatusServiceUnavailable {
			t.Fatalf("/open past the cap: %d, want 503", status)
		}
	}
	tn.h.Close(errors.New("reset"))
	for range 3 {
		<-tn.ended
	}
	tn.h.closing.Store(false)
	mu.Lock()
	refuse = true
	mu.Unlock()
	if status, _ := tn.post(t, "/open/1", []byte{0}); status != http.StatusTooManyRequests {
		t.Errorf("refused /open: %d, want 429", status)
	}
	if n := tn.h.Sessions(); n != 0 {
		t.Errorf("%d sessions after refusals, want 0", n)
	}
}

// TestStopsPolling: a client that stops making requests has its session
// closed after the idle timeout, the server's reader learning why; a
// writer facing the full buffer times out on its deadline meanwhile.
func TestStopsPolling(t *testing.T) {
	wrote := make(chan error, 1)
	tn := startTunnel(t, Config{IdleTimeout: 300 * time.Millisecond, BufferBytes: 64 << 10}, func(c *Conn) error {
		_ = c.SetWriteDeadline(time.Now().Add(100 * time.Millisecond))
		_, err := c.Write(make([]byte, 100<<10))
		wrote <- err
		_, err = c.Read(make([]byte, 1))
		return err
	})
	tn.open(t)
	if err := <-wrote; !errors.Is(err, os.ErrDeadlineExceeded) {
		t.Errorf("write past the buffer: %v, want a deadline error", err)
	}
	select {
	case err := <-tn.ended:
		if !errors.Is(err, ErrPollTimeout) {
			t.Errorf("session ended with %v, want ErrPollTimeout", err)
		}
	case <-time.After(5 * time.Second):
		t.Fatal("the session outlived its idle timeout")
	}
	if n := tn.h.Sessions(); n != 0 {
		t.Errorf("%d sessions, want 0", n)
	}
}

// TestPollingInterval: the first reply byte is 1 with data and after
// fewer than ten empty replies, then grows to 0x21 at most.
func TestPollingInterval(t *testing.T) {
	tn := startTunnel(t, Config{Hold: time.Millisecond}, func(c *Conn) error {
		_, err := io.Copy(io.Discard, c)
		return err
	})
	id := tn.open(t)
	var seen []byte
	for seq := range 80 {
		status, body := tn.post(t, "/idle/"+id+"/"+itoa(seq), []byte{0})
		if status != http.StatusOK || len(body) != 1 {
			t.Fatalf("idle %d: %d %q", seq, status, body)
		}
		if len(seen) == 0 || seen[len(seen)-1] != body[0] {
			seen = append(seen, body[0])
		}
	}
	if want := []byte{1, 3, 5, 9, 0x11, 0x21}; !bytes.Equal(seen, want) {
		t.Errorf("polling bytes %x, want %x", seen, want)
	}
}
