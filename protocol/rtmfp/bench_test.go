package rtmfp

import (
	"context"
	"fmt"
	"io"
	"net/netip"
	"testing"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/congestion"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
)

// loopSocket hands written datagrams straight to a peer session, so two
// sessions can run their whole data path in one goroutine: build, seal,
// open, process, acknowledge. With one goroutine, the writing session's
// lock is held during a write only if that goroutine holds it, which the
// package's rule forbids: loopSocket panics then.
type loopSocket struct {
	self, peer *Session
	from       netip.AddrPort
}

func (l *loopSocket) readBatch([]*packet) (int, error) { select {} }

func (l *loopSocket) writeBatch(ds []datagram) error {
	if !l.self.mu.TryLock() {
		panic("rtmfp: socket written under the session's lock")
	}
	l.self.mu.Unlock()
	for _, d := range ds {
		if len(d.b) > MaxPacketSize {
			panic(fmt.Sprintf("rtmfp: %d-byte datagram", len(d.b)))
		}
		p := getPacket()
		p.buf = append(p.buf[:0], d.b...)
		p.addr = l.from
		p.at = time.Now()
		l.peer.mu.Lock()
		l.peer.receive(p)
		l.peer.mu.Unlock()
	}
	return nil
}

// memPair returns two open sessions wired back to back without sockets or
// goroutines; step moves one round of packets each way.
func memPair(tb testing.TB, neg flashcrypto.Negotiated) (a, b *Session) {
	tb.Helper()
	cfg := Config{Logger: zap.NewNop()}.withDefaults()
	ea := &Endpoint{cfg: cfg, log: cfg.Logger}
	eb := &Endpoint{cfg: cfg, log: cfg.Logger}
	a, b = newSession(ea, true), newSession(eb, false)
	aAddr, bAddr := netip.MustParseAddrPort("192.0.2.1:1000"), netip.MustParseAddrPort("192.0.2.2:1935")
	ea.sock = &loopSocket{self: a, peer: b, from: aAddr}
	eb.sock = &loopSocket{self: b, peer: a, from: bAddr}
	ka := flashcrypto.DeriveKeys([]byte("secret"), []byte("skic"), []byte("skrc"))
	kb := flashcrypto.DeriveKeys([]byte("secret"), []byte("skrc"), []byte("skic"))
	rev := flashcrypto.Negotiated{SendHMAC: neg.RecvHMAC, RecvHMAC: neg.SendHMAC, SendHMACLen: neg.RecvHMACLen,
		RecvHMACLen: neg.SendHMACLen, SendSSEQ: neg.RecvSSEQ, RecvSSEQ: neg.SendSSEQ}
	a.setKeys(&ka, neg)
	b.setKeys(&kb, rev)
	a.nearID, a.farID, a.addr = 1, 2, bAddr
	b.nearID, b.farID, b.addr = 2, 1, aAddr
	a.state, b.state = stateOpen, stateOpen
	// Flush re-arms the run loop's timer, which these sessions, having
	// no run loop, never see fire.
	for _, s := range []*Session{a, b} {
		s.timer, s.armedAt = time.NewTimer(time.Hour), time.Now().Add(time.Hour)
	}
	return a, b
}

func step(s *Session) {
	s.mu.Lock()
	now := time.Now()
	s.tick(now)
	s.flush(now)
	s.unlockAndWrite()
}

var hmacSSEQ = flashcrypto.Negotiated{SendHMAC: true, RecvHMAC: true, SendHMACLen: 16, RecvHMACLen: 16, SendSSEQ: true, RecvSSEQ: true}

// packetCycle writes one packet-sized message on a, moves it to b, reads
// it, and lets b's acknowledgement reach a. With deferred, the message is
// written as the server's fan-out writes live media (WriteOptions.Deferred)
// and a.Flush sends it, as the fan-out does.
func packetCycle(tb testing.TB, a, b *Session, sf *SendFlow, rf **RecvFlow, msg []byte, deferred bool) {
	if err := sf.Write(msg, WriteOptions{Deferred: deferred}); err != nil {
		tb.Fatal(err)
	}
	// Time barely moves in this loop, so the pacer would hold packets back
	// (correctly); give it a fresh burst: pacing is not what is measured.
	a.mu.Lock()
	a.pacer = congestion.Pacer{}
	a.mu.Unlock()
	if deferred {
		a.Flush()
	} else {
		step(a)
	}
	if *rf == nil {
		f, err := b.AcceptFlow(context.Background())
		if err != nil {
			tb.Fatal(err)
		}
		*rf = f
	}
	m, err := (*rf).ReadMessage(context.Background())
	if err != nil || len(m.Data) != len(msg) {
		tb.Fatalf("read %d bytes: %v\n%s\n%s", len(m.Data), err, a.dump(), b.dump())
	}
	b.mu.Lock()
	b.ackNow = true
	b.mu.Unlock()
	step(b)
}

func newMemFlow(tb testing.TB, neg flashcrypto.Negotiated) (a, b *Session, sf *SendFlow, rf **RecvFlow, msg []byte) {
	a, b = memPair(tb, neg)
	sf, err := a.OpenFlow([]byte("bench"), FlowOptions{})
	if err != nil {
		tb.Fatal(err)
	}
	rf = new(*RecvFlow)
	msg = make([]byte, 1100)
	for i := 0; i < 100; i++ { // warm up: flow acknowledged, pools filled
		packetCycle(tb, a, b, sf, rf, msg, i%2 == 1)
	}
	return a, b, sf, rf, msg
}

// The data path promises zero allocations per packet on both sides: write,
// build, seal, open, reassemble, read, acknowledge; sent by the session or
// by a deferred writer's Flush.
func TestDataPathAllocs(t *testing.T) {
	if raceEnabled {
		t.Skip("allocation counts are not meaningful under the race detector")
	}
	for _, neg := range []flashcrypto.Negotiated{{}, hmacSSEQ} {
		for _, deferred := range []bool{false, true} {
			a, b, sf, rf, msg := newMemFlow(t, neg)
			if n := testing.AllocsPerRun(500, func() { packetCycle(t, a, b, sf, rf, msg, deferred) }); n != 0 {
				t.Errorf("HMAC=%v deferred=%v: %v allocations per packet", neg.SendHMAC, deferred, n)
			}
		}
	}
}

// BenchmarkPacketCycle measures one data packet and its acknowledgement
// through both sessions' complete processing on one core: packets per
// second per core is 1e9 / (ns/op). The Flush cases send the packet as the
// server's live fan-out does.
func BenchmarkPacketCycle(b *testing.B) {
	for _, c := range []struct {
		name     string
		neg      flashcrypto.Negotiated
		deferred bool
	}{
		{"checksum", flashcrypto.Negotiated{}, false}, {"hmac+sseq", hmacSSEQ, false},
		{"checksum,Flush", flashcrypto.Negotiated{}, true}, {"hmac+sseq,Flush", hmacSSEQ, true},
	} {
		b.Run(c.name, func(b *testing.B) {
			x, y, sf, rf, msg := newMemFlow(b, c.neg)
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			for b.Loop() {
				packetCycle(b, x, y, sf, rf, msg, c.deferred)
			}
		})
	}
}

// BenchmarkLoopbackThroughput is encrypted single-session, single-flow
// throughput between two endpoints over the loopback interface.
func BenchmarkLoopbackThroughput(b *testing.B) {
	for _, c := range []struct {
		name   string
		policy flashcrypto.Policy
	}{{"checksum", flashcrypto.Policy{}}, {"hmac+sseq", flashcrypto.Policy{HMAC: true, SSEQ: true}}} {
		b.Run(c.name, func(b *testing.B) {
			ccfg := testConfig()
			ccfg.Integrity = c.policy
			ccfg.DHGroups = []flashcrypto.GroupID{flashcrypto.Group2}
			_, _, ss, cs := pair(b, testConfig(), ccfg)
			f, err := cs.OpenFlow([]byte("bench"), FlowOptions{})
			if err != nil {
				b.Fatal(err)
			}
			msg := make([]byte, 16<<10)
			ctx := context.Background()
			done := make(chan int64)
			go func() {
				rf, err := ss.AcceptFlow(ctx)
				if err != nil {
					done <- -1
					return
				}
				var n int64
				for {
					m, err := rf.ReadMessage(ctx)
					if err != nil {
						if err != io.EOF {
							n = -1
						}
						done <- n
						return
					}
					n += int64(len(m.Data))
				}
			}()
			b.SetBytes(int64(len(msg)))
			b.ReportAllocs()
			b.ResetTimer()
			for i := 0; i < b.N; i++ {
				if err := f.WriteContext(ctx, msg, WriteOptions{}); err != nil {
					b.Fatal(err)
				}
			}
			f.Close()
			if n := <-done; n != int64(b.N)*int64(len(msg)) {
				b.Fatalf("received %d bytes", n)
			}
			b.StopTimer()
			cs.Close()
		})
	}
}

// No datagram exceeds MaxPacketSize, even for the largest front margin and
// HMAC and a new flow's startup options on every fragment (loopSocket
// panics otherwise).
func TestPacketSizeLimit(t *testing.T) {
	neg := flashcrypto.Negotiated{SendHMAC: true, RecvHMAC: true, SendHMACLen: 32, RecvHMACLen: 32, SendSSEQ: true, RecvSSEQ: true}
	a, b := memPair(t, neg)
	f, err := a.OpenFlow(make([]byte, MaxMetadata), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	msg := make([]byte, 20000)
	if err := f.Write(msg, WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		a.mu.Lock()
		a.pacer = congestion.Pacer{}
		a.mu.Unlock()
		step(a)
		step(b)
	}
	rf, err := b.AcceptFlow(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if m, err := rf.ReadMessage(context.Background()); err != nil || len(m.Data) != len(msg) {
		t.Fatalf("read %d bytes: %v", len(m.Data), err)
	}
}
