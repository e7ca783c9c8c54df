package egress

import (
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"github.com/nimbus-media/nimbus/media"
)

// Config tunes the fan-outs of one server.
type Config struct {
	// Parallel is how many goroutines may wake one frame's sinks at once
	// (0: GOMAXPROCS, 1: the publisher's goroutine alone). A wake writes
	// to the player's socket there and then, so without it the last of
	// N players waits for the N-1 writes before its own. A fan-out that
	// would keep all of them busy past parallelBudget runs on one.
	Parallel int
	// MergeWrites, when positive, lets a player's frames wait up to this
	// long to go out several per write (SRS's merged writes), in staggered
	// groups of players (merge.go). A player's system calls, which are
	// most of a loopback fan-out's cost, drop to one per MergeWrites; its
	// latency grows by as much. 0 leaves it to MergeAbove.
	MergeWrites time.Duration
	// MergeAbove is the share of the frame interval (0.7 = 70 %) that
	// writing every player every frame may take on one core; past it,
	// frames are merged for as many frames as bring it back to the
	// share, waiting at most maxAdaptiveHold. 0 never merges for load.
	MergeAbove float64
	// Share wakes one share of a frame's sinks on the goroutine given it,
	// which is where the transports gather the share's writes into one
	// SendBatch (Share). nil wakes each sink in turn.
	Share func(sinks []media.Sink)
}

// NewFanout returns a media.Config.Fanout that makes a Fanout per stream.
func NewFanout(cfg Config) func() media.Fanout {
	if cfg.Parallel <= 0 {
		cfg.Parallel = runtime.GOMAXPROCS(0)
	}
	if cfg.Share == nil {
		cfg.Share = wakeEach
	}
	return func() media.Fanout { return &Fanout{cfg: &cfg} }
}

func wakeEach(sinks []media.Sink) {
	for _, s := range sinks {
		s.Wake()
	}
}

// Fanout wakes one stream's sinks: in shares on several goroutines when
// there are many (each share gathered into one batch by Config.Share),
// and, when writing every player every frame costs too much, a staggered
// group per frame (merged writes). It implements media.Fanout.
type Fanout struct {
	cfg *Config

	mu sync.Mutex
	// helpers take shares of a frame's sinks to wake beside the writer's
	// goroutine (Wake), each reporting on helped when its share is done.
	// They start when first needed and stop with Close.
	helpers []chan []media.Sink
	helped  chan struct{}
	// cost is how long the last fan-out would have taken on one goroutine
	// (its time times the goroutines it used), which decides whether the
	// next one may take every core (parallelBudget).
	cost time.Duration
	// merge decides how many frames go to a player per write; due is the
	// scratch list of the sinks whose turn it is.
	merge merger
	due   []media.Sink
	// factor publishes the merge factor in force for FramesPerWrite,
	// which the stream asks after every wake: no lock for it.
	factor atomic.Int32
	// held are the sinks of the last frame whose turn did not come, woken
	// by heldTimer if no frame follows within holdLimit.
	held      []media.Sink
	heldSince time.Time
	heldTimer *time.Timer
	closed    bool
}

// Wake implements media.Fanout.
func (f *Fanout) Wake(sinks []media.Sink) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed {
		return
	}
	now := time.Now()
	k, turn := f.merge.next(f.cfg, len(sinks), now)
	f.factor.Store(int32(k))
	if k == 1 {
		f.releaseLocked()
		f.wakeLocked(sinks)
		return
	}
	// Only the sinks whose phase is due; the others wait for their turn
	// or the timer.
	f.due = f.due[:0]
	f.held = f.held[:0]
	for i, s := range sinks {
		if uint32(i)%k == turn {
			f.due = append(f.due, s)
		}
	}
	f.held = append(f.held, sinks...)
	f.heldSince = now
	if f.heldTimer == nil {
		f.heldTimer = time.AfterFunc(f.holdLimit(), f.releaseHeld)
	} else {
		f.heldTimer.Reset(f.holdLimit())
	}
	f.wakeLocked(f.due)
	clear(f.due)
}

// FramesPerWrite implements media.Fanout: the merge factor in force.
func (f *Fanout) FramesPerWrite() int { return max(1, int(f.factor.Load())) }

// Close implements media.Fanout: it ends the helpers and the timer.
func (f *Fanout) Close() {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.closed = true
	for _, work := range f.helpers {
		close(work)
	}
	f.helpers = nil
	if f.heldTimer != nil {
		f.heldTimer.Stop()
	}
	clear(f.held)
	f.held = nil
}

// holdLimit is how long sinks wait for their turn when no frame follows:
// the configured wait, and at least two frame intervals, so that later
// phases wait for their turn rather than the timer.
func (f *Fanout) holdLimit() time.Duration {
	d := f.cfg.MergeWrites
	if d <= 0 {
		d = 50 * time.Millisecond
	}
	return max(d, 2*f.merge.gap)
}

// releaseHeld wakes the sinks held back by the last merged frame when no
// frame came after it within holdLimit (the publisher paused or left).
func (f *Fanout) releaseHeld() {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.closed || len(f.held) == 0 || time.Since(f.heldSince) < f.holdLimit() {
		return
	}
	f.releaseLocked()
}

// releaseLocked wakes whatever sinks are held back. A sink held since it
// left its stream is woken for nothing, which costs it a look at an empty
// queue.
func (f *Fanout) releaseLocked() {
	if len(f.held) == 0 {
		return
	}
	f.wakeLocked(f.held)
	clear(f.held)
	f.held = f.held[:0]
}

// wakeLocked wakes sinks. Many are woken by up to Config.Parallel
// goroutines at once — the caller's and helpers of the fan-out's — each
// taking an equal share of the list, and wakeLocked returns when all are
// done: a wake writes to the player's socket, so splitting the list
// divides the wait of the players at its end by the number of cores.
func (f *Fanout) wakeLocked(sinks []media.Sink) {
	if len(sinks) == 0 {
		return
	}
	parts := min(f.cfg.Parallel, len(sinks)/minParallelShare)
	if parts > 1 && f.cost/time.Duration(parts) > parallelBudget {
		parts = 1
	}
	start := time.Now()
	if parts > 1 {
		share := (len(sinks) + parts - 1) / parts
		f.startHelpers(parts - 1)
		n := 0
		for lo := share; lo < len(sinks); lo += share {
			f.helpers[n] <- sinks[lo:min(lo+share, len(sinks))]
			n++
		}
		f.cfg.Share(sinks[:share])
		for range n {
			<-f.helped
		}
	} else {
		parts = 1
		f.cfg.Share(sinks)
	}
	f.cost = time.Since(start) * time.Duration(parts)
	f.merge.measured(f.cost, len(sinks))
}

// parallelBudget is the longest a fan-out may keep every core busy. The
// runtime polls the network when a core has nothing to do (or every 10 ms
// at worst), so a fan-out on all cores holds up every other connection's
// input, a joining player's handshake and commands among it. A fan-out
// that would last longer on all cores — thousands of players, a server at
// its limit — leaves the other cores to the rest and runs on the
// writer's goroutine alone; the shorter ones gain the parallel speed-up.
const parallelBudget = 5 * time.Millisecond

// minParallelShare is the fewest sinks worth a helper: a wake costs a
// system call (tens of microseconds with the kernel's loopback delivery),
// waking a helper a few.
const minParallelShare = 32

// startHelpers makes sure n helpers run. The caller holds mu.
func (f *Fanout) startHelpers(n int) {
	if f.helped == nil {
		f.helped = make(chan struct{}, f.cfg.Parallel)
	}
	for len(f.helpers) < n {
		work := make(chan []media.Sink)
		f.helpers = append(f.helpers, work)
		go help(work, f.helped, f.cfg.Share)
	}
}

// help wakes each share it is given until work is closed.
func help(work <-chan []media.Sink, helped chan<- struct{}, share func([]media.Sink)) {
	for part := range work {
		share(part)
		helped <- struct{}{}
	}
}
