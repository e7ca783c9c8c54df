package server

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
)

// recordScript records every stream called cam as it is published, and
// lets a client start and stop recordings, measure files and read what
// the statuses said.
const recordScript = `
var events = [];
application.onPublish = function (client, stream) {
	if (stream.name != "cam") return;
	stream.onStatus = function (info) { events.push(info.details + " " + info.code); };
	events.push("record " + stream.record("record"));
};
application.onStatus = function (info) { events.push("application " + info.code + " " + info.details); };
Client.prototype.record = function (name, mode) { return Stream.get(name).record(mode); };
Client.prototype.length = function (name) { return Stream.length(name); };
Client.prototype.events = function () { return events.join(", "); };
`

// TestScriptRecord: an application script records a stream its RTMP
// publisher sends live (Stream.record in onPublish), stops it
// (record(false)), measures it (Stream.length), appends to it until the
// publisher leaves; the stream's onStatus hears Record.Start and
// Record.Stop. A stream whose file another recorder writes is refused,
// and application.onStatus, as the stream has no onStatus, hears
// NetStream.Record.NoAccess.
func TestScriptRecord(t *testing.T) {
	dir := t.TempDir()
	writeApp(t, dir, "rec", recordScript, 0)
	ts := startApps(t, dir, func(c *config.Config) { c.Apps = []config.AppConfig{{Name: "rec"}} })
	streams := filepath.Join(dir, "rec", "streams", "_definst_")
	ctl := mustDialApp(t, ts, "rec", rtmp.ClientConfig{})
	call := func(method string, args ...any) *protocol.Command {
		t.Helper()
		res, err := ctl.Call(method, args...)
		if err != nil {
			t.Fatalf("%s: %v", method, err)
		}
		return &res
	}
	waitEvents := func(want string) {
		t.Helper()
		var got string
		testtools.WaitFor(t, 5*time.Second, "the script to hear "+want, func() bool {
			got = call("events").ArgString(0)
			return strings.Contains(got, want)
		})
	}
	length := func(name string) float64 {
		t.Helper()
		n, _ := call("length", name).ArgNumber(0)
		return n
	}

	pub := mustDialApp(t, ts, "rec", rtmp.ClientConfig{})
	id, err := pub.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := pub.Publish(id, "cam", "live"); err != nil {
		t.Fatal(err)
	}
	waitEvents("record true, cam NetStream.Record.Start")
	frames := func(from uint32) {
		send(t, pub, id, protocol.TypeDataAMF0, 0, metadata(t))
		send(t, pub, id, protocol.TypeVideo, from, avcSeqHeader())
		for i := range 50 {
			send(t, pub, id, protocol.TypeVideo, from+uint32(i*40), avcFrame(i%10 == 0, i, 300))
		}
	}
	frames(1000)
	testtools.WaitFor(t, 5*time.Second, "the frames to arrive", func() bool {
		s := ts.Apps().App("rec").Instances()[0].Streams().Get("cam")
		return s != nil && s.Info().FramesIn >= 52
	})
	if ok, _ := call("record", "cam", false).Arg(0).(bool); !ok {
		t.Fatal("record(false) returned false")
	}
	waitEvents("cam NetStream.Record.Stop")
	first, last, n := videoSpan(testtools.FLVTags(t, filepath.Join(streams, "cam.flv")))
	if first != 0 || last != 49*40 || n != 50 {
		t.Errorf("recorded %d frames from %d to %d ms, want 50 from 0 to 1960", n, first, last)
	}
	if got := length("cam"); got != 1.96 {
		t.Errorf("Stream.length(cam) = %v, want 1.96", got)
	}
	if got := length("nothing"); got != 0 {
		t.Errorf("Stream.length of a missing file = %v, want 0", got)
	}

	// Appending until the publisher leaves: the recording ends with it.
	if ok, _ := call("record", "cam", "append").Arg(0).(bool); !ok {
		t.Fatal(`record("append") returned false`)
	}
	testtools.WaitFor(t, 5*time.Second, "the second Record.Start", func() bool {
		return strings.Count(call("events").ArgString(0), "cam NetStream.Record.Start") == 2
	})
	frames(5000)
	testtools.WaitFor(t, 5*time.Second, "the appended frames to arrive", func() bool {
		s := ts.Apps().App("rec").Instances()[0].Streams().Get("cam")
		return s != nil && s.Info().FramesIn >= 104
	})
	if err := pub.Command(id, "closeStream", 0, nil); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, 5*time.Second, "the recording to end with the publication", func() bool {
		return strings.Count(call("events").ArgString(0), "cam NetStream.Record.Stop") == 2
	})
	// The appending recorder joined with the GOP cache: the 10 frames
	// from the first publication's last keyframe, then the 50 new ones.
	first, last, n = videoSpan(testtools.FLVTags(t, filepath.Join(streams, "cam.flv")))
	if got := length("cam"); first != 0 || n != 50+10+50 || last <= 1960+40+1960 || got != float64(last)/1000 {
		t.Errorf("after append: %d frames from %d to %d ms, Stream.length %v s; want 110 frames, the length their span", n, first, last, got)
	}

	// The publisher records busy itself; the script's recorder of the same
	// file is refused and application.onStatus hears it.
	busy := mustDialApp(t, ts, "rec", rtmp.ClientConfig{})
	bid, err := busy.CreateStream()
	if err != nil {
		t.Fatal(err)
	}
	if err := busy.Publish(bid, "busy", "record"); err != nil {
		t.Fatal(err)
	}
	if _, err := busy.WaitStatus(bid, protocol.RecordStart); err != nil {
		t.Fatal(err)
	}
	if ok, _ := call("record", "busy").Arg(0).(bool); ok {
		t.Error("a second recorder of busy.flv started")
	}
	waitEvents("application NetStream.Record.NoAccess busy")
	// Not live: refused too.
	if ok, _ := call("record", "nobody", "record").Arg(0).(bool); ok {
		t.Error("recording a stream nobody publishes started")
	}
	waitEvents("application NetStream.Record.NoAccess nobody")
}
