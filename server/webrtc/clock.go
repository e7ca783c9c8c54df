package webrtc

import "time"

// maxAhead is how far a viewer's frame may run ahead of the wall clock
// (measured from its first frame) before its timeline is pulled back.
const maxAhead = 100 * time.Millisecond

// playClock is a WHEP viewer's timeline, in milliseconds from its first
// frame. A play starts with the GOP cache, up to a GOP of frames that
// arrive at once: stamped as published, they would be ahead of the wall
// clock by as much, and a browser's jitter buffer would hold the whole
// stream back by that for good. Instead, a frame that runs more than
// maxAhead ahead is stamped at the wall clock, a millisecond after the
// previous one, so the browser shows the cached frames at once and then
// plays live. The same rule follows a publisher whose frames come in a
// burst after a stall, and keeps the timeline increasing when its clock
// jumps back (a new publisher starts at 0).
//
// The driving track (video, or audio for a stream without video) moves
// the timeline; the other follows it and drops what falls behind it (the
// cached audio, which could not be squeezed like pictures).
type playClock struct {
	started  bool
	wall0    time.Time
	lastIn   uint32 // the driver's last input timestamp
	lastD    int64  // lastIn, unwrapped
	off      int64  // output = unwrapped input + off
	prevOut  int64  // the driver's last output
	prevFoll int64  // the follower's last output
}

// unwrap extends a 32-bit millisecond timestamp relative to the driver's
// last one.
func (c *playClock) unwrap(ts uint32) int64 { return c.lastD + int64(int32(ts-c.lastIn)) }

// drive stamps the driving track's frame of input timestamp ts that goes
// out at now.
func (c *playClock) drive(ts uint32, now time.Time) int64 {
	if !c.started {
		c.started, c.wall0, c.lastIn, c.lastD = true, now, ts, 0
		c.off, c.prevOut, c.prevFoll = 0, -1, -1
	}
	d := c.unwrap(ts)
	c.lastIn, c.lastD = ts, d
	out := d + c.off
	if target := now.Sub(c.wall0).Milliseconds(); out > target+maxAhead.Milliseconds() {
		out = target
	}
	if out <= c.prevOut {
		out = c.prevOut + 1
	}
	c.off, c.prevOut = out-d, out
	return out
}

// follow stamps the other track's frame; ok is false for a frame to drop:
// before the driver's first, or not after the follower's previous one.
func (c *playClock) follow(ts uint32) (out int64, ok bool) {
	if !c.started {
		return 0, false
	}
	out = c.unwrap(ts) + c.off
	if out <= c.prevFoll {
		return 0, false
	}
	c.prevFoll = out
	return out, true
}

// rtpClock maps a WHIP publisher's RTP timestamps to the stream's
// milliseconds. Each track starts at the wall-clock time, since the
// session began, of its first packet, so audio and video line up within
// the network's jitter without waiting for RTCP sender reports.
type rtpClock struct {
	rate    int64 // RTP clock rate, Hz
	started bool
	last    uint32
	ext     int64 // RTP ticks since the first packet
	baseMS  int64
}

// ms returns the stream timestamp of an RTP timestamp; since is the time
// since the session began.
func (c *rtpClock) ms(ts uint32, since time.Duration) uint32 {
	if !c.started {
		c.started, c.last, c.baseMS = true, ts, since.Milliseconds()
	}
	c.ext += int64(int32(ts - c.last))
	c.last = ts
	ms := c.baseMS + c.ext*1000/c.rate
	if ms < 0 {
		ms = 0
	}
	return uint32(ms)
}
