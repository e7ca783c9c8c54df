package server

import (
	"errors"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// TestStreamAndPublisherLimits: past streams_per_instance a new stream is
// refused (Publish.BadName, Play.Failed); past publishers_per_connection a
// client's next publish is refused; a command past amf_elements closes
// only that connection. Streams under the limits keep flowing.
func TestStreamAndPublisherLimits(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.Limits.StreamsPerInstance = 3
		c.Limits.PublishersPerConnection = 2
		c.Limits.AMFElements = 1000
	})
	pub := dial(t, ts, rtmp.ClientConfig{})
	ids := make([]uint32, 3)
	for i := range ids {
		id, err := pub.CreateStream()
		if err != nil {
			t.Fatal(err)
		}
		ids[i] = id
	}
	for i, name := range []string{"one", "two"} {
		if err := pub.Publish(ids[i], name, "live"); err != nil {
			t.Fatal(err)
		}
	}
	var se *protocol.StatusError
	if err := pub.Publish(ids[2], "three", "live"); !errors.As(err, &se) || se.Code != protocol.PublishBadName {
		t.Fatalf("third publish on one connection: %v", err)
	}
	// A second client fills the instance's third stream slot…
	other, oid := startPublishing(t, ts, "three", rtmp.ClientConfig{})
	// …so a fourth stream is refused, to a publisher and to a player.
	id2, _ := other.CreateStream()
	if err := other.Publish(id2, "four", "live"); !errors.As(err, &se) || se.Code != protocol.PublishBadName {
		t.Fatalf("fourth stream: %v", err)
	}
	player := dial(t, ts, rtmp.ClientConfig{})
	pid, _ := player.CreateStream()
	if err := player.Play(pid, "five", -2000); !errors.As(err, &se) || se.Code != protocol.PlayFailed {
		t.Fatalf("play of a fifth stream: %v", err)
	}
	// Existing streams keep flowing.
	p2, id := startPlaying(t, ts, "three", rtmp.ClientConfig{})
	send(t, other, oid, protocol.TypeVideo, 0, avcFrame(true, 1, 100))
	if m := readMedia(t, p2, id); m.Type != protocol.TypeVideo {
		t.Fatal("stream under the limit stopped")
	}
	if ref := ts.admit.Refusals(); ref["publishers_per_connection"] != 1 || ref["streams_per_instance"] != 2 {
		t.Errorf("refusal counts %v", ref)
	}
	// A command with more AMF values than allowed closes that connection.
	big := make(amf.StrictArray, 2000)
	for i := range big {
		big[i] = 1.0
	}
	if _, err := player.Call("anything", big); err == nil {
		t.Fatal("oversized command answered")
	}
	testtools.WaitFor(t, 5*time.Second, "the oversized command's connection to close", func() bool {
		for _, e := range ts.logs.FilterMessage("closed").All() {
			if s, _ := e.ContextMap()["error"].(string); strings.Contains(s, "too many") {
				return true
			}
		}
		return false
	})
}
