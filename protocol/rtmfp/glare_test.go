package rtmfp

import (
	"context"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testnet"
)

// Glare (RFC 7016 §3.5.1.3): two peers that dial each other at once end up
// with one session. 50 ms of delay each way makes sure each IIKeying
// arrives while the receiver's own handshake to the sender is still
// opening. Both Dials return the two ends of the same session (the one
// whose initiator's certificate sorts lower), and neither end's Accept
// sees it.
func TestGlareLeavesOneSession(t *testing.T) {
	leakCheck(t)
	a, b := listen(t, testConfig()), listen(t, testConfig())
	toB, err := testnet.New(addrOf(b), testnet.Impairments{Delay: 50 * time.Millisecond}, 1)
	if err != nil {
		t.Fatal(err)
	}
	defer toB.Close()
	toA, err := testnet.New(addrOf(a), testnet.Impairments{Delay: 50 * time.Millisecond}, 2)
	if err != nil {
		t.Fatal(err)
	}
	defer toA.Close()

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	type result struct {
		s   *Session
		err error
	}
	fromA, fromB := make(chan result, 1), make(chan result, 1)
	go func() { s, err := a.DialPeer(ctx, b.PeerID(), toB.Addr()); fromA <- result{s, err} }()
	go func() { s, err := b.DialPeer(ctx, a.PeerID(), toA.Addr()); fromB <- result{s, err} }()
	ra, rb := <-fromA, <-fromB
	if ra.err != nil || rb.err != nil {
		t.Fatalf("dials: %v, %v", ra.err, rb.err)
	}
	if ra.s.PeerID() != b.PeerID() || rb.s.PeerID() != a.PeerID() {
		t.Fatal("a dial returned a session to the wrong peer")
	}
	if ra.s.Initiator() == rb.s.Initiator() {
		t.Fatalf("both ends are initiator=%v: two sessions, not one", ra.s.Initiator())
	}
	// The winner is the initiator whose certificate sorts lower.
	aWins := string(a.Identity().Cert) < string(b.Identity().Cert)
	if ra.s.Initiator() != aWins {
		t.Errorf("a is initiator %v, but its certificate sorts lower: %v", ra.s.Initiator(), aWins)
	}
	for name, e := range map[string]*Endpoint{"a": a, "b": b} {
		e.mu.RLock()
		n := len(e.sessions)
		e.mu.RUnlock()
		if n != 1 {
			t.Errorf("%s has %d sessions, want 1", name, n)
		}
		actx, acancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
		if s, err := e.Accept(actx); err == nil {
			t.Errorf("%s's Accept returned a session to %x", name, s.PeerID())
		}
		acancel()
	}
	// The session carries data both ways.
	f, err := ra.s.OpenFlow([]byte("glare"), FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write([]byte("one session"), WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	rf, err := rb.s.AcceptFlow(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if m, err := rf.ReadMessage(ctx); err != nil || string(m.Data) != "one session" {
		t.Fatalf("read %q, %v", m.Data, err)
	}
	_ = ra.s.Close()
	_ = rb.s.Close()
}
