package web

import (
	"encoding/json"
	"net/http"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/internal/testtools"
)

func dialEvents(t *testing.T, base string, hdr http.Header) *websocket.Conn {
	t.Helper()
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second, ReadBufferSize: 1024}
	conn, res, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/events", hdr)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial events: %v (status %d)", err, status)
	}
	t.Cleanup(func() { _ = conn.Close() })
	return conn
}

func TestEventsSnapshotsAndEvents(t *testing.T) {
	s, _, base := startTest(t, true, nil)
	conn := dialEvents(t, base, bearer(testToken))
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first Snapshot
	if err := conn.ReadJSON(&first); err != nil {
		t.Fatal(err)
	}
	if first.Type != "stats" || first.Server.TotalConnections != 2 || len(first.Streams) != 1 {
		t.Fatalf("first message %+v, want the current snapshot", first)
	}
	s.emit(Event{Type: "publish", Time: time.Now(), App: "live/_definst_", Stream: "new"}, nil)
	for {
		var m map[string]any
		if err := conn.ReadJSON(&m); err != nil {
			t.Fatal(err)
		}
		if m["type"] == "publish" {
			if m["stream"] != "new" || m["app"] != "live/_definst_" {
				t.Fatalf("event %v", m)
			}
			return
		}
	}
}

func TestEventsRefuseCrossOrigin(t *testing.T) {
	_, _, base := startTest(t, false, nil)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	hdr := http.Header{"Origin": {"http://evil.example"}}
	conn, res, err := d.Dial("ws"+strings.TrimPrefix(base, "http")+"/api/v1/events", hdr)
	if err == nil {
		conn.Close()
		t.Fatal("a cross-origin page opened the event stream")
	}
	if res == nil || res.StatusCode != http.StatusForbidden {
		t.Fatalf("cross-origin upgrade: %v, want 403", err)
	}
}

// TestStalledDashboardDropped: a dashboard that never reads is disconnected
// once its queue is full, while one that reads keeps getting every message
// and the API keeps answering.
func TestStalledDashboardDropped(t *testing.T) {
	s, _, base := startTest(t, true, func(c *Config) {
		c.QueueLen = 8
		c.StatsInterval = time.Hour // only the test's events flow
	})
	stalled := dialEvents(t, base, bearer(testToken))
	_ = stalled // never read
	reader := dialEvents(t, base, bearer(testToken))
	testtools.WaitFor(t, 5*time.Second, "both dashboards", func() bool { return s.hub.count() == 2 })

	got := make(chan int, 1)
	go func() {
		defer close(got)
		for {
			_, msg, err := reader.ReadMessage()
			if err != nil {
				return
			}
			var ev Event
			if json.Unmarshal(msg, &ev) == nil && ev.Type == "publish" {
				n, _ := strconv.Atoi(strings.TrimRight(ev.Stream, "x"))
				got <- n
			}
		}
	}()
	// Large events fill the stalled connection's socket buffers, then its
	// queue. Each is sent once the reader has seen the previous one, so the
	// reader is never more than one behind.
	pad := strings.Repeat("x", 32<<10)
	start := time.Now()
	for i := 0; s.hub.dropped.Load() == 0; i++ {
		if time.Since(start) > 30*time.Second {
			t.Fatalf("stalled dashboard not dropped after %d events", i)
		}
		s.emit(Event{Type: "publish", Time: time.Now(), App: "live/_definst_", Stream: strconv.Itoa(i) + pad}, nil)
		select {
		case n, ok := <-got:
			if !ok {
				t.Fatalf("the reading dashboard was disconnected at event %d", i)
			}
			if n != i {
				t.Fatalf("reader got event %d, want %d", n, i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("reader did not get event %d", i)
		}
	}
	if n := s.hub.count(); n != 1 {
		t.Fatalf("%d dashboards connected after the drop, want the reader only", n)
	}
	res := do(t, browser(t), "GET", base+"/api/v1/server", bearer(testToken))
	expectStatus(t, res, http.StatusOK)
	// The stalled connection was closed by the server.
	_ = stalled.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		if _, _, err := stalled.ReadMessage(); err != nil {
			break
		}
	}
}

// idleHub is a hub with n dashboards and no writers; drain empties their
// queues as the writers would.
func idleHub(n int) (*hub, func()) {
	h := newHub(1, time.Second, zap.NewNop())
	clients := make([]*wsClient, n)
	for i := range clients {
		clients[i] = &wsClient{send: make(chan []byte, 1), done: make(chan struct{})}
		h.clients[clients[i]] = struct{}{}
	}
	return h, func() {
		for _, c := range clients {
			<-c.send
		}
	}
}

// TestBroadcastNoAllocs: a message is encoded once and shared; fanning it
// out allocates nothing per dashboard.
func TestBroadcastNoAllocs(t *testing.T) {
	h, drain := idleHub(8)
	msg := []byte(`{"type":"publish"}`)
	allocs := testing.AllocsPerRun(200, func() {
		h.broadcast(msg)
		drain()
	})
	if allocs != 0 {
		t.Errorf("broadcast allocates %.1f times, want 0", allocs)
	}
	if h.count() != 8 || h.dropped.Load() != 0 {
		t.Errorf("%d dashboards, %d dropped; want 8 and none", h.count(), h.dropped.Load())
	}
}

// BenchmarkBroadcast100 is one message to 100 dashboards, with their
// queues emptied as their writers would.
func BenchmarkBroadcast100(b *testing.B) {
	b.ReportAllocs()
	h, drain := idleHub(100)
	msg := []byte(`{"type":"stats"}`)
	for b.Loop() {
		h.broadcast(msg)
		drain()
	}
}

// lockedClient is an apps.Client whose Info waits for mu, as a connection
// does while it holds its own lock around joining an instance. Only the
// monitoring methods are implemented.
type lockedClient struct {
	apps.Client
	mu sync.Mutex
}

func (c *lockedClient) ID() string       { return "7" }
func (c *lockedClient) Protocol() string { return "rtmp" }
func (c *lockedClient) Info() apps.ClientInfo {
	c.mu.Lock()
	defer c.mu.Unlock()
	return apps.ClientInfo{ID: "7", Protocol: "rtmp", BytesIn: 100, BytesOut: 50}
}

// TestClientEventsDoNotCallTheClient: connection events arrive with the
// client locked; the server takes the client's snapshot later, on its own
// goroutine, so reporting never deadlocks.
func TestClientEventsDoNotCallTheClient(t *testing.T) {
	s, _, base := startTest(t, true, nil)
	conn := dialEvents(t, base, bearer(testToken))
	// The first message proves the hub has registered this dashboard, so
	// the events below cannot be sent before it listens.
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first Event
	if err := conn.ReadJSON(&first); err != nil {
		t.Fatal(err)
	}
	inst, err := apps.NewRegistry(apps.Config{Apps: []string{"live"}}).Resolve("live", "")
	if err != nil {
		t.Fatal(err)
	}
	c := &lockedClient{}
	c.mu.Lock()
	returned := make(chan struct{})
	go func() {
		s.ClientConnected(inst, c)
		s.ClientDisconnected(inst, c)
		close(returned)
	}()
	select {
	case <-returned:
	case <-time.After(5 * time.Second):
		t.Fatal("ClientConnected blocked on the locked client")
	}
	c.mu.Unlock()
	_ = conn.SetReadDeadline(time.Now().Add(10 * time.Second))
	for {
		var ev Event
		if err := conn.ReadJSON(&ev); err != nil {
			t.Fatal(err)
		}
		if ev.Type == "disconnect" {
			if ev.Client == nil || ev.Client.ID != "7" || ev.App != "live/_definst_" {
				t.Fatalf("event %+v", ev)
			}
			break
		}
	}
	testtools.WaitFor(t, 5*time.Second, "the departed client's bytes in the totals", func() bool {
		return s.stats.sample(time.Now()).Server.BytesIn >= 1010+100
	})
}
