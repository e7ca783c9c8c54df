package server

import (
	"testing"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// TestPublisherKilledMidGOP: a publisher whose connection dies in the middle
// of a GOP leaves its players on a clean end (UnpublishNotify); a new
// publisher resumes them (PublishNotify), starting at its keyframe even if
// its first frames are not one.
func TestPublisherKilledMidGOP(t *testing.T) {
	ts := startServer(t, nil)
	first, fid := startPublishing(t, ts, "phoenix", rtmp.ClientConfig{})
	player, id := startPlaying(t, ts, "phoenix", rtmp.ClientConfig{})
	send(t, first, fid, protocol.TypeVideo, 0, avcSeqHeader())
	send(t, first, fid, protocol.TypeVideo, 0, avcFrame(true, 1, 500))
	send(t, first, fid, protocol.TypeVideo, 40, avcFrame(false, 2, 500))
	for range 3 {
		readMedia(t, player, id)
	}
	_ = first.Close() // killed mid-GOP
	if _, err := player.WaitStatus(id, protocol.PlayUnpublishNotify); err != nil {
		t.Fatalf("waiting for UnpublishNotify: %v", err)
	}

	second, sid := startPublishing(t, ts, "phoenix", rtmp.ClientConfig{})
	if _, err := player.WaitStatus(id, protocol.PlayPublishNotify); err != nil {
		t.Fatalf("waiting for PublishNotify: %v", err)
	}
	send(t, second, sid, protocol.TypeVideo, 5000, avcSeqHeader())
	send(t, second, sid, protocol.TypeVideo, 5000, avcFrame(false, 9, 500)) // joined mid-GOP: skipped
	send(t, second, sid, protocol.TypeVideo, 5040, avcFrame(true, 10, 500))
	if m := readMedia(t, player, id); !media.ParseVideo(m.Payload).SeqHeader {
		t.Fatal("resumed stream did not start with the new sequence header")
	}
	m := readMedia(t, player, id)
	if vi := media.ParseVideo(m.Payload); !vi.Keyframe || m.Timestamp != 5040 {
		t.Fatalf("resumed stream's first frame: keyframe %v at %d, want the keyframe at 5040", vi.Keyframe, m.Timestamp)
	}
}
