package p2p

import (
	"bytes"
	"crypto/sha256"
	"encoding/hex"
	"errors"
	"math"
	"math/rand/v2"
	"runtime"
	"slices"
	"strings"
	"testing"
)

// librtmfpSpec is the groupspec of librtmfp's README: version 2, flags
// 01 03 0c 1b, name "test".
const librtmfpSpec = "G:027f0201010103010c050e74657374011b00"

var groupspecTests = []struct {
	name    string
	spec    string
	ident   string
	version uint64
	gname   string
	double  bool
	err     bool
}{
	{name: "librtmfp v2", spec: librtmfpSpec, ident: strings.TrimSuffix(librtmfpSpec, "00"), version: 2, gname: "test", double: true},
	{name: "v1 single hash", spec: "G:027f01040e6f6e6500", ident: "G:027f01040e6f6e65", version: 1, gname: "one"},
	{name: "no version", spec: "G:040e6f6e6500", ident: "G:040e6f6e65", gname: "one"},
	{name: "authorisations excluded", spec: librtmfpSpec + "0d0e7075626c6973682d70617373", ident: strings.TrimSuffix(librtmfpSpec, "00"), version: 2, gname: "test", double: true},
	{name: "empty identity", spec: "G:00", ident: "G:"},
	{name: "no prefix", spec: "027f0200", err: true},
	{name: "odd hex", spec: "G:027f020", err: true},
	{name: "not hex", spec: "G:zz00", err: true},
	{name: "no terminator", spec: "G:027f02", err: true},
	{name: "empty", spec: "G:", err: true},
	{name: "truncated option", spec: "G:057f0200", err: true},
	{name: "bad version value", spec: "G:037f020200", err: true},
	{name: "overlong VLU length", spec: "G:ffffffffffffffffff00", err: true},
	{name: "too long", spec: "G:" + strings.Repeat("0101", MaxGroupspecLen/4) + "00", err: true},
}

func TestParseGroupspec(t *testing.T) {
	for _, tt := range groupspecTests {
		t.Run(tt.name, func(t *testing.T) {
			gs, err := ParseGroupspec(tt.spec)
			if tt.err {
				if !errors.Is(err, ErrGroupspec) {
					t.Fatalf("err = %v, want ErrGroupspec", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if gs.Identity != tt.ident || gs.Version != tt.version || gs.Name != tt.gname {
				t.Fatalf("got identity %q version %d name %q", gs.Identity, gs.Version, gs.Name)
			}
			want := sha256.Sum256([]byte(tt.ident))
			if tt.double {
				want = sha256.Sum256(want[:])
			}
			if gs.ID != GroupID(want) {
				t.Fatalf("ID %s, want %x", gs.ID, want)
			}
		})
	}
}

func TestGroupspecOptions(t *testing.T) {
	gs, err := ParseGroupspec(librtmfpSpec)
	if err != nil {
		t.Fatal(err)
	}
	var types []uint64
	for _, o := range gs.Options {
		types = append(types, o.Type)
	}
	if want := []uint64{0x7f, 0x01, 0x03, 0x0c, 0x0e, 0x1b}; !slices.Equal(types, want) {
		t.Fatalf("option types %x, want %x", types, want)
	}
}

var (
	testGroup  = GroupID(sha256.Sum256([]byte("group")))
	testKey    = GroupKey{Instance: "live/_definst_", ID: testGroup}
	rawJoin    = append([]byte{GroupJoin, 7, joinRawTag}, "G:0a0b"...)
	rawJoinID  = GroupID(sha256.Sum256([]byte("G:0a0b")))
	legacyJoin = append([]byte{GroupJoin, 0x21, 0x0e}, testGroup[:]...)
)

var groupJoinTests = []struct {
	name string
	msg  []byte
	id   GroupID
	err  bool
}{
	{name: "librtmfp 0x15", msg: AppendGroupJoin(nil, testGroup), id: testGroup},
	{name: "other tag with ID", msg: legacyJoin, id: testGroup},
	{name: "raw form hashed once", msg: rawJoin, id: rawJoinID},
	{name: "empty", msg: nil, err: true},
	{name: "wrong type", msg: append([]byte{0x02}, AppendGroupJoin(nil, testGroup)[1:]...), err: true},
	{name: "length too long", msg: append([]byte{GroupJoin, 0x22, 0x15}, testGroup[:]...), err: true},
	{name: "length zero", msg: []byte{GroupJoin, 0}, err: true},
	{name: "short ID", msg: append([]byte{GroupJoin, 0x20, 0x15}, testGroup[:31]...), err: true},
	{name: "trailing bytes", msg: append(AppendGroupJoin(nil, testGroup), 0), err: true},
	{name: "bad VLU", msg: []byte{GroupJoin, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0x15}, err: true},
	{name: "raw empty", msg: []byte{GroupJoin, 1, joinRawTag}, err: true},
	{name: "raw too long", msg: append([]byte{GroupJoin, 0xa0, 0x02, joinRawTag}, make([]byte, 0x1001)...), err: true},
}

func TestParseGroupJoin(t *testing.T) {
	for _, tt := range groupJoinTests {
		t.Run(tt.name, func(t *testing.T) {
			id, err := ParseGroupJoin(tt.msg)
			if tt.err {
				if !errors.Is(err, ErrGroupJoin) {
					t.Fatalf("err = %v, want ErrGroupJoin", err)
				}
				return
			}
			if err != nil || id != tt.id {
				t.Fatalf("got %s, %v; want %s", id, err, tt.id)
			}
		})
	}
}

func TestGroupMessagesAllocs(t *testing.T) {
	msg := AppendGroupJoin(nil, testGroup)
	buf := make([]byte, 0, 64)
	var p PeerID
	if n := testing.AllocsPerRun(100, func() {
		if _, err := ParseGroupJoin(msg); err != nil {
			t.Fatal(err)
		}
		buf = AppendGroupMember(buf[:0], p)
	}); n != 0 {
		t.Fatalf("%v allocations per join parse and member message", n)
	}
	if !bytes.Equal(buf[:1], []byte{GroupMember}) || len(buf) != 33 {
		t.Fatalf("member message % x", buf)
	}
}

func peerN(i int) PeerID {
	var b [8]byte
	for j := range b {
		b[j] = byte(i >> (8 * j))
	}
	return PeerID(sha256.Sum256(b[:]))
}

// overlayClient is what a simulated member knows: the peers it was
// introduced to or introduced to (both become P2P sessions in Flash).
type overlayClient map[PeerID]bool

// applyIntros checks and applies introductions: never a member to
// itself, never about or to a non-member.
func applyIntros(t *testing.T, ng *NetGroups, id GroupID, intros []Introduction, clients map[PeerID]overlayClient) {
	t.Helper()
	for _, in := range intros {
		if in.To == in.About {
			t.Fatalf("%s introduced to itself", in.To)
		}
		if in.Group != id {
			t.Fatalf("introduction for group %s", in.Group)
		}
		c, ok := clients[in.To]
		if !ok || clients[in.About] == nil {
			t.Fatalf("introduction between non-members %s -> %s", in.To, in.About)
		}
		c[in.About] = true
	}
}

// ringRule computes, independently of the skip list, every member's k
// nearest neighbours on each side of the ring by group address.
func ringRule(peers []PeerID, k int) map[PeerID][]PeerID {
	sorted := slices.Clone(peers)
	slices.SortFunc(sorted, func(a, b PeerID) int {
		x, y := GroupAddress(a), GroupAddress(b)
		return bytes.Compare(x[:], y[:])
	})
	out := make(map[PeerID][]PeerID, len(sorted))
	n := len(sorted)
	for i, p := range sorted {
		set := map[PeerID]bool{}
		for d := 1; d <= k && d < n; d++ {
			set[sorted[(i+d)%n]] = true
			set[sorted[(i-d+n)%n]] = true
		}
		for q := range set {
			out[p] = append(out[p], q)
		}
	}
	return out
}

// diameter returns the overlay's diameter by BFS from every member, or -1
// if it is disconnected.
func diameter(adj map[PeerID][]PeerID) int {
	index := make(map[PeerID]int, len(adj))
	for p := range adj {
		index[p] = len(index)
	}
	nbr := make([][]int, len(index))
	for p, ns := range adj {
		for _, q := range ns {
			nbr[index[p]] = append(nbr[index[p]], index[q])
		}
	}
	dist := make([]int, len(nbr))
	queue := make([]int, 0, len(nbr))
	diam := 0
	for s := range nbr {
		for i := range dist {
			dist[i] = -1
		}
		dist[s] = 0
		queue = append(queue[:0], s)
		for h := 0; h < len(queue); h++ {
			u := queue[h]
			for _, v := range nbr[u] {
				if dist[v] < 0 {
					dist[v] = dist[u] + 1
					diam = max(diam, dist[v])
					queue = append(queue, v)
				}
			}
		}
		if len(queue) != len(nbr) {
			return -1
		}
	}
	return diam
}

// TestNetGroupOverlay: 1000 members join one group in random order, some
// leave during the joins and some vanish afterwards (their sessions time
// out). At the end every member's neighbour set follows the rule (its
// ring neighbours by group address, k each side, plus its long links; it
// was introduced to all of them; never itself), and the overlay is
// connected with diameter at most log2(N)+2.
func TestNetGroupOverlay(t *testing.T) {
	const (
		total = 1000
		k     = 3
	)
	ng := NewNetGroups(NetGroupsConfig{RingNeighbors: k, RandomLinks: 2, Seed: 7})
	rng := rand.New(rand.NewPCG(1, 2))
	order := rng.Perm(total)
	clients := map[PeerID]overlayClient{}
	var intros []Introduction
	var joined []PeerID
	for step, i := range order {
		p := peerN(i)
		clients[p] = overlayClient{}
		var err error
		intros, err = ng.Join(testKey, p, intros[:0])
		if err != nil {
			t.Fatal(err)
		}
		applyIntros(t, ng, testGroup, intros, clients)
		joined = append(joined, p)
		if step%10 == 9 { // one in ten leaves on its own
			j := rng.IntN(len(joined))
			gone := joined[j]
			joined = slices.Delete(joined, j, j+1)
			intros = ng.Leave(testKey, gone, intros[:0])
			delete(clients, gone)
			applyIntros(t, ng, testGroup, intros, clients)
		}
	}
	for range 50 { // vanish: session loss noticed later
		j := rng.IntN(len(joined))
		gone := joined[j]
		joined = slices.Delete(joined, j, j+1)
		delete(clients, gone)
		intros = ng.Leave(testKey, gone, intros[:0])
		applyIntros(t, ng, testGroup, intros, clients)
	}
	n := len(joined)
	if got := ng.Members(testKey); got != n {
		t.Fatalf("members %d, want %d", got, n)
	}
	g := ng.groups[testKey]
	ring := ringRule(joined, k)
	adj := make(map[PeerID][]PeerID, n)
	for _, p := range joined {
		nb := ng.Neighbors(testKey, p, nil)
		adj[p] = nb
		set := map[PeerID]bool{}
		for _, q := range nb {
			if q == p {
				t.Fatalf("%s is its own neighbour", p)
			}
			if clients[q] == nil {
				t.Fatalf("%s has departed neighbour %s", p, q)
			}
			if !clients[p][q] {
				t.Fatalf("%s was never introduced to its neighbour %s", p, q)
			}
			set[q] = true
		}
		for _, q := range ring[p] {
			if !set[q] {
				t.Fatalf("%s lacks ring neighbour %s", p, q)
			}
		}
		m := g.byPeer[p]
		if m.nLinks > 2 || len(m.linkedBy) > maxInFactor*2 {
			t.Fatalf("%s has %d links and %d incoming", p, m.nLinks, len(m.linkedBy))
		}
		// Exactly the rule: ring ∪ own links ∪ incoming links.
		want := map[PeerID]bool{}
		for _, q := range ring[p] {
			want[q] = true
		}
		for _, l := range m.links[:m.nLinks] {
			want[l.peer] = true
		}
		for _, l := range m.linkedBy {
			want[l.peer] = true
		}
		if len(want) != len(set) {
			t.Fatalf("%s: neighbour set of %d, rule gives %d", p, len(set), len(want))
		}
	}
	d := diameter(adj)
	limit := int(math.Log2(float64(n))) + 2
	if d < 0 || d > limit {
		t.Fatalf("overlay diameter %d (limit %d, -1 = disconnected)", d, limit)
	}
	t.Logf("%d members, diameter %d (limit %d)", n, d, limit)
}

// TestNetGroupRingOnlyConnected: without long links the ring alone keeps
// the group connected through churn.
func TestNetGroupRingOnlyConnected(t *testing.T) {
	ng := NewNetGroups(NetGroupsConfig{RingNeighbors: 2, RandomLinks: -1, Seed: 3})
	var peers []PeerID
	for i := range 60 {
		peers = append(peers, peerN(i))
		if _, err := ng.Join(testKey, peerN(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	for i := 0; i < 60; i += 3 {
		ng.Leave(testKey, peerN(i), nil)
		peers = slices.DeleteFunc(peers, func(p PeerID) bool { return p == peerN(i) })
	}
	adj := map[PeerID][]PeerID{}
	for _, p := range peers {
		adj[p] = ng.Neighbors(testKey, p, nil)
		if len(adj[p]) != 4 {
			t.Fatalf("%s has %d neighbours, want 4", p, len(adj[p]))
		}
	}
	if diameter(adj) < 0 {
		t.Fatal("ring disconnected")
	}
}

func TestNetGroupSmallGroups(t *testing.T) {
	ng := NewNetGroups(NetGroupsConfig{RingNeighbors: 3, Seed: 1})
	for n := 1; n <= 8; n++ {
		intros, err := ng.Join(testKey, peerN(n), nil)
		if err != nil {
			t.Fatal(err)
		}
		got := 0
		for _, in := range intros {
			if in.To == in.About {
				t.Fatal("self introduction")
			}
			if in.To == peerN(n) {
				got++
			}
		}
		// The newcomer hears about everyone while the group is small.
		if want := min(n-1, 6); n <= 7 && got < want {
			t.Fatalf("member %d introduced to %d peers, want at least %d", n, got, want)
		}
	}
	if _, err := ng.Join(testKey, peerN(1), nil); err != nil {
		t.Fatalf("second join: %v", err)
	}
	if ng.Members(testKey) != 8 {
		t.Fatalf("members %d after a repeated join", ng.Members(testKey))
	}
}

func TestNetGroupLimits(t *testing.T) {
	ng := NewNetGroups(NetGroupsConfig{MaxMembers: 3, MaxGroupsPerPeer: 2, Seed: 1})
	g2 := GroupKey{Instance: testKey.Instance, ID: GroupID{2}}
	g3 := GroupKey{Instance: testKey.Instance, ID: GroupID{3}}
	for i := range 3 {
		if _, err := ng.Join(testKey, peerN(i), nil); err != nil {
			t.Fatal(err)
		}
	}
	if _, err := ng.Join(testKey, peerN(9), nil); !errors.Is(err, ErrGroupFull) {
		t.Fatalf("fourth member: %v", err)
	}
	if _, err := ng.Join(g2, peerN(0), nil); err != nil {
		t.Fatal(err)
	}
	if _, err := ng.Join(g3, peerN(0), nil); !errors.Is(err, ErrTooManyGroups) {
		t.Fatalf("third group: %v", err)
	}
	if ng.Members(g3) != 0 {
		t.Fatal("refused join created a group")
	}
	stats := ng.Stats()
	if len(stats) != 2 || stats[0] != (GroupStats{Key: testKey, Members: 3}) || stats[1] != (GroupStats{Key: g2, Members: 1}) {
		t.Fatalf("stats %+v", stats)
	}
	ng.Leave(g2, peerN(0), nil)
	ng.Leave(g2, peerN(0), nil) // not a member any more: no-op
	ng.Leave(g3, peerN(0), nil) // no such group: no-op
	if _, err := ng.Join(g3, peerN(0), nil); err != nil {
		t.Fatalf("join after leaving: %v", err)
	}
	if len(ng.Stats()) != 2 {
		t.Fatalf("empty group kept: %+v", ng.Stats())
	}
}

func TestGroupAddress(t *testing.T) {
	var p PeerID
	p[0] = 0xab
	want := sha256.Sum256(append([]byte{0x21, 0x0f}, p[:]...))
	if GroupAddress(p) != want {
		t.Fatal("group address is not SHA-256(21 0f || peer ID)")
	}
	if p.String() != hex.EncodeToString(p[:]) {
		t.Fatal("peer ID string")
	}
}

func FuzzParseGroupspec(f *testing.F) {
	for _, tt := range groupspecTests {
		f.Add(tt.spec)
	}
	f.Fuzz(func(t *testing.T, spec string) {
		gs, err := ParseGroupspec(spec)
		if err != nil {
			if !errors.Is(err, ErrGroupspec) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		if !strings.HasPrefix(spec, gs.Identity) || !strings.HasPrefix(spec[len(gs.Identity):], "00") {
			t.Fatalf("identity %q is not the prefix before 00 of %q", gs.Identity, spec)
		}
		again, err := ParseGroupspec(gs.Identity + "00")
		if err != nil || again.ID != gs.ID {
			t.Fatalf("identity alone parses to %v, %v", again.ID, err)
		}
	})
}

func FuzzParseGroupJoin(f *testing.F) {
	for _, tt := range groupJoinTests {
		f.Add(tt.msg)
	}
	f.Fuzz(func(t *testing.T, msg []byte) {
		id, err := ParseGroupJoin(msg)
		if err != nil {
			if !errors.Is(err, ErrGroupJoin) {
				t.Fatalf("unwrapped error %v", err)
			}
			return
		}
		// The ID is the message's last 32 bytes, or the hash of its raw tail.
		if len(msg) >= 32 && GroupID(msg[len(msg)-32:]) == id {
			return
		}
		for i := range msg {
			if GroupID(sha256.Sum256(msg[i:])) == id {
				return
			}
		}
		t.Fatalf("ID %s is neither carried nor hashed from % x", id, msg)
	})
}

// BenchmarkNetGroupJoin joins 100,000 members to one group per iteration
// and reports joins per second and heap bytes per member.
func BenchmarkNetGroupJoin(b *testing.B) {
	const members = 100000
	peers := make([]PeerID, members)
	for i := range peers {
		peers[i] = peerN(i)
	}
	b.ReportAllocs()
	var intros []Introduction
	var perMember float64
	for b.Loop() {
		var before, after runtime.MemStats
		runtime.GC()
		runtime.ReadMemStats(&before)
		ng := NewNetGroups(NetGroupsConfig{Seed: 1})
		for _, p := range peers {
			var err error
			if intros, err = ng.Join(testKey, p, intros[:0]); err != nil {
				b.Fatal(err)
			}
		}
		runtime.GC()
		runtime.ReadMemStats(&after)
		perMember = float64(after.HeapAlloc-before.HeapAlloc) / members
		runtime.KeepAlive(ng)
	}
	b.ReportMetric(float64(b.N*members)/b.Elapsed().Seconds(), "joins/s")
	b.ReportMetric(perMember, "B/member")
}

// BenchmarkNetGroupChurn measures a leave and a join in a group of
// 100,000.
func BenchmarkNetGroupChurn(b *testing.B) {
	const members = 100000
	ng := NewNetGroups(NetGroupsConfig{Seed: 1})
	for i := range members {
		if _, err := ng.Join(testKey, peerN(i), nil); err != nil {
			b.Fatal(err)
		}
	}
	var intros []Introduction
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		intros = ng.Leave(testKey, peerN(i), intros[:0])
		intros, _ = ng.Join(testKey, peerN(i+members), intros[:0])
		i++
	}
}

// The same groupspec in two application instances makes two groups: a
// member of one is never introduced to a member of the other (AMS scopes
// NetGroups per instance).
func TestNetGroupsScopedPerInstance(t *testing.T) {
	ng := NewNetGroups(NetGroupsConfig{Seed: 1})
	a := GroupKey{Instance: "live/_definst_", ID: testGroup}
	b := GroupKey{Instance: "chat/_definst_", ID: testGroup}
	var intros []Introduction
	for i := range 4 {
		key := a
		if i%2 == 1 {
			key = b
		}
		var err error
		if intros, err = ng.Join(key, peerN(i), intros[:0]); err != nil {
			t.Fatal(err)
		}
		for _, in := range intros {
			// Even peers are in a, odd ones in b.
			if (peerIndex(t, in.To)+peerIndex(t, in.About))%2 != 0 {
				t.Fatalf("%s introduced to %s across instances", in.To, in.About)
			}
		}
	}
	if ng.Members(a) != 2 || ng.Members(b) != 2 {
		t.Fatalf("members %d and %d, want 2 and 2", ng.Members(a), ng.Members(b))
	}
	if st := ng.Stats(); len(st) != 2 || st[0].Key != b || st[1].Key != a {
		t.Fatalf("stats %+v", st)
	}
}

func peerIndex(t *testing.T, p PeerID) int {
	t.Helper()
	for i := range 4 {
		if peerN(i) == p {
			return i
		}
	}
	t.Fatalf("unknown peer %s", p)
	return -1
}
