package egress

import (
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol"
)

// TestMergerFactor drives the merge factor with a synthetic clock: the
// fixed wait rounds to whole frames, load raises the factor to bring the
// share back under the target, it falls only with a margin, it is capped
// at maxAdaptiveHold, and it changes only when a cycle through the phases
// ends.
func TestMergerFactor(t *testing.T) {
	const frame = 33333 * time.Microsecond // 30 fps
	tests := []struct {
		name    string
		cfg     Config
		subs    int
		subCost time.Duration
		want    int
	}{
		{"off", Config{}, 1000, 25 * time.Microsecond, 1},
		{"fixed 100ms at 30 fps", Config{MergeWrites: 100 * time.Millisecond}, 10, 0, 4},
		{"fixed 30ms merges pairs", Config{MergeWrites: 30 * time.Millisecond}, 10, 0, 2},
		{"small audience under the share", Config{MergeAbove: 0.5}, 200, 25 * time.Microsecond, 1},
		{"share 0.75 over 0.5", Config{MergeAbove: 0.5}, 1000, 25 * time.Microsecond, 2},
		{"share 1.43 over 0.5", Config{MergeAbove: 0.5}, 1900, 25 * time.Microsecond, 3},
		{"capped at 100 ms", Config{MergeAbove: 0.5}, 20000, 25 * time.Microsecond, 4},
		{"fixed above adaptive", Config{MergeAbove: 0.5, MergeWrites: 100 * time.Millisecond}, 1000, 25 * time.Microsecond, 4},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var m merger
			m.measured(tt.subCost*minCostSample, minCostSample)
			now := time.Unix(0, 0)
			var k, turn uint32
			for range 40 {
				k, turn = m.next(&tt.cfg, tt.subs, now)
				now = now.Add(frame)
			}
			// Finish the cycle, then check one whole cycle's turns.
			for turn != k-1 {
				k, turn = m.next(&tt.cfg, tt.subs, now)
				now = now.Add(frame)
			}
			for want := range tt.want {
				k, turn = m.next(&tt.cfg, tt.subs, now)
				now = now.Add(frame)
				if k != uint32(tt.want) || turn != uint32(want) {
					t.Fatalf("got factor %d turn %d, want %d turn %d", k, turn, tt.want, want)
				}
			}
		})
	}

	t.Run("hysteresis and cycle ends", func(t *testing.T) {
		cfg := Config{MergeAbove: 0.5}
		var m merger
		m.measured(25*time.Microsecond*minCostSample, minCostSample)
		now := time.Unix(0, 0)
		step := func(subs int) (uint32, uint32) {
			k, turn := m.next(&cfg, subs, now)
			now = now.Add(frame)
			return k, turn
		}
		for range 4 {
			step(1000) // share 0.75: factor 2
		}
		if k, _ := step(1000); k != 2 {
			t.Fatalf("factor %d at share 0.75, want 2", k)
		}
		// Within a cycle the factor holds even if the load jumps.
		for {
			if _, turn := step(1000); turn == 1 {
				break
			}
		}
		if k, turn := step(3000); k != 4 || turn != 0 {
			t.Fatalf("at the cycle's end got factor %d turn %d, want 4 turn 0", k, turn)
		}
		// Share 0.45 is well under what factor 3 allows (0.8 × 0.5 × 3):
		// the factor falls to what the share needs, 1.
		for range 8 {
			step(600)
		}
		if k, _ := step(600); k != 1 {
			t.Fatalf("factor %d at share 0.45 from 4, want 1", k)
		}
		for range 8 {
			step(1000)
		}
		k, _ := step(1000)
		if k != 2 {
			t.Fatalf("factor %d back at share 0.75, want 2", k)
		}
		for range 8 {
			step(600) // share 0.45: under 0.5, not under 0.8 × 0.5
		}
		if k, _ := step(600); k != 2 {
			t.Fatalf("factor %d at share 0.45 from 2, want 2 (margin)", k)
		}
		for range 8 {
			step(500) // share 0.375: under 0.4, back to 1
		}
		if k, _ := step(500); k != 1 {
			t.Fatalf("factor %d at share 0.375, want 1", k)
		}
	})
}

// TestMergedWrites runs a stream whose fan-out is slow (each wake takes
// a millisecond) past a low MergeAbove: frames then wake staggered
// groups of subscribers, no subscriber goes more than the cap without a
// wake, every subscriber still gets every frame in order, and when the
// publisher stops the timer wakes everyone.
func TestMergedWrites(t *testing.T) {
	const nsubs = 2 * minCostSample
	reg, s, pub := publish(t, Config{MergeAbove: 0.1, Parallel: 1})
	var (
		mu       sync.Mutex
		signals  [nsubs]int
		lastSeen [nsubs]int // frame number at the subscriber's last signal
		maxQuiet int        // most frames a subscriber went without a signal
		written  atomic.Int32
	)
	subs := make([]*media.Subscriber, nsubs)
	for i := range subs {
		subs[i] = media.NewSubscriber(media.SubscriberConfig{}, funcSink(func() {
			time.Sleep(time.Millisecond)
			mu.Lock()
			defer mu.Unlock()
			signals[i]++
			n := int(written.Load())
			maxQuiet = max(maxQuiet, n-lastSeen[i])
			lastSeen[i] = n
		}))
		if _, err := reg.Subscribe("s", subs[i], true); err != nil {
			t.Fatal(err)
		}
	}
	const (
		frames   = 60
		frameGap = 10 * time.Millisecond
	)
	merged := false
	for n := 1; n <= frames; n++ {
		written.Store(int32(n))
		mu.Lock()
		before := signals
		mu.Unlock()
		f := video(n == 1, 10)
		f.Timestamp = uint32(n)
		s.Write(pub, f)
		mu.Lock()
		got := 0
		for i := range signals {
			if signals[i] != before[i] {
				got++
			}
		}
		mu.Unlock()
		if n > 10 && got < nsubs {
			merged = true
		}
		time.Sleep(frameGap)
	}
	if !merged {
		t.Fatal("every frame signalled every subscriber: writes never merged")
	}
	if k := s.Info().FramesPerWrite; k < 2 {
		t.Fatalf("stream info reports %d frames per write while merging", k)
	}
	// The factor is capped at 100 ms of frames, at most 11 with frames
	// 10 ms or more apart; it changes only when a cycle ends, so a
	// subscriber waits at most one cycle of the old factor and one of the
	// new.
	mu.Lock()
	quiet := maxQuiet
	mu.Unlock()
	if limit := 2 * (1 + int((maxAdaptiveHold+frameGap/2)/frameGap)); quiet > limit {
		t.Fatalf("a subscriber went %d frames without a signal", quiet)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		mu.Lock()
		behind := 0
		for i := range lastSeen {
			if lastSeen[i] != frames {
				behind++
			}
		}
		mu.Unlock()
		if behind == 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%d subscribers never signalled for the last frames", behind)
		}
		time.Sleep(5 * time.Millisecond)
	}
	for i, sub := range subs {
		var next uint32 = 1
		for _, e := range drainEntries(sub) {
			if e.Frame == nil || e.Frame.Type != protocol.TypeVideo {
				continue
			}
			if e.Frame.Timestamp != next {
				t.Fatalf("subscriber %d: frame %d, want %d", i, e.Frame.Timestamp, next)
			}
			next++
		}
		if next != frames+1 {
			t.Fatalf("subscriber %d got %d frames, want %d", i, next-1, frames)
		}
	}
	s.Unpublish(pub)
	if k := s.Info().FramesPerWrite; k != 1 {
		t.Fatalf("stream info reports %d frames per write unpublished, want 1", k)
	}
}
