package tc

import (
	"context"
	"errors"
	"sync"

	"github.com/nimbus-media/nimbus/protocol/rtmfp"
)

// NetGroup bootstrap, client side (reference rtmfp-flash-profile.md §5.3,
// §5.4): the client opens a group-control ("GC") flow in return to the
// server's NetConnection flow and sends one join message; the server
// answers on a GC flow returning to it with one message per neighbour,
// 0x0b and a 32-byte peer ID. The client then reaches each neighbour by
// peer ID (P2P.Play, rtmfp.Endpoint.DialPeer); NetGroup's own peer
// protocol is outside this package.

// groupMember is the server's neighbour message type.
const groupMember = 0x0b

// GroupControl is one NetGroup membership's flow pair.
type GroupControl struct {
	c   *Client
	out *rtmfp.SendFlow

	mu        sync.Mutex
	in        *rtmfp.RecvFlow
	attached  chan struct{} // closed when the server's GC flow arrives
	neighbors chan [32]byte
}

// JoinGroup opens a GC flow and sends join, the join message (01, a
// length, a tag and the group ID: p2p.AppendGroupJoin builds it). Read
// the neighbours the server names with Neighbor; Close leaves the group.
func (c *Client) JoinGroup(join []byte) (*GroupControl, error) {
	c.mu.Lock()
	nc := c.serverNC
	c.mu.Unlock()
	if nc == nil {
		return nil, errors.New("tc: the server has not opened its NetConnection flow")
	}
	out, err := c.s.OpenFlow(GroupControlMetadata, rtmfp.FlowOptions{ReturnFor: nc})
	if err != nil {
		return nil, err
	}
	g := &GroupControl{c: c, out: out, attached: make(chan struct{}), neighbors: make(chan [32]byte, 64)}
	c.groups.Store(out, g)
	if err := out.Write(join, rtmfp.WriteOptions{}); err != nil {
		c.groups.Delete(out)
		return nil, err
	}
	return g, nil
}

// attachGroupFlow routes a GC flow from the server to the membership whose
// flow it returns to; it reports false for flows of no membership.
func (c *Client) attachGroupFlow(f *rtmfp.RecvFlow) bool {
	v, ok := c.groups.Load(f.Association())
	if !ok {
		return false
	}
	g := v.(*GroupControl)
	g.mu.Lock()
	if g.in != nil {
		g.mu.Unlock()
		return false
	}
	g.in = f
	close(g.attached)
	g.mu.Unlock()
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(g.neighbors)
		for {
			m, err := f.ReadMessage(c.ctx)
			if err != nil {
				return
			}
			if len(m.Data) != 33 || m.Data[0] != groupMember {
				continue
			}
			select {
			case g.neighbors <- [32]byte(m.Data[1:]):
			default: // a reader that does not keep up loses introductions
			}
		}
	}()
	return true
}

// Neighbor returns the next peer ID the server names. It fails with
// rtmfp.ErrFlowRejected (wrapped) if the server refused the join, and with
// the flow's error once the server's flow has ended.
func (g *GroupControl) Neighbor(ctx context.Context) ([32]byte, error) {
	select {
	case <-g.attached:
	case <-g.out.Done():
		return [32]byte{}, g.out.Err()
	case <-ctx.Done():
		return [32]byte{}, ctx.Err()
	}
	select {
	case id, ok := <-g.neighbors:
		if !ok {
			return [32]byte{}, rtmfp.ErrClosed
		}
		return id, nil
	case <-g.out.Done():
		return [32]byte{}, g.out.Err()
	case <-ctx.Done():
		return [32]byte{}, ctx.Err()
	}
}

// Refused returns a channel closed when the join's flow has ended (the
// server rejects the flow to refuse a join); Err then says why.
func (g *GroupControl) Refused() <-chan struct{} { return g.out.Done() }

// Err is the GC flow's error once it has ended.
func (g *GroupControl) Err() error { return g.out.Err() }

// Close leaves the group.
func (g *GroupControl) Close() error {
	g.c.groups.Delete(g.out)
	return g.out.Close()
}
