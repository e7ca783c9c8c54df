package rtmfp

import (
	"context"
	"errors"
	"net/netip"
	"slices"
	"testing"
	"testing/synctest"
	"time"
)

// The session's timers, on the fake clock of testing/synctest over a
// memNet: each test asserts when packets go and sessions end, to the
// nanosecond, which real sockets and sleeps can only bound.

// offsets returns each time as its distance from start.
func offsets(at []time.Time, start time.Time) []time.Duration {
	d := make([]time.Duration, len(at))
	for i, t := range at {
		d[i] = t.Sub(start)
	}
	return d
}

// A dial nobody answers sends its IHello at once, then again after
// HandshakeRetransmit backed off ×1.5 each time, and fails with
// ErrHandshakeTimeout exactly HandshakeTimeout after it began; a dial
// whose context is already cancelled fails at once.
func TestHandshakeRetransmitAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		n := newMemNet(0)
		client := n.listen(t, clientAddr.String(), Config{HandshakeRetransmit: time.Second, HandshakeTimeout: 10 * time.Second})
		start := time.Now()
		if _, err := client.DialEPD(t.Context(), memEPD, serverAddr); !errors.Is(err, ErrHandshakeTimeout) {
			t.Fatalf("dial error %v, want %v", err, ErrHandshakeTimeout)
		}
		if el := time.Since(start); el != 10*time.Second {
			t.Errorf("dial failed after %v, want 10s", el)
		}
		want := []time.Duration{0, time.Second, 2500 * time.Millisecond, 4750 * time.Millisecond, 8125 * time.Millisecond}
		if got := offsets(n.sentBy(clientAddr, start, 0), start); !slices.Equal(got, want) {
			t.Errorf("IHellos sent at %v, want %v", got, want)
		}

		ctx, cancel := context.WithCancel(t.Context())
		cancel()
		start = time.Now()
		if _, err := client.DialEPD(ctx, memEPD, serverAddr); !errors.Is(err, context.Canceled) || time.Since(start) != 0 {
			t.Fatalf("cancelled dial: %v after %v", err, time.Since(start))
		}
	})
}

// Sessions with nothing to say ping each other after KeepaliveInterval of
// silence, so each hears from the other at least every KeepaliveInterval
// plus a round trip, and they stay open however long they idle.
func TestKeepaliveKeepsIdleSessionOpen(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		cfg := Config{KeepaliveInterval: 4 * time.Second, IdleTimeout: 20 * time.Second}
		n := newMemNet(delay)
		_, _, ss, cs := memConnect(t, n, cfg)
		time.Sleep(3 * cfg.IdleTimeout)
		if ss.Err() != nil || cs.Err() != nil {
			t.Fatalf("idle sessions ended: server %v, client %v", ss.Err(), cs.Err())
		}
		for _, addr := range []netip.AddrPort{serverAddr, clientAddr} {
			in := append(n.arrivals(addr), time.Now())
			for i := 1; i < len(in); i++ {
				if gap := in[i].Sub(in[i-1]); gap > cfg.KeepaliveInterval+2*delay {
					t.Fatalf("%v heard nothing for %v", addr, gap)
				}
			}
		}
	})
}

// A session that hears nothing pings its peer KeepaliveInterval after the
// last datagram it received, then every max(KeepaliveInterval/4, ERTO)
// (here the initial ERTO, 3 s: no round trip was measured yet), and ends
// with ErrIdleTimeout, sending a Close Ack, exactly IdleTimeout after that
// datagram.
func TestIdleTimeoutEndsSilentSession(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{KeepaliveInterval: 4 * time.Second, IdleTimeout: 20 * time.Second}
		n := newMemNet(10 * time.Millisecond)
		_, _, ss, cs := memConnect(t, n, cfg)
		synctest.Wait()
		n.setDown(true)
		cut := time.Now()
		for _, c := range []struct {
			s    *Session
			addr netip.AddrPort
		}{{ss, serverAddr}, {cs, clientAddr}} {
			in := n.arrivals(c.addr)
			last := in[len(in)-1]
			<-c.s.Done()
			if el := time.Since(last); el != cfg.IdleTimeout || !errors.Is(c.s.Err(), ErrIdleTimeout) {
				t.Errorf("%v: ended %v after the last datagram it received (%v), want %v (%v)",
					c.addr, el, c.s.Err(), cfg.IdleTimeout, ErrIdleTimeout)
			}
			want := []time.Duration{4 * time.Second, 7 * time.Second, 10 * time.Second, 13 * time.Second, 16 * time.Second, 19 * time.Second, 20 * time.Second}
			if got := offsets(n.sentBy(c.addr, cut, 0), last); !slices.Equal(got, want) {
				t.Errorf("%v sent at %v after the last datagram it received, want %v", c.addr, got, want)
			}
		}
	})
}

// Data whose acknowledgements never come is sent again when the
// retransmission timeout passes, the timeout growing ×√2 per
// retransmission up to 10 s (RFC 7016 §3.6.2.6). The message is a deferred
// write sent by Flush, as the live fan-out sends: its retransmissions rely
// on the run loop's timer, which Flush re-armed without waking the run
// loop. Once the network heals, the next retransmission delivers it.
func TestRetransmissionTimeoutBacksOff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		cfg := Config{KeepaliveInterval: time.Minute, IdleTimeout: 5 * time.Minute}
		n := newMemNet(delay)
		_, _, ss, cs := memConnect(t, n, cfg)
		f, err := cs.OpenFlow([]byte("rto"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// A first message, delivered and acknowledged, measures the round
		// trip.
		if err := f.Write([]byte("first"), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		rf, err := ss.AcceptFlow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		if m, err := rf.ReadMessage(t.Context()); err != nil || string(m.Data) != "first" {
			t.Fatalf("first message: %q, %v", m.Data, err)
		}
		time.Sleep(time.Second)
		cs.mu.Lock()
		rto := cs.erto
		cs.mu.Unlock()

		n.setDown(true)
		start := time.Now()
		msg := make([]byte, 1000)
		if err := f.Write(msg, WriteOptions{Deferred: true}); err != nil {
			t.Fatal(err)
		}
		cs.Flush()
		time.Sleep(time.Minute)
		sends := offsets(n.sentBy(clientAddr, start, len(msg)), start)
		if len(sends) < 3 || sends[0] != 0 || sends[1] != rto {
			t.Fatalf("data sent at %v, want at 0 (Flush) and again after the RTO, %v", sends, rto)
		}
		capped := false
		for i := 2; i < len(sends); i++ {
			prev, gap := sends[i-1]-sends[i-2], sends[i]-sends[i-1]
			switch {
			case gap == 10*time.Second:
				capped = true
			case capped || gap < prev*14142/10000-time.Microsecond || gap > prev*14142/10000:
				t.Fatalf("data sent at %v: gap %v after %v, want ×√2 up to 10s", sends, gap, prev)
			}
		}
		if !capped {
			t.Fatalf("data sent at %v: the timeout never reached its 10 s cap", sends)
		}

		n.setDown(false)
		healed := time.Now()
		if m, err := rf.ReadMessage(t.Context()); err != nil || len(m.Data) != len(msg) {
			t.Fatalf("after the network healed: %d bytes, %v", len(m.Data), err)
		}
		if el := time.Since(healed); el > 10*time.Second+delay {
			t.Fatalf("delivered %v after the network healed", el)
		}
	})
}

// Close on a session whose peer has gone sends Close at once and every
// second after, and gives up exactly CloseTimeout after it began.
func TestCloseRetransmitsUntilTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := Config{CloseTimeout: 5 * time.Second}
		n := newMemNet(10 * time.Millisecond)
		_, _, _, cs := memConnect(t, n, cfg)
		synctest.Wait()
		n.setDown(true)
		start := time.Now()
		cs.Close()
		if el := time.Since(start); el != cfg.CloseTimeout || !errors.Is(cs.Err(), ErrClosed) {
			t.Errorf("Close returned after %v (%v), want %v (%v)", el, cs.Err(), cfg.CloseTimeout, ErrClosed)
		}
		want := []time.Duration{0, time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second}
		if got := offsets(n.sentBy(clientAddr, start, 0), start); !slices.Equal(got, want) {
			t.Errorf("Close sent at %v, want %v", got, want)
		}
	})
}

// A session closed by its peer answers with a Close Ack at once, so the
// peer's Close returns after one round trip, and lingers exactly
// CloseLinger (to answer retransmitted Closes) before it ends.
func TestFarCloseLingers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		cfg := Config{CloseLinger: 3 * time.Second}
		n := newMemNet(delay)
		_, _, ss, cs := memConnect(t, n, cfg)
		synctest.Wait()
		start := time.Now()
		cs.Close()
		if el := time.Since(start); el != 2*delay {
			t.Errorf("Close returned after %v, want one round trip, %v", el, 2*delay)
		}
		<-ss.Done()
		if el := time.Since(start); el != delay+cfg.CloseLinger || !errors.Is(ss.Err(), ErrPeerClosed) {
			t.Errorf("closed session ended %v after the Close arrived (%v), want %v (%v)", el-delay, ss.Err(), cfg.CloseLinger, ErrPeerClosed)
		}
	})
}

// A receiver acknowledges a lone data packet 200 ms after it arrives, and
// the second of two data packets as soon as it arrives (RFC 7016
// §3.6.3.4).
func TestDelayedAck(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const delay = 10 * time.Millisecond
		n := newMemNet(delay)
		_, _, ss, cs := memConnect(t, n, Config{})
		f, err := cs.OpenFlow([]byte("ack"), FlowOptions{})
		if err != nil {
			t.Fatal(err)
		}
		// A new flow is acknowledged at once: open it first.
		if err := f.Write([]byte("open"), WriteOptions{}); err != nil {
			t.Fatal(err)
		}
		rf, err := ss.AcceptFlow(t.Context())
		if err != nil {
			t.Fatal(err)
		}
		for _, c := range []struct{ size, packets int }{{100, 1}, {2000, 2}} {
			time.Sleep(time.Second)
			start := time.Now()
			if err := f.Write(make([]byte, c.size), WriteOptions{}); err != nil {
				t.Fatal(err)
			}
			time.Sleep(time.Second)
			data := n.sentBy(clientAddr, start, 0)
			if len(data) != c.packets {
				t.Fatalf("%d bytes went in %d packets, want %d", c.size, len(data), c.packets)
			}
			want := []time.Duration{data[0].Sub(start) + delay + 200*time.Millisecond}
			if c.packets == 2 {
				want = []time.Duration{data[1].Sub(start) + delay}
			}
			if acks := offsets(n.sentBy(serverAddr, start, 0), start); !slices.Equal(acks, want) {
				t.Errorf("%d bytes sent at %v: acknowledged at %v, want %v", c.size, offsets(data, start), acks, want)
			}
		}
		for range 3 {
			if _, err := rf.ReadMessage(t.Context()); err != nil {
				t.Fatal(err)
			}
		}
	})
}
