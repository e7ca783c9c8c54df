package server

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/p2p"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
	"github.com/nimbus-media/nimbus/server/config"
)

// joinGroup sends a join message on a new GC flow.
func joinGroup(t *testing.T, c *tc.Client, msg []byte) *tc.GroupControl {
	t.Helper()
	g, err := c.JoinGroup(msg)
	if err != nil {
		t.Fatal(err)
	}
	return g
}

// expectNeighbors reads introductions until every wanted peer ID was
// named; naming the member itself fails the test.
func expectNeighbors(t *testing.T, g *tc.GroupControl, self [32]byte, want ...[32]byte) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	missing := map[[32]byte]bool{}
	for _, w := range want {
		missing[w] = true
	}
	for len(missing) > 0 {
		id, err := g.Neighbor(ctx)
		if err != nil {
			t.Fatalf("waiting for %d neighbours: %v", len(missing), err)
		}
		if id == self {
			t.Fatal("a member was introduced to itself")
		}
		delete(missing, id)
	}
}

// expectRefused waits for the server to reject a GC flow.
func expectRefused(t *testing.T, g *tc.GroupControl, what string) {
	t.Helper()
	select {
	case <-g.Refused():
		if !errors.Is(g.Err(), rtmfp.ErrFlowRejected) {
			t.Fatalf("%s: flow ended with %v, want a rejection", what, g.Err())
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("%s: not refused", what)
	}
}

func peerOf(c *tc.Client) [32]byte { return c.Session().Endpoint().PeerID() }

// TestNetGroupBootstrap (issue 5, test 4 and the server half of NetGroup
// bootstrap): members joining over their GC flows are introduced to each
// other (both ways, never to themselves); malformed joins, joins past the
// member and per-client limits and repeated joins are refused by
// rejecting that flow alone, while the client's session and the other
// members carry on; leaving by flow close or by session end removes the
// member, and the server lists the group with its member count.
func TestNetGroupBootstrap(t *testing.T) {
	ts := startServer(t, func(c *config.Config) {
		c.RTMFP.MaxGroupMembers = 3
		c.RTMFP.MaxGroupsPerClient = 2
	})
	spec, err := p2p.ParseGroupspec("G:027f0201010103010c050e74657374011b00")
	if err != nil {
		t.Fatal(err)
	}
	group := p2p.GroupKey{Instance: "live/_definst_", ID: spec.ID}
	join := p2p.AppendGroupJoin(nil, spec.ID)

	a, b, c := connectPeer(t, ts, nil), connectPeer(t, ts, nil), connectPeer(t, ts, nil)
	ga := joinGroup(t, a, join)
	testtools.WaitFor(t, 5*time.Second, "first member", func() bool { return ts.NetGroups().Members(group) == 1 })
	gb := joinGroup(t, b, join)
	expectNeighbors(t, gb, peerOf(b), peerOf(a))
	expectNeighbors(t, ga, peerOf(a), peerOf(b))

	// Malformed joins: each refused alone.
	bad := connectPeer(t, ts, nil)
	for name, msg := range map[string][]byte{
		"short ID":      append([]byte{p2p.GroupJoin, 0x05, 0x15}, 1, 2, 3, 4),
		"wrong type":    append([]byte{0x02}, join[1:]...),
		"length beyond": append([]byte{p2p.GroupJoin, 0x7f}, join[2:]...),
		"empty raw":     {p2p.GroupJoin, 0x01, 0x10},
	} {
		expectRefused(t, joinGroup(t, bad, msg), name)
	}
	if _, err := bad.CreateStream(); err != nil {
		t.Fatalf("the refused client's session is broken: %v", err)
	}
	// A repeated join on a second flow is refused; the first stays.
	expectRefused(t, joinGroup(t, a, join), "repeated join")

	gc := joinGroup(t, c, join)
	expectNeighbors(t, gc, peerOf(c), peerOf(a), peerOf(b))
	expectNeighbors(t, ga, peerOf(a), peerOf(c))
	expectNeighbors(t, gb, peerOf(b), peerOf(c))

	// Limits: the group is full; a client may be in two groups only.
	expectRefused(t, joinGroup(t, bad, join), "fourth member")
	second, third := p2p.GroupKey{Instance: group.Instance, ID: p2p.GroupID{2}}, p2p.GroupID{3}
	joinGroup(t, a, p2p.AppendGroupJoin(nil, second.ID))
	testtools.WaitFor(t, 5*time.Second, "A in a second group", func() bool { return ts.NetGroups().Members(second) == 1 })
	expectRefused(t, joinGroup(t, a, p2p.AppendGroupJoin(nil, third)), "third group")
	if n := ts.NetGroups().Members(group); n != 3 {
		t.Fatalf("members %d after the refusals, want 3", n)
	}
	stats := ts.NetGroups().Stats()
	if len(stats) != 2 || stats[0] != (p2p.GroupStats{Key: group, Members: 3}) {
		t.Fatalf("group stats %+v", stats)
	}
	if ng := (adminBackend{ts.Server}).NetGroups(); len(ng) != 2 || ng[0].ID != group.ID.String() || ng[0].App != "live" || ng[0].Instance != "_definst_" || ng[0].Members != 3 {
		t.Fatalf("dashboard groups %+v", ng)
	}

	// Leaving: B closes its GC flow, C's session ends.
	if err := gb.Close(); err != nil {
		t.Fatal(err)
	}
	testtools.WaitFor(t, 5*time.Second, "B's leave", func() bool { return ts.NetGroups().Members(group) == 2 })
	_ = c.Close()
	testtools.WaitFor(t, 5*time.Second, "C's session end", func() bool { return ts.NetGroups().Members(group) == 1 })

	// The remaining member is still served: a newcomer meets it.
	gnew := joinGroup(t, bad, join)
	expectNeighbors(t, gnew, peerOf(bad), peerOf(a))
	expectNeighbors(t, ga, peerOf(a), peerOf(bad))
}

// TestNetGroupRefusedBeforeConnect: a GC flow from a session that has not
// connected is refused.
func TestNetGroupRefusedBeforeConnect(t *testing.T) {
	ts := startServer(t, nil)
	ep, err := rtmfp.Listen("udp4", "127.0.0.1:0", rtmfp.Config{})
	if err != nil {
		t.Fatal(err)
	}
	defer ep.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	s, err := ep.Dial(ctx, ts.mfp)
	if err != nil {
		t.Fatal(err)
	}
	f, err := s.OpenFlow(tc.GroupControlMetadata, rtmfp.FlowOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Write(p2p.AppendGroupJoin(nil, p2p.GroupID{1}), rtmfp.WriteOptions{}); err != nil {
		t.Fatal(err)
	}
	select {
	case <-f.Done():
		if !errors.Is(f.Err(), rtmfp.ErrFlowRejected) {
			t.Fatalf("flow ended with %v", f.Err())
		}
	case <-ctx.Done():
		t.Fatal("GC flow before connect not refused")
	}
	if len(ts.NetGroups().Stats()) != 0 {
		t.Fatal("an unconnected session joined a group")
	}
}

// TestNetGroupsPerInstance: the same groupspec joined from two
// application instances makes two groups, as in AMS; members of one are
// never introduced to members of the other.
func TestNetGroupsPerInstance(t *testing.T) {
	ts := startServer(t, nil)
	spec, err := p2p.ParseGroupspec("G:027f0201010103010c050e74657374011b00")
	if err != nil {
		t.Fatal(err)
	}
	join := p2p.AppendGroupJoin(nil, spec.ID)
	live1, live2 := connectPeer(t, ts, nil), connectPeer(t, ts, nil)
	// The URL's last part names a stream, as for nimbus play.
	chat := dialRTMFP(t, ts.mfp+"/room2/s", p2pClientConfig(nil))
	gl1 := joinGroup(t, live1, join)
	gc := joinGroup(t, chat, join)
	gl2 := joinGroup(t, live2, join)
	expectNeighbors(t, gl2, peerOf(live2), peerOf(live1))
	expectNeighbors(t, gl1, peerOf(live1), peerOf(live2))
	testtools.WaitFor(t, 5*time.Second, "both groups", func() bool { return len(ts.NetGroups().Stats()) == 2 })
	live := p2p.GroupKey{Instance: "live/_definst_", ID: spec.ID}
	if n := ts.NetGroups().Members(live); n != 2 {
		t.Fatalf("live's group has %d members, want 2", n)
	}
	if n := ts.NetGroups().Members(p2p.GroupKey{Instance: "live/room2", ID: spec.ID}); n != 1 {
		t.Fatalf("room2's group has %d members, want 1", n)
	}
	// room2's member heard of nobody.
	ctx, cancel := context.WithTimeout(context.Background(), 300*time.Millisecond)
	defer cancel()
	if id, err := gc.Neighbor(ctx); err == nil {
		t.Fatalf("room2's member was introduced to %x from another instance", id)
	}
}
