package p2p

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"sort"
	"sync"
)

// NetGroup bootstrap (reference rtmfp-flash-profile.md §5).
//
// Flash's NetGroup runs peer to peer: posting, routing, object replication
// and multicast streams travel between members over their own RTMFP
// sessions. What a rendezvous server owes a group is the bootstrap: it
// keeps each group's membership and, when a member joins, hands it peer IDs
// to introduce itself to (and hands the newcomer's ID to some existing
// members), so that every member ends up in one connected overlay. Flash
// then maintains its own topology from there.
//
// The overlay the server builds follows one rule, chosen so that it is
// connected and of low diameter whatever the join order (Cumulus handed out
// only recent joiners, and large groups split, Cumulus issue #93):
//
//   - Ring: members are ordered by their group address, SHA-256(0x21 0x0f
//     || peer ID), the position NetGroup itself uses (MonaServer2
//     Group::exchange, librtmfp buildPeerID). Every member is a neighbour of
//     the RingNeighbors members nearest it on each side.
//   - Long links: every member also links to RandomLinks members chosen
//     uniformly at random when it joins; when a link's target leaves, a
//     fresh random target replaces it. A member accepts at most
//     4×RandomLinks incoming long links, which bounds its memory.
//
// A member's neighbour set is its ring neighbours, its own long links and
// the long links that point at it; a member is never its own neighbour.
// The ring alone guarantees connectivity; the random links make it an
// expander-like graph whose diameter grows as log N (the tests check it
// stays within log2(N)+2).
//
// Every overlay edge the server creates is announced to both of its ends
// (an Introduction each way), as MonaServer2 tells existing neighbours
// about a newcomer and Cumulus tells the newcomer about members: whichever
// side reaches the other first wins, and Flash merges the two attempts.
// Leaving needs no message to the departed member's neighbours (Flash
// notices the end of a P2P session by itself), but the ring closes over
// the gap: the members that become ring neighbours are introduced, and
// long links that pointed at the departed member are re-drawn.

// NetGroupsConfig bounds and shapes the groups.
type NetGroupsConfig struct {
	// MaxMembers caps one group's members. Default 100000.
	MaxMembers int
	// MaxGroupsPerPeer caps the groups one peer may be in. Default 16.
	MaxGroupsPerPeer int
	// RingNeighbors is the number of ring neighbours on each side.
	// Default 3 (MonaServer2's choice).
	RingNeighbors int
	// RandomLinks is the number of random long links per member, at most
	// 4. Default 2; negative disables them (a ring only, for tests).
	RandomLinks int
	// Seed seeds the choice of long links (tests make it reproducible);
	// zero seeds from the runtime's random source.
	Seed uint64
}

func (c NetGroupsConfig) withDefaults() NetGroupsConfig {
	if c.MaxMembers <= 0 {
		c.MaxMembers = 100000
	}
	if c.MaxGroupsPerPeer <= 0 {
		c.MaxGroupsPerPeer = 16
	}
	if c.RingNeighbors <= 0 {
		c.RingNeighbors = 3
	}
	c.RingNeighbors = min(c.RingNeighbors, maxRing)
	if c.RandomLinks < 0 {
		c.RandomLinks = 0
	} else if c.RandomLinks == 0 {
		c.RandomLinks = 2
	}
	c.RandomLinks = min(c.RandomLinks, maxLinks)
	return c
}

// maxLinks is the most long links a member holds, and maxInFactor×
// RandomLinks the most that may point at one member.
const (
	maxLinks    = 4
	maxInFactor = 4
)

// Introduction asks a member to contact another: the server sends About's
// peer ID to To on To's group-control flow.
type Introduction struct {
	Group GroupID
	To    PeerID
	About PeerID
}

// GroupKey names a group within the server. As in AMS, NetGroups are
// scoped per application instance: the same groupspec used in two
// applications (or two instances of one) makes two groups whose members
// never meet.
type GroupKey struct {
	// Instance is the application instance's path ("app/instance").
	Instance string
	ID       GroupID
}

// GroupStats describes a group for monitoring.
type GroupStats struct {
	Key     GroupKey
	Members int
}

// NetGroups is the membership of every group a server bootstraps. It is
// transport-free: Join and Leave return the introductions to send. Safe
// for concurrent use.
type NetGroups struct {
	cfg NetGroupsConfig

	mu     sync.Mutex
	rng    *rand.Rand
	groups map[GroupKey]*group
	joined map[PeerID]int // groups per peer
}

// NewNetGroups makes an empty set of groups.
func NewNetGroups(cfg NetGroupsConfig) *NetGroups {
	cfg = cfg.withDefaults()
	seed := cfg.Seed
	if seed == 0 {
		seed = rand.Uint64()
	}
	return &NetGroups{
		cfg:    cfg,
		rng:    rand.New(rand.NewPCG(seed, seed^0x6a09e667f3bcc909)),
		groups: make(map[GroupKey]*group),
		joined: make(map[PeerID]int),
	}
}

// Join adds peer to group and appends to dst the introductions that link
// it into the overlay. Joining a group twice is a no-op. It fails with
// ErrGroupFull or ErrTooManyGroups past the limits, changing nothing.
func (ng *NetGroups) Join(key GroupKey, peer PeerID, dst []Introduction) ([]Introduction, error) {
	ng.mu.Lock()
	defer ng.mu.Unlock()
	g := ng.groups[key]
	if g != nil && g.byPeer[peer] != nil {
		return dst, nil
	}
	if g != nil && len(g.members) >= ng.cfg.MaxMembers {
		return dst, fmt.Errorf("%w: %d members", ErrGroupFull, len(g.members))
	}
	if ng.joined[peer] >= ng.cfg.MaxGroupsPerPeer {
		return dst, fmt.Errorf("%w: %d groups", ErrTooManyGroups, ng.joined[peer])
	}
	if g == nil {
		g = newGroup(key.ID, ng)
		ng.groups[key] = g
	}
	ng.joined[peer]++
	return g.join(peer, dst), nil
}

// Leave removes peer from group (a no-op if it is not a member) and
// appends the introductions that close the gap it leaves. Empty groups
// are deleted.
func (ng *NetGroups) Leave(key GroupKey, peer PeerID, dst []Introduction) []Introduction {
	ng.mu.Lock()
	defer ng.mu.Unlock()
	g := ng.groups[key]
	if g == nil {
		return dst
	}
	m := g.byPeer[peer]
	if m == nil {
		return dst
	}
	dst = g.leave(m, dst)
	if len(g.members) == 0 {
		delete(ng.groups, key)
	}
	if ng.joined[peer]--; ng.joined[peer] <= 0 {
		delete(ng.joined, peer)
	}
	return dst
}

// Members is the number of members of group.
func (ng *NetGroups) Members(key GroupKey) int {
	ng.mu.Lock()
	defer ng.mu.Unlock()
	if g := ng.groups[key]; g != nil {
		return len(g.members)
	}
	return 0
}

// Stats lists the groups and their member counts, largest first.
func (ng *NetGroups) Stats() []GroupStats {
	ng.mu.Lock()
	out := make([]GroupStats, 0, len(ng.groups))
	for key, g := range ng.groups {
		out = append(out, GroupStats{Key: key, Members: len(g.members)})
	}
	ng.mu.Unlock()
	sort.Slice(out, func(i, j int) bool {
		if out[i].Members != out[j].Members {
			return out[i].Members > out[j].Members
		}
		if out[i].Key.Instance != out[j].Key.Instance {
			return out[i].Key.Instance < out[j].Key.Instance
		}
		return string(out[i].Key.ID[:]) < string(out[j].Key.ID[:])
	})
	return out
}

// Neighbors appends peer's neighbour set in group, as the server built it:
// its ring neighbours and the long links from and to it.
func (ng *NetGroups) Neighbors(key GroupKey, peer PeerID, dst []PeerID) []PeerID {
	ng.mu.Lock()
	defer ng.mu.Unlock()
	g := ng.groups[key]
	if g == nil || g.byPeer[peer] == nil {
		return dst
	}
	m := g.byPeer[peer]
	start := len(dst)
	add := func(o *member) {
		if o == m {
			return
		}
		for _, p := range dst[start:] {
			if p == o.peer {
				return
			}
		}
		dst = append(dst, o.peer)
	}
	g.ring(m, add)
	for _, l := range m.links[:m.nLinks] {
		add(l)
	}
	for _, l := range m.linkedBy {
		add(l)
	}
	return dst
}

// Skip list parameters: level i+1 holds a quarter of level i's members,
// which costs 1.33 forward pointers per member on average.
const (
	maxLevel = 16
	levelP   = 4
)

// member is one peer in one group: a skip-list node ordered by its group
// address, with its long links.
type member struct {
	peer PeerID
	addr [32]byte
	next []*member // forward pointers, one per level
	prev *member   // level-0 predecessor, nil for the first
	idx  int       // position in group.members

	links    [maxLinks]*member
	nLinks   int
	linkedBy []*member // members whose long links point here
}

// group is one NetGroup's members: a skip list for ring order and a dense
// slice for uniform random choice.
type group struct {
	id      GroupID
	ng      *NetGroups
	head    member // sentinel: head.next[i] is level i's first member
	level   int
	members []*member
	byPeer  map[PeerID]*member
	update  [maxLevel]*member // scratch for insert and remove
}

func newGroup(id GroupID, ng *NetGroups) *group {
	g := &group{id: id, ng: ng, level: 1, byPeer: make(map[PeerID]*member)}
	g.head.next = make([]*member, maxLevel)
	return g
}

func (g *group) randomLevel() int {
	l := 1
	for l < maxLevel && g.ng.rng.IntN(levelP) == 0 {
		l++
	}
	return l
}

// less orders members by group address, then peer ID (addresses collide
// only if SHA-256 does).
func less(a *member, addr *[32]byte, peer *PeerID) bool {
	if c := compare32(&a.addr, addr); c != 0 {
		return c < 0
	}
	return compare32((*[32]byte)(&a.peer), (*[32]byte)(peer)) < 0
}

func compare32(a, b *[32]byte) int {
	for i := 0; i < 32; i += 8 {
		x, y := binary.BigEndian.Uint64(a[i:]), binary.BigEndian.Uint64(b[i:])
		if x != y {
			if x < y {
				return -1
			}
			return 1
		}
	}
	return 0
}

// succ and pred walk the ring (the list wraps around).
func (g *group) succ(m *member) *member {
	if n := m.next[0]; n != nil {
		return n
	}
	return g.head.next[0]
}

func (g *group) pred(m *member) *member {
	if m.prev != nil {
		return m.prev
	}
	return g.last()
}

func (g *group) last() *member {
	x := &g.head
	for i := g.level - 1; i >= 0; i-- {
		for x.next[i] != nil {
			x = x.next[i]
		}
	}
	if x == &g.head {
		return nil
	}
	return x
}

// ring calls fn for each of m's ring neighbours: up to k on each side,
// each once, never m itself.
func (g *group) ring(m *member, fn func(*member)) {
	k := g.ng.cfg.RingNeighbors
	n := len(g.members) - 1 // others
	if n <= 0 {
		return
	}
	if n <= 2*k {
		for _, o := range g.members {
			if o != m {
				fn(o)
			}
		}
		return
	}
	s, p := m, m
	for i := 0; i < k; i++ {
		s, p = g.succ(s), g.pred(p)
		fn(s)
		fn(p)
	}
}

func (g *group) join(peer PeerID, dst []Introduction) []Introduction {
	m := &member{peer: peer, addr: GroupAddress(peer)}
	g.insert(m)
	g.byPeer[peer] = m
	m.idx = len(g.members)
	g.members = append(g.members, m)
	// Every ring neighbour is a new edge (the newcomer had none).
	g.ring(m, func(o *member) { dst = g.introduce(dst, m, o) })
	for range g.ng.cfg.RandomLinks {
		if t := g.pickLink(m); t != nil {
			g.link(m, t)
			dst = g.introduce(dst, m, t)
		}
	}
	return dst
}

func (g *group) leave(m *member, dst []Introduction) []Introduction {
	k := g.ng.cfg.RingNeighbors
	// Members at distance i before and j after m become ring neighbours
	// when i+j = k+1: they were k+1 apart, now k. With fewer than 2k+2
	// members everyone already neighboured everyone.
	if len(g.members) >= 2*k+2 {
		var before, after [maxRing]*member
		p, s := m, m
		for i := 0; i < k; i++ {
			p, s = g.pred(p), g.succ(s)
			before[i], after[i] = p, s
		}
		for i := 1; i <= k; i++ {
			dst = g.introduce(dst, before[i-1], after[k-i])
		}
	}
	g.remove(m)
	delete(g.byPeer, m.peer)
	last := g.members[len(g.members)-1]
	g.members[m.idx], last.idx = last, m.idx
	g.members[len(g.members)-1] = nil
	g.members = g.members[:len(g.members)-1]
	for _, t := range m.links[:m.nLinks] {
		t.unlinkFrom(m)
	}
	for _, from := range m.linkedBy {
		from.dropLink(m)
		if t := g.pickLink(from); t != nil {
			g.link(from, t)
			dst = g.introduce(dst, from, t)
		}
	}
	return dst
}

// maxRing bounds RingNeighbors for the fixed scratch arrays.
const maxRing = 16

// introduce announces the edge a–b to both ends.
func (g *group) introduce(dst []Introduction, a, b *member) []Introduction {
	return append(dst, Introduction{Group: g.id, To: a.peer, About: b.peer}, Introduction{Group: g.id, To: b.peer, About: a.peer})
}

// pickLink draws a random long-link target for m: not m, not one of its
// links, not a member already holding its share of incoming links. A few
// draws suffice; giving up leaves m a link short until its next repair.
func (g *group) pickLink(m *member) *member {
	n := len(g.members)
	if n < 2 || m.nLinks >= g.ng.cfg.RandomLinks {
		return nil
	}
	maxIn := maxInFactor * g.ng.cfg.RandomLinks
draw:
	for range 8 {
		t := g.members[g.ng.rng.IntN(n)]
		if t == m || len(t.linkedBy) >= maxIn {
			continue
		}
		for _, l := range m.links[:m.nLinks] {
			if l == t {
				continue draw
			}
		}
		return t
	}
	return nil
}

func (g *group) link(from, to *member) {
	from.links[from.nLinks] = to
	from.nLinks++
	to.linkedBy = append(to.linkedBy, from)
}

func (m *member) dropLink(t *member) {
	for i, l := range m.links[:m.nLinks] {
		if l == t {
			m.nLinks--
			m.links[i], m.links[m.nLinks] = m.links[m.nLinks], nil
			return
		}
	}
}

func (m *member) unlinkFrom(from *member) {
	for i, l := range m.linkedBy {
		if l == from {
			last := len(m.linkedBy) - 1
			m.linkedBy[i], m.linkedBy[last] = m.linkedBy[last], nil
			m.linkedBy = m.linkedBy[:last]
			return
		}
	}
}

// insert links m into the skip list at its address.
func (g *group) insert(m *member) {
	x := &g.head
	for i := g.level - 1; i >= 0; i-- {
		for x.next[i] != nil && less(x.next[i], &m.addr, &m.peer) {
			x = x.next[i]
		}
		g.update[i] = x
	}
	lvl := g.randomLevel()
	for i := g.level; i < lvl; i++ {
		g.update[i] = &g.head
	}
	g.level = max(g.level, lvl)
	m.next = make([]*member, lvl)
	for i := 0; i < lvl; i++ {
		m.next[i] = g.update[i].next[i]
		g.update[i].next[i] = m
	}
	if g.update[0] != &g.head {
		m.prev = g.update[0]
	}
	if n := m.next[0]; n != nil {
		n.prev = m
	}
	clear(g.update[:])
}

// remove unlinks m from the skip list.
func (g *group) remove(m *member) {
	x := &g.head
	for i := g.level - 1; i >= 0; i-- {
		for x.next[i] != nil && x.next[i] != m && less(x.next[i], &m.addr, &m.peer) {
			x = x.next[i]
		}
		g.update[i] = x
	}
	for i := range m.next {
		g.update[i].next[i] = m.next[i]
	}
	if n := m.next[0]; n != nil {
		n.prev = m.prev
	}
	for g.level > 1 && g.head.next[g.level-1] == nil {
		g.level--
	}
	clear(g.update[:])
}
