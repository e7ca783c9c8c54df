// Package congestion is the RTMFP congestion controller: the "TCP
// compatible" window-based algorithm RFC 7016 §3.5.2 requires, modelled on
// TCP NewReno (RFC 5681, RFC 6582) so that an RTMFP session and a TCP flow
// sharing a bottleneck converge to similar rates.
//
//   - Slow start: the window grows by the bytes acknowledged, doubling per
//     round trip, never faster (RFC 7016 §3.5.2 forbids exceeding slow
//     start).
//   - Congestion avoidance: one maximum packet per round trip (additive
//     increase).
//   - Loss (three negative acknowledgements): halve the window, at most once
//     per window of data (multiplicative decrease with NewReno-style
//     recovery episodes).
//   - Timeout: restart from the loss window (one packet) in slow start.
//   - The window grows only while the sender uses it, so an application-
//     limited flow cannot bank a large window and later burst (§3.5.2.3).
//
// Pacing spreads each window over the smoothed round-trip time instead of
// sending it in a burst: the Pacer is a token bucket refilled at
// 1.25 × cwnd / srtt (2 × in slow start, as Linux does), holding at most a
// few packets of burst so timer granularity does not cap throughput.
package congestion

import "time"

// Controller parameters.
const (
	// MaxPacket is the segment size the window is counted in; RTMFP
	// packets are at most 1200 bytes (rtmfp-cpp's MAX_SESSION_PACKET_LENGTH).
	MaxPacket = 1200
	// InitialWindow is the RFC 6928 initial window of 10 segments.
	InitialWindow = 10 * MaxPacket
	// LossWindow is the window after a retransmission timeout.
	LossWindow = MaxPacket
	// MinWindow is the smallest window after a loss.
	MinWindow = 2 * MaxPacket
	// MaxWindow bounds the window so memory stays bounded even on
	// pathological acknowledgement patterns (~96 MB in flight).
	MaxWindow = 80000 * MaxPacket
)

// NewReno is a NewReno-style window controller. It is not safe for
// concurrent use; the session owns it.
type NewReno struct {
	cwnd     int
	ssthresh int
	// avoidance accumulates acknowledged bytes in congestion avoidance
	// until a whole window has been acknowledged.
	avoidance int
	// recoveryEnd is the transmission sequence number that ends the
	// current loss episode: losses of packets sent before it do not cut
	// the window again.
	recoveryEnd uint64
}

// NewNewReno returns a controller in slow start with the initial window.
func NewNewReno() *NewReno {
	return &NewReno{cwnd: InitialWindow, ssthresh: MaxWindow}
}

// Window is the congestion window in bytes.
func (c *NewReno) Window() int { return c.cwnd }

// InSlowStart reports whether the controller is in slow start.
func (c *NewReno) InSlowStart() bool { return c.cwnd < c.ssthresh }

// CanSend reports whether another packet may be sent with outstanding bytes
// already in flight.
func (c *NewReno) CanSend(outstanding int) bool { return outstanding < c.cwnd }

// OnAck accounts acked bytes newly acknowledged. outstanding is the number
// of bytes that were in flight before the acknowledgement: the window grows
// only when it was (nearly) full, i.e. when the sender was window-limited.
//
// yield is set while the far end reports receiving time-critical data on
// other sessions (Time Critical Reverse Notification, RFC 7016 §3.5.2.1):
// slow start is then off and the window grows by at most 0.5% or 384 bytes
// per round trip, whichever is greater, leaving capacity to real-time media.
func (c *NewReno) OnAck(acked, outstanding int, yield bool) {
	if acked <= 0 || outstanding+2*MaxPacket < c.cwnd {
		return
	}
	if c.cwnd < c.ssthresh && !yield {
		c.cwnd = min(c.cwnd+min(acked, 2*MaxPacket), MaxWindow)
		return
	}
	c.avoidance += acked
	if c.avoidance >= c.cwnd {
		c.avoidance -= c.cwnd
		step := MaxPacket
		if yield {
			step = max(c.cwnd/200, 384)
		}
		c.cwnd = min(c.cwnd+step, MaxWindow)
	}
}

// OnLoss reacts to a packet declared lost by negative acknowledgements. tsn
// is the lost packet's transmission sequence number and nextTSN the next
// one to be assigned: one cut per episode.
func (c *NewReno) OnLoss(tsn, nextTSN uint64) {
	if tsn < c.recoveryEnd {
		return
	}
	c.recoveryEnd = nextTSN
	c.ssthresh = max(c.cwnd/2, MinWindow)
	c.cwnd = c.ssthresh
	c.avoidance = 0
}

// OnTimeout reacts to a retransmission timeout that found data in flight.
func (c *NewReno) OnTimeout(nextTSN uint64) {
	c.recoveryEnd = nextTSN
	c.ssthresh = max(c.cwnd/2, MinWindow)
	c.cwnd = LossWindow
	c.avoidance = 0
}

// Pacer is a token bucket that spaces packets over the round trip.
type Pacer struct {
	tokens float64 // bytes that may be sent now
	last   time.Time
}

// burst is how many packets may leave back to back.
const burst = 16

// rate returns the pacing rate in bytes per second.
func rate(cwnd int, srtt time.Duration, slowStart bool) float64 {
	if srtt <= 0 {
		srtt = 100 * time.Millisecond
	}
	gain := 1.25
	if slowStart {
		gain = 2
	}
	return gain * float64(cwnd) / srtt.Seconds()
}

// Allow reports whether a packet of size bytes may be sent at now, and if
// not, how long to wait.
func (p *Pacer) Allow(now time.Time, size, cwnd int, srtt time.Duration, slowStart bool) (bool, time.Duration) {
	r := rate(cwnd, srtt, slowStart)
	if !p.last.IsZero() {
		p.tokens += now.Sub(p.last).Seconds() * r
	} else {
		p.tokens = burst * MaxPacket
	}
	p.last = now
	if limit := float64(burst * MaxPacket); p.tokens > limit {
		p.tokens = limit
	}
	if p.tokens >= float64(size) {
		return true, 0
	}
	wait := time.Duration((float64(size) - p.tokens) / r * float64(time.Second))
	return false, max(wait, 100*time.Microsecond)
}

// Sent consumes tokens for a packet of size bytes.
func (p *Pacer) Sent(size int) { p.tokens -= float64(size) }
