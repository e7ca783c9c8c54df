package rtmfpconn

import (
	"errors"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/p2p"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/tc"
)

// NetGroup bootstrap over RTMFP (reference rtmfp-flash-profile.md §5).
//
// Groups are scoped per application instance, as in AMS: the same
// groupspec in two applications is two groups (p2p.GroupKey).
//
// A connected client joins a NetGroup by opening a group-control flow
// (metadata "GC") and sending one join message naming the group. The
// server answers on a GC flow returning to it with one 0x0b message per
// neighbour (p2p.NetGroups picks them: a ring by group address plus
// random long links) and sends the newcomer's peer ID to the existing
// members it becomes a neighbour of, on their own GC flows; the members
// then introduce themselves to each other through the rendezvous (§4) and
// run posting, replication and multicast peer to peer. The member leaves
// when its GC flow ends, when its session ends, or when the server
// closes it; the members that become ring neighbours across the gap are
// introduced to each other.
//
// A malformed join, a join past a limit (members per group, groups per
// client) or a second join of the same group is refused by rejecting
// that GC flow only: the client's session and the other members are not
// affected.

// Flow exception code for refused group-control flows.
const rejectGroup = 0x01

// rtmfpPeer is a client's share of the rendezvous and NetGroup state.
type rtmfpPeer struct {
	rv     *p2p.Rendezvous[*Conn]
	groups *p2p.NetGroups

	mu    sync.Mutex
	flows map[p2p.GroupID]*rtmfp.SendFlow // GC return flows by group
}

func newRTMFPPeer(rv *p2p.Rendezvous[*Conn], groups *p2p.NetGroups) *rtmfpPeer {
	return &rtmfpPeer{rv: rv, groups: groups, flows: make(map[p2p.GroupID]*rtmfp.SendFlow)}
}

// acceptGroupControl takes a GC flow from a connected client; flows from
// clients that have not connected are refused.
func (c *Conn) acceptGroupControl(f *rtmfp.RecvFlow) {
	if c.p2p == nil || c.ncRecv.Load() == nil || !c.registered() {
		c.log.Info("group flow refused: not connected")
		f.Reject(rejectGroup)
		return
	}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		c.serveGroupControl(f)
	}()
}

// serveGroupControl runs one GC flow: the join, then membership until the
// flow or the session ends.
func (c *Conn) serveGroupControl(f *rtmfp.RecvFlow) {
	m, err := f.ReadMessage(c.ctx)
	if err != nil {
		return
	}
	c.lastRead.Store(time.Now().UnixNano())
	id, err := p2p.ParseGroupJoin(m.Data)
	if err != nil {
		c.log.Info("group join refused", zap.Error(err))
		f.Reject(rejectGroup)
		return
	}
	out, err := c.s.OpenFlow(tc.GroupControlMetadata, rtmfp.FlowOptions{ReturnFor: f})
	if err != nil {
		f.Reject(rejectGroup)
		return
	}
	p := c.p2p
	p.mu.Lock()
	dup := p.flows[id] != nil
	if !dup {
		p.flows[id] = out
	}
	p.mu.Unlock()
	if dup {
		c.log.Info("group join refused: already a member", zap.Stringer("group", id))
		_ = out.Close()
		f.Reject(rejectGroup)
		return
	}
	inst := c.core.Instance()
	if inst == nil {
		c.log.Info("group join refused: no application instance", zap.Stringer("group", id))
		p.dropFlow(id)
		_ = out.Close()
		f.Reject(rejectGroup)
		return
	}
	key := p2p.GroupKey{Instance: inst.Path(), ID: id}
	peer := p2p.PeerID(c.s.PeerID())
	intros, err := p.groups.Join(key, peer, nil)
	if err != nil {
		c.log.Info("group join refused", zap.Stringer("group", id), zap.Error(err))
		p.dropFlow(id)
		_ = out.Close()
		f.Reject(rejectGroup)
		return
	}
	c.log.Debug("group joined", zap.Stringer("group", id), zap.Int("introductions", len(intros)))
	p.introduce(intros, c.log)
	defer func() {
		p.dropFlow(id)
		p.introduce(p.groups.Leave(key, peer, intros[:0]), c.log)
		_ = out.Close()
		c.log.Debug("group left", zap.Stringer("group", id))
	}()
	// Nothing else on a GC flow concerns the server; read until it ends.
	for {
		if _, err := f.ReadMessage(c.ctx); err != nil {
			return
		}
		c.lastRead.Store(time.Now().UnixNano())
	}
}

// registered reports whether the client is in the peer table under its
// peer ID (its connect was accepted, and no later session took the ID).
func (c *Conn) registered() bool {
	cur, ok := c.p2p.rv.Lookup(c.s.PeerID())
	return ok && cur == c
}

func (p *rtmfpPeer) dropFlow(id p2p.GroupID) {
	p.mu.Lock()
	delete(p.flows, id)
	p.mu.Unlock()
}

func (p *rtmfpPeer) flow(id p2p.GroupID) *rtmfp.SendFlow {
	p.mu.Lock()
	defer p.mu.Unlock()
	return p.flows[id]
}

// introduce sends each introduction on the recipient's GC flow for the
// group. It never waits for another client: a message that finds the
// recipient's flow full (or the recipient gone) is dropped, and the
// overlay's redundancy covers it.
func (p *rtmfpPeer) introduce(intros []p2p.Introduction, log *zap.Logger) {
	var buf [1 + 32]byte
	for _, in := range intros {
		to, ok := p.rv.Lookup(in.To)
		if !ok || to.p2p == nil {
			continue
		}
		f := to.p2p.flow(in.Group)
		if f == nil {
			continue
		}
		if err := f.Write(p2p.AppendGroupMember(buf[:0], in.About), rtmfp.WriteOptions{}); err != nil &&
			!errors.Is(err, rtmfp.ErrClosed) {
			log.Debug("group introduction dropped", zap.Stringer("to", in.To), zap.Error(err))
		}
	}
}
