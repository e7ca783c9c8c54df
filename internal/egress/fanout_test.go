package egress

import (
	"slices"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/media"
)

// TestParallelWake: a frame for many sinks is woken by several goroutines
// at once, each sink exactly once, and Wake returns only when every wake
// is done. The first sink's wake waits until a sink of another share has
// been woken, which only happens if the shares run concurrently.
func TestParallelWake(t *testing.T) {
	tests := []struct {
		name     string
		parallel int
		sinks    int
		lastCost time.Duration // the previous fan-out's one-goroutine time
		parts    int           // shares expected to run at once
	}{
		{"two shares", 2, 2 * minParallelShare, 0, 2},
		{"four shares, uneven", 4, 4*minParallelShare + 7, 0, 4},
		{"too few sinks to split", 4, 2*minParallelShare - 1, 0, 1},
		{"parallel off", 1, 4 * minParallelShare, 0, 1},
		{"within the budget", 2, 2 * minParallelShare, 2*parallelBudget - time.Millisecond, 2},
		{"past the budget: the other cores stay free", 2, 2 * minParallelShare, 2*parallelBudget + time.Millisecond, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := NewFanout(Config{Parallel: tt.parallel})().(*Fanout)
			defer f.Close() // ends the helpers
			counts := make([]atomic.Int32, tt.sinks)
			lastWoken := make(chan struct{}, 1)
			sinks := make([]media.Sink, tt.sinks)
			for i := range sinks {
				sinks[i] = funcSink(func() {
					counts[i].Add(1)
					switch i {
					case tt.sinks - 1:
						lastWoken <- struct{}{}
					case 0:
						if tt.parts == 1 {
							return
						}
						select {
						case <-lastWoken:
						case <-time.After(5 * time.Second):
							t.Error("the last share was not woken while the first was")
						}
					}
				})
			}
			f.cost = tt.lastCost
			f.Wake(sinks)
			for i := range counts {
				if got := counts[i].Load(); got != 1 {
					t.Fatalf("sink %d woken %d times, want 1 (before Wake returned)", i, got)
				}
			}
			if tt.parts == 1 && len(lastWoken) != 1 {
				t.Fatal("the last sink was not woken")
			}
		})
	}
}

// TestSharePerGoroutine: each goroutine waking a share of a fan-out hands
// the whole share to Config.Share at once (where a transport gathers its
// writes into one batch), the shares cover every sink once, and Wake
// returns after every Share call has.
func TestSharePerGoroutine(t *testing.T) {
	for _, tt := range []struct {
		name     string
		parallel int
		sinks    int
		shares   int
	}{
		{"one share", 1, 40, 1},
		{"two shares", 2, 2 * minParallelShare, 2},
		{"four shares, uneven", 4, 4*minParallelShare + 3, 4},
	} {
		t.Run(tt.name, func(t *testing.T) {
			var mu sync.Mutex
			var shares [][]media.Sink
			var done atomic.Int32
			f := NewFanout(Config{Parallel: tt.parallel, Share: func(part []media.Sink) {
				mu.Lock()
				shares = append(shares, slices.Clone(part))
				mu.Unlock()
				time.Sleep(time.Millisecond)
				done.Add(1)
			}})().(*Fanout)
			defer f.Close()
			sinks := make([]media.Sink, tt.sinks)
			for i := range sinks {
				sinks[i] = &struct{ funcSink }{funcSink(func() {})}
			}
			f.Wake(sinks)
			if n := done.Load(); int(n) != tt.shares {
				t.Fatalf("Wake returned with %d shares done, want %d", n, tt.shares)
			}
			seen := make(map[media.Sink]int)
			for _, part := range shares {
				for _, s := range part {
					seen[s]++
				}
			}
			for i, s := range sinks {
				if seen[s] != 1 {
					t.Fatalf("sink %d was in %d shares, want 1", i, seen[s])
				}
			}
		})
	}
}

// TestClosedFanoutWakesNothing: after Close (the publisher left), a late
// Wake does nothing and the held-back sinks' timer does not fire.
func TestClosedFanoutWakesNothing(t *testing.T) {
	f := NewFanout(Config{Parallel: 1})().(*Fanout)
	f.Close()
	woken := false
	f.Wake([]media.Sink{funcSink(func() { woken = true })})
	if woken {
		t.Fatal("a closed fan-out woke a sink")
	}
}
