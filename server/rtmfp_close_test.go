package server

import (
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
)

// TestRTMFPClientCloseSeen: when an RTMFP client closes its session, the
// server drops the connection at once and unpublishes its stream.
func TestRTMFPClientCloseSeen(t *testing.T) {
	ts := startServer(t, nil)
	pub := dialRTMFP(t, ts.mfp, tc.ClientConfig{})
	id, err := pub.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(id, "bye", "live"); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	if err := pub.Close(); err != nil {
		t.Fatal(err)
	}
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("Close took %v: the server did not acknowledge it", took)
	}
	testtools.WaitFor(t, 3*time.Second, "the stream to be unpublished", func() bool {
		s := ts.stream(t, "bye")
		return s == nil || !s.Published()
	})
	t.Logf("unpublished %v after Close", time.Since(start))
}
