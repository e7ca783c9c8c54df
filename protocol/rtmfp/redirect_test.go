package rtmfp

import (
	"context"
	"sync/atomic"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// TestRedirect: an introducer answers an IHello for another peer ID with a
// Redirect (RFC 7016 §3.5.1.4) listing the target's address; the initiator
// adds it to its candidates and completes the handshake with the target.
func TestRedirect(t *testing.T) {
	leakCheck(t)
	target := listen(t, testConfig())
	icfg := testConfig()
	var introducer atomic.Pointer[Endpoint] // the hook may run before Listen returns
	icfg.UnmatchedHello = func(h *Hello) {
		if e := introducer.Load(); e != nil && h.Fingerprint == target.PeerID() {
			_ = e.SendRedirect(h.From, h.Tag, []wire.Address{{AddrPort: addrOf(target), Origin: wire.OriginObserved}})
		}
	}
	introducer.Store(listen(t, icfg))
	initiator := listen(t, testConfig())
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	s, err := initiator.DialPeer(ctx, target.PeerID(), addrOf(introducer.Load()))
	if err != nil {
		t.Fatalf("dial via redirect: %v", err)
	}
	if s.RemoteAddr() != addrOf(target) || s.PeerID() != target.PeerID() {
		t.Fatalf("connected to %v (%x)", s.RemoteAddr(), s.PeerID())
	}
	accepted, err := target.Accept(ctx)
	if err != nil {
		t.Fatal(err)
	}
	transfer(t, s, accepted, 32<<10, 1000)
	s.Close()
}
