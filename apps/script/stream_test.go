package script

import (
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// pub is a media.Publisher for the source stream.
type pub struct{}

func (pub) Silence() time.Duration { return 0 }
func (pub) Evict(error)            {}

// TestStreamPlayRepublishes: Stream.get("out").play("src") copies src's
// frames into out; Stream.send reaches out's players; play(false) stops.
func TestStreamPlayRepublishes(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.js": `
		var out;
		Client.prototype.relay = function (on) { out = Stream.get("out"); return out.play(on ? "src" : false); };
		Client.prototype.note = function () { return Stream.get("out").send("onNote", "hi"); };
		application.onPublish = function (client, stream) { trace("publish " + stream.name); };
	`})
	c := &fakeClient{id: "1"}
	e.connect(c)
	reg := e.inst.Streams()
	src, err := reg.Publish("src", pub{})
	if err != nil {
		t.Fatal(err)
	}
	if ok, err := e.call(c, "relay", true); ok != true || err != nil {
		t.Fatalf("play: %v %v", ok, err)
	}
	sink := media.NewChanSink(nil)
	sub := media.NewSubscriber(media.SubscriberConfig{}, sink)
	if _, err := reg.Subscribe("out", sub, true); err != nil {
		t.Fatalf("out is not published: %v", err)
	}
	if ok, _ := e.call(c, "note"); ok != true {
		t.Error("send on the relayed stream failed")
	}
	// The server-side stream subscribes to src from its own goroutine,
	// soon after play returns: src's frames reach out from then on.
	var got []protocol.Type
	deadline := time.Now().Add(5 * time.Second)
	for ts := uint32(40); len(got) < 2 && time.Now().Before(deadline); ts += 40 {
		src.Write(pub{}, media.NewFrame(protocol.TypeVideo, ts, []byte{0x17, 1, 0, 0, 0}))
		select {
		case <-sink.C:
		case <-time.After(10 * time.Millisecond):
		}
		for {
			en, ok := sub.Pop()
			if !ok {
				break
			}
			if en.Frame != nil && (len(got) == 0 || got[len(got)-1] != en.Frame.Type) {
				got = append(got, en.Frame.Type)
			}
		}
	}
	if len(got) != 2 || got[0] != protocol.TypeDataAMF0 || got[1] != protocol.TypeVideo {
		t.Fatalf("player got %v, want the data message, then video frames", got)
	}
	e.inst.Publish(c, "cam")
	if tr := e.traces(1); tr[0] != "publish cam" {
		t.Errorf("onPublish trace %q", tr[0])
	}
	if ok, _ := e.call(c, "relay", false); ok != true {
		t.Error("play(false) failed")
	}
	if s := reg.Get("out"); s != nil && s.Published() {
		t.Error("out still published after play(false)")
	}
}

// BenchmarkCall measures a player's call of a script method through the
// event queue: the per-call cost every NetConnection.call pays.
func BenchmarkCall(b *testing.B) {
	e := newEnv(b, Config{}, map[string]string{"main.js": `Client.prototype.add = function (a, b) { return a + b; };`})
	c := &fakeClient{id: "1"}
	e.connect(c)
	done := make(chan struct{}, 1)
	reply := func(any, error) { done <- struct{}{} }
	args := []any{1.0, 2.0}
	b.ReportAllocs()
	for b.Loop() {
		e.inst.Call(c, "add", args, reply)
		<-done
	}
}
