package egress

import (
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// BenchmarkFanout1000 routes one 2 Mbit/s stream (30 fps, ~8.7 KB frames,
// a keyframe every 60) to 1000 in-process subscribers through a Fanout,
// each drained after every frame as a connection's writer would. One op =
// one frame delivered to all 1000.
func BenchmarkFanout1000(b *testing.B) { benchFanout(b, Config{Parallel: 1}) }

// BenchmarkFanout1000Merged is the same with merged writes: each frame
// wakes one staggered group of subscribers.
func BenchmarkFanout1000Merged(b *testing.B) {
	benchFanout(b, Config{Parallel: 1, MergeWrites: 100 * time.Millisecond})
}

func benchFanout(b *testing.B, cfg Config) {
	const subscribers = 1000
	const frameSize = 2_000_000 / 8 / 30
	reg, s, pub := publish(b, cfg)
	subs := make([]*media.Subscriber, subscribers)
	sink := media.NewChanSink(nil)
	for i := range subs {
		subs[i] = media.NewSubscriber(media.SubscriberConfig{}, sink)
		if _, err := reg.Subscribe("s", subs[i], true); err != nil {
			b.Fatal(err)
		}
	}
	frames := make([]*media.Frame, 60)
	for i := range frames {
		p := make([]byte, frameSize)
		p[0], p[1] = 0x27, 1
		if i == 0 {
			p[0] = 0x17
		}
		frames[i] = media.NewFrame(protocol.TypeVideo, uint32(i*33), p)
	}
	b.ReportAllocs()
	b.SetBytes(frameSize * subscribers)
	i := 0
	for b.Loop() {
		s.Write(pub, frames[i%len(frames)])
		i++
		for _, sub := range subs {
			for {
				if _, ok := sub.Pop(); !ok {
					break
				}
			}
		}
	}
}
