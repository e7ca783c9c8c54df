package congestion

import (
	"testing"
	"time"
)

func TestSlowStartAndAvoidance(t *testing.T) {
	c := NewNewReno()
	w0 := c.Window()
	// One window acknowledged in slow start (window-limited) doubles it.
	for acked := 0; acked < w0; acked += MaxPacket {
		c.OnAck(MaxPacket, c.Window(), false)
	}
	if c.Window() != 2*w0 {
		t.Fatalf("slow start: window %d, want %d", c.Window(), 2*w0)
	}
	c.OnLoss(1, 100)
	if c.Window() != w0 || c.InSlowStart() {
		t.Fatalf("after loss: window %d slowStart %v", c.Window(), c.InSlowStart())
	}
	// A second loss from the same episode does not cut again.
	c.OnLoss(50, 120)
	if c.Window() != w0 {
		t.Fatalf("second cut in one episode: %d", c.Window())
	}
	// Congestion avoidance: +1 packet per window acknowledged.
	w := c.Window()
	for acked := 0; acked < w; acked += MaxPacket {
		c.OnAck(MaxPacket, c.Window(), false)
	}
	if c.Window() != w+MaxPacket {
		t.Fatalf("avoidance: window %d, want %d", c.Window(), w+MaxPacket)
	}
	c.OnTimeout(200)
	if c.Window() != LossWindow || !c.InSlowStart() {
		t.Fatalf("timeout: window %d", c.Window())
	}
}

// While yielding to time-critical traffic the window neither slow-starts
// nor grows by more than max(0.5%, 384 bytes) per round trip.
func TestYieldToTimeCritical(t *testing.T) {
	c := NewNewReno()
	w := c.Window()
	for acked := 0; acked < w; acked += MaxPacket {
		c.OnAck(MaxPacket, c.Window(), true)
	}
	if c.Window() != w+384 {
		t.Fatalf("window %d after one yielding round trip, want %d", c.Window(), w+384)
	}
}

func TestAppLimitedDoesNotGrow(t *testing.T) {
	c := NewNewReno()
	for i := 0; i < 1000; i++ {
		c.OnAck(MaxPacket, MaxPacket, false) // only one packet ever in flight
	}
	if c.Window() != InitialWindow {
		t.Fatalf("window grew to %d while application-limited", c.Window())
	}
}

// TestAIMDFairness runs two controllers over a simulated shared bottleneck
// (a TCP NewReno flow and an RTMFP flow use the same AIMD law): starting from
// very different windows they must converge to similar shares.
func TestAIMDFairness(t *testing.T) {
	const capacity = 200 * MaxPacket // bytes per RTT the link can carry
	a, b := NewNewReno(), NewNewReno()
	a.cwnd, a.ssthresh = 180*MaxPacket, 0
	b.cwnd, b.ssthresh = 4*MaxPacket, 0
	var tsn uint64
	var shareA, shareB int
	for rtt := 0; rtt < 3000; rtt++ {
		tsn += 1000
		if a.cwnd+b.cwnd > capacity { // drop-tail: both see a loss
			a.OnLoss(tsn, tsn+1)
			b.OnLoss(tsn, tsn+1)
		} else {
			a.OnAck(a.cwnd, a.cwnd, false)
			b.OnAck(b.cwnd, b.cwnd, false)
		}
		if rtt >= 2000 {
			shareA += a.cwnd
			shareB += b.cwnd
		}
	}
	ratio := float64(shareA) / float64(shareB)
	if ratio < 0.8 || ratio > 1.25 {
		t.Fatalf("unfair share: %.2f", ratio)
	}
}

func TestPacer(t *testing.T) {
	var p Pacer
	now := time.Unix(0, 0)
	sent := 0
	for {
		ok, _ := p.Allow(now, MaxPacket, 100*MaxPacket, 100*time.Millisecond, false)
		if !ok {
			break
		}
		p.Sent(MaxPacket)
		sent++
	}
	if sent != burst {
		t.Fatalf("initial burst %d, want %d", sent, burst)
	}
	// At 1.25 × 100 packets per 100 ms one packet takes 0.8 ms.
	ok, wait := p.Allow(now, MaxPacket, 100*MaxPacket, 100*time.Millisecond, false)
	if ok || wait < 700*time.Microsecond || wait > 900*time.Microsecond {
		t.Fatalf("wait %v", wait)
	}
	if ok, _ := p.Allow(now.Add(wait), MaxPacket, 100*MaxPacket, 100*time.Millisecond, false); !ok {
		t.Fatal("not allowed after waiting")
	}
}
