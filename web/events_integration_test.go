package web_test

import (
	"context"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"

	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/web"
)

// TestEventsFromRTMPClient: a real RTMP client connects, publishes and
// disconnects against a real server, and a dashboard's WebSocket on
// /api/v1/events hears connect, publish, then unpublish and disconnect,
// with the client described as the registry knows it. The hub tests emit
// into the hub; this one covers the path from the connection through the
// application registry to the socket.
func TestEventsFromRTMPClient(t *testing.T) {
	n := startNimbus(t)
	req, _ := http.NewRequest("GET", n.http, nil)
	req.SetBasicAuth(adminUser, adminPassword)
	d := websocket.Dialer{HandshakeTimeout: 5 * time.Second}
	ws, res, err := d.Dial("ws"+strings.TrimPrefix(n.http, "http")+"/api/v1/events", req.Header)
	if err != nil {
		status := 0
		if res != nil {
			status = res.StatusCode
		}
		t.Fatalf("dial events: %v (status %d)", err, status)
	}
	defer ws.Close()
	// The dashboard hears events from its first message (the current
	// snapshot) on: one connecting while the client does may miss some.
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	var first web.Snapshot
	if err := ws.ReadJSON(&first); err != nil || first.Type != "stats" {
		t.Fatalf("first message %+v, %v; want the stats snapshot", first, err)
	}

	ctx, cancel := context.WithTimeout(t.Context(), 10*time.Second)
	defer cancel()
	c, err := rtmp.Dial(ctx, n.rtmp, rtmp.ClientConfig{FlashVer: "FMLE/3.0 (events test)"})
	if err != nil {
		t.Fatal(err)
	}
	id, err := c.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := c.Publish(id, "wscam", "live"); err != nil {
		t.Fatal(err)
	}
	_ = c.Close()

	// Stats snapshots come between the events; the events' order is
	// connect, publish, then unpublish and disconnect in either order.
	got := map[string]web.Event{}
	var order []string
	_ = ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(got) < 4 {
		var ev web.Event
		if err := ws.ReadJSON(&ev); err != nil {
			t.Fatalf("reading events (have %v): %v", order, err)
		}
		if ev.Type == "stats" {
			continue
		}
		if _, dup := got[ev.Type]; dup {
			t.Fatalf("a second %s event after %v: %+v", ev.Type, order, ev)
		}
		got[ev.Type] = ev
		order = append(order, ev.Type)
	}
	if order[0] != "connect" || order[1] != "publish" {
		t.Errorf("events in order %v, want connect and publish first", order)
	}
	for _, typ := range []string{"connect", "publish", "unpublish", "disconnect"} {
		if ev := got[typ]; ev.App != "live/_definst_" || ev.Time.IsZero() {
			t.Errorf("%s event %+v, want app live/_definst_ and a time", typ, ev)
		}
	}
	for _, typ := range []string{"publish", "unpublish"} {
		if got[typ].Stream != "wscam" {
			t.Errorf("%s event names stream %q, want wscam", typ, got[typ].Stream)
		}
	}
	conn, disc := got["connect"].Client, got["disconnect"].Client
	if conn == nil || disc == nil {
		t.Fatalf("connect client %+v, disconnect client %+v; want both described", conn, disc)
	}
	if conn.ID == "" || conn.ID != disc.ID || conn.Protocol != "rtmp" || conn.Agent != "FMLE/3.0 (events test)" ||
		!strings.HasPrefix(conn.Address, "127.0.0.1:") {
		t.Errorf("connect client %+v, disconnect client %+v; want the same RTMP client with its agent and address", conn, disc)
	}
	if disc.BytesIn == 0 {
		t.Errorf("the disconnect reports %d bytes in, want the client's traffic", disc.BytesIn)
	}
}
