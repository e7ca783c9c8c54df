package rtmfp

import (
	"context"
	"testing"
	"time"
)

// TestForwardedIHelloIntroduction: the initiator knows only the
// introducer's address. The introducer forwards its IHello to the target
// over their session (no Redirect), the target answers the initiator
// directly with an RHello, and the session that results runs between the
// initiator and the target.
func TestForwardedIHelloIntroduction(t *testing.T) {
	leakCheck(t)
	sessions := make(chan *Session, 1)
	icfg := testConfig()
	var introducer *Endpoint
	icfg.UnmatchedHello = func(h *Hello) {
		select {
		case s := <-sessions:
			sessions <- s
			if s.PeerID() == h.Fingerprint {
				_ = s.ForwardIHello(h.EPD, h.From, h.Tag)
			}
		default:
		}
	}
	introducer = listen(t, icfg)
	target := listen(t, testConfig())
	initiator := listen(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()

	toIntroducer, err := target.Dial(ctx, urlOf(introducer))
	if err != nil {
		t.Fatal(err)
	}
	defer toIntroducer.Close()
	atIntroducer, err := introducer.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	sessions <- atIntroducer

	direct, err := initiator.DialPeer(ctx, target.PeerID(), addrOf(introducer))
	if err != nil {
		t.Fatalf("dial by peer ID: %v", err)
	}
	defer direct.Close()
	if got := direct.RemoteAddr(); got != addrOf(target) {
		t.Fatalf("session runs to %v, want the target at %v", got, addrOf(target))
	}
	accepted, err := target.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer accepted.Close()
	if accepted.PeerID() != initiator.PeerID() {
		t.Fatal("target accepted a session from someone else")
	}
	transfer(t, direct, accepted, 64<<10, 1000)
}
