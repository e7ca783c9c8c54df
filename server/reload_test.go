package server

import (
	"errors"
	"sync"
	"testing"

	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// TestReloadWhileConnecting: Reload swaps settings for new connections
// while others connect (run with -race), and an invalid configuration is
// refused without changing anything.
func TestReloadWhileConnecting(t *testing.T) {
	ts := startServer(t, nil)
	var wg sync.WaitGroup
	for range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for range 5 {
				c, err := rtmp.Dial(t.Context(), ts.url, rtmp.ClientConfig{})
				if err == nil {
					c.Close()
				}
			}
		}()
	}
	cfg := ts.config()
	for i := range 5 {
		cfg.Limits.PublishersPerConnection = 1 + i%2
		if err := ts.Reload(cfg); err != nil {
			t.Fatal(err)
		}
	}
	wg.Wait()
	bad := cfg
	bad.NetConn.MaxStreams = 0
	if err := ts.Reload(bad); err == nil {
		t.Fatal("invalid configuration accepted")
	}
	cfg.Limits.PublishersPerConnection = 1
	if err := ts.Reload(cfg); err != nil {
		t.Fatal(err)
	}
	c := dial(t, ts, rtmp.ClientConfig{})
	a, _ := c.CreateStream()
	b, _ := c.CreateStream()
	if err := c.Publish(a, "x", "live"); err != nil {
		t.Fatal(err)
	}
	var se *protocol.StatusError
	if err := c.Publish(b, "y", "live"); !errors.As(err, &se) {
		t.Fatalf("second publish with publishers_per_connection = 1 after reload: %v", err)
	}
}
