package egress

import (
	"math"
	"time"
)

// Merged writes.
//
// On a loopback or LAN fan-out most of a player's cost is the system call
// that writes it a frame, and the kernel's delivery behind it: tens of
// microseconds, whatever the frame's size. A player written every k-th
// frame, with the frames since its last write in one call, costs about a
// k-th. The fan-out does that in staggered groups: each sink has a
// phase (its place in the list), and a frame wakes only the sinks whose phase is due, so
// each frame's fan-out covers a k-th of the players and the load stays
// spread over the frame interval instead of coming in bursts. A player's
// frames wait at most k-1 frame intervals.
//
// The factor k comes from Config.MergeWrites (a fixed wait) and from
// Config.MergeAbove (load): the fan-out measures what waking one sink
// costs and how often frames are signalled, and when the
// fan-out with every player written every frame would keep more than
// MergeAbove of a core busy, it merges just enough frames to come back to
// that share, waiting at most maxAdaptiveHold. A small audience never
// waits; a large one on a busy server gets fewer, larger writes instead of
// falling behind.

// merger keeps a stream's merge state; its Fanout's lock guards it.
type merger struct {
	// last is when sinks were last woken for a frame, gap the
	// smoothed time between such signals (the frame interval).
	last time.Time
	gap  time.Duration
	// subCost is the smoothed cost of waking one sink.
	subCost time.Duration
	// k is the factor in force, turn the phase due last. k changes only
	// when a cycle through the phases ends, so that no phase misses its
	// turn.
	k    int
	turn int
}

// maxAdaptiveHold bounds the wait that load alone adds to a frame (three
// frame intervals at 30 fps): past it a server keeps its latency and
// spends the CPU.
const maxAdaptiveHold = 100 * time.Millisecond

// minCostSample is the fewest sinks a fan-out needs to be timed:
// a smaller one measures the clock more than the writes.
const minCostSample = 16

// smooth moves an average a sixteenth of the way towards a sample, so
// that keyframes and scheduling hiccups do not flip the factor.
func smooth(avg, sample time.Duration) time.Duration {
	if avg == 0 {
		return sample
	}
	return avg + (sample-avg)/16
}

// measured records that a fan-out to n sinks cost cost.
func (m *merger) measured(cost time.Duration, n int) {
	if n >= minCostSample {
		m.subCost = smooth(m.subCost, cost/time.Duration(n))
	}
}

// next is called when sinks are woken for a frame at now; it
// returns the merge factor and the phase due (sinks whose phase
// modulo k equals it are signalled).
func (m *merger) next(cfg *Config, subs int, now time.Time) (k, turn uint32) {
	if !m.last.IsZero() {
		if gap := now.Sub(m.last); gap > 0 && gap < time.Second {
			m.gap = smooth(m.gap, gap)
		}
	}
	m.last = now
	m.turn++
	if m.turn >= m.k {
		m.turn = 0
		m.k = max(m.fixed(cfg), m.adaptive(cfg, subs))
	}
	return uint32(m.k), uint32(m.turn)
}

// fixed is the factor for Config.MergeWrites: the frames that arrive
// within it, the first included.
func (m *merger) fixed(cfg *Config) int {
	if cfg.MergeWrites <= 0 || m.gap <= 0 {
		return 1
	}
	return 1 + int((cfg.MergeWrites+m.gap/2)/m.gap)
}

// adaptive is the factor for Config.MergeAbove. It rises as soon as the
// unmerged fan-out's share of a core exceeds k times the target and falls
// only once the share is a fifth below what one factor less allows.
func (m *merger) adaptive(cfg *Config, subs int) int {
	if cfg.MergeAbove <= 0 || m.gap <= 0 || m.subCost <= 0 {
		return 1
	}
	share := float64(m.subCost) * float64(subs) / float64(m.gap)
	k := max(m.k, 1)
	switch {
	case share > cfg.MergeAbove*float64(k):
		k = int(math.Ceil(share / cfg.MergeAbove))
	case k > 1 && share < 0.8*cfg.MergeAbove*float64(k-1):
		k = max(1, int(math.Ceil(share/cfg.MergeAbove)))
	}
	return min(k, 1+int((maxAdaptiveHold+m.gap/2)/m.gap))
}
