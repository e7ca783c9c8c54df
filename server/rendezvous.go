package server

import (
	"encoding/hex"
	"fmt"
	"net"
	"net/netip"
	"sync"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/wire"
)

// Rendezvous: the service Adobe's Cirrus gave Flash P2P applications
// (reference rtmfp-flash-profile.md §4).
//
// Every RTMFP client whose connect the server accepted is entered in a
// peer table under its peer ID (the SHA-256 of its certificate, which the
// connect result reports as connectionID). A client that wants to reach
// another sends an IHello to the server whose endpoint discriminator is
// the other's peer ID. The server then does two things, as tcserver does:
//
//   - It answers the initiator with a Redirect listing the target's
//     addresses: first the address the server sees the target's packets
//     come from (origin "observed"), then the addresses the target
//     reported with setPeerInfo (origin "reported"), which is what lets
//     two peers behind the same NAT meet on their LAN.
//   - It forwards the IHello to the target inside the target's session
//     (Forwarded IHello, with the initiator's observed address), so the
//     target answers the initiator directly and its NAT opens toward it.
//
// IHellos naming an unknown peer are ignored, never answered (a Redirect
// would confirm or deny who is online to anyone). A peer is never
// introduced to itself: an IHello from the target's own address is
// ignored. Once the two peers have keyed their session, the server sees
// nothing of it.
type rendezvous struct {
	log *zap.Logger

	mu    sync.RWMutex
	ep    *rtmfp.Endpoint
	peers map[apps.PeerID]*rtmfpConn
}

func newRendezvous(log *zap.Logger) *rendezvous {
	return &rendezvous{log: log, peers: make(map[apps.PeerID]*rtmfpConn)}
}

// maxRedirectAddrs bounds a Redirect: the observed address and up to the
// 16 setPeerInfo entries netconn keeps, well under the 1200-byte packet
// limit even if every one is IPv6.
const maxRedirectAddrs = 17

// setEndpoint gives the table the endpoint that sends Redirects.
func (r *rendezvous) setEndpoint(ep *rtmfp.Endpoint) {
	r.mu.Lock()
	r.ep = ep
	r.mu.Unlock()
}

// add enters a connected client; a later session with the same peer ID
// (the client reconnected) replaces the earlier one.
func (r *rendezvous) add(c *rtmfpConn) {
	r.mu.Lock()
	r.peers[c.s.PeerID()] = c
	r.mu.Unlock()
}

// remove forgets a client whose session ended.
func (r *rendezvous) remove(c *rtmfpConn) {
	id := apps.PeerID(c.s.PeerID())
	r.mu.Lock()
	if r.peers[id] == c {
		delete(r.peers, id)
	}
	r.mu.Unlock()
}

// lookup returns the connected client with a peer ID.
func (r *rendezvous) lookup(id apps.PeerID) *rtmfpConn {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return r.peers[id]
}

// size is the number of introducible peers.
func (r *rendezvous) size() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.peers)
}

// onUnmatchedHello is the endpoint's Config.UnmatchedHello hook: an IHello
// naming another peer. It runs on the endpoint's read goroutine, so it
// only looks up, encodes and queues.
func (r *rendezvous) onUnmatchedHello(h *rtmfp.Hello) {
	if !h.HasFingerprint {
		return
	}
	r.mu.RLock()
	target, ep := r.peers[h.Fingerprint], r.ep
	r.mu.RUnlock()
	if target == nil || ep == nil {
		return
	}
	observed := target.s.RemoteAddr()
	if observed == h.From {
		return // the peer itself: never introduce a peer to itself
	}
	var buf [maxRedirectAddrs]wire.Address
	addrs := appendPeerAddresses(buf[:0], observed, target.core.PeerAddresses())
	if err := ep.SendRedirect(h.From, h.Tag, addrs); err != nil {
		r.log.Debug("rendezvous redirect failed", zap.Error(err))
		return
	}
	if err := target.s.ForwardIHello(h.EPD, h.From, h.Tag); err != nil {
		r.log.Debug("rendezvous forward failed", zap.Error(err))
		return
	}
	if ce := r.log.Check(zap.DebugLevel, "p2p introduction"); ce != nil {
		ce.Write(zap.String("target", hex.EncodeToString(h.Fingerprint[:])),
			zap.Stringer("initiator", h.From), zap.Int("addresses", len(addrs)))
	}
}

// appendPeerAddresses lists where a peer may be reached: its observed
// address first, then each valid, distinct setPeerInfo address. Malformed
// entries (mobile AIR has sent some) are skipped.
func appendPeerAddresses(dst []wire.Address, observed netip.AddrPort, reported []string) []wire.Address {
	dst = append(dst, wire.Address{AddrPort: observed, Origin: wire.OriginObserved})
	for _, s := range reported {
		if len(dst) == maxRedirectAddrs {
			break
		}
		ap, err := parsePeerAddress(s)
		if err != nil || ap == observed {
			continue
		}
		dup := false
		for _, a := range dst {
			dup = dup || a.AddrPort == ap
		}
		if !dup {
			dst = append(dst, wire.Address{AddrPort: ap, Origin: wire.OriginReported})
		}
	}
	return dst
}

// parsePeerAddress parses a setPeerInfo entry: "a.b.c.d:port" or
// "[v6]:port" (the exact IPv6 form Flash uses is unverified; this also
// takes a bare v6 literal followed by ":port"). Unspecified, multicast and
// port-0 addresses are refused.
func parsePeerAddress(s string) (netip.AddrPort, error) {
	ap, err := netip.ParseAddrPort(s)
	if err != nil {
		host, port, serr := net.SplitHostPort(s)
		if serr != nil {
			return netip.AddrPort{}, err
		}
		if ap, err = netip.ParseAddrPort("[" + host + "]:" + port); err != nil {
			return netip.AddrPort{}, err
		}
	}
	ap = netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
	if ap.Port() == 0 || ap.Addr().IsUnspecified() || ap.Addr().IsMulticast() || ap.Addr().Zone() != "" {
		return netip.AddrPort{}, fmt.Errorf("unusable peer address %q", s)
	}
	return ap, nil
}

// FarID implements the monitoring hook netconn looks for: the client's
// peer ID in hex (NetConnection.farID on the server side).
func (c *rtmfpConn) FarID() string {
	id := c.s.PeerID()
	return hex.EncodeToString(id[:])
}

// ConnectInfo implements netconn's connect-result hook. Flash computes
// nearID and farID itself from the handshake; like tcserver we also
// report them in the result (connectionID: the client's peer ID,
// serverFingerprint: ours) for clients that cannot, and from here on the
// client can be introduced to peers.
func (c *rtmfpConn) ConnectInfo() []amf.Property {
	server := c.s.Endpoint().PeerID()
	if c.p2p != nil {
		c.p2p.rv.add(c)
	}
	return []amf.Property{
		{Key: "connectionID", Value: c.FarID()},
		{Key: "serverFingerprint", Value: hex.EncodeToString(server[:])},
	}
}

// resolveRedirects resolves the configured redirect targets once, at
// listen time, so the read goroutine never waits for DNS.
func resolveRedirects(targets []string) ([]wire.Address, error) {
	out := make([]wire.Address, 0, len(targets))
	for _, t := range targets {
		ua, err := net.ResolveUDPAddr("udp", t)
		if err != nil {
			return nil, fmt.Errorf("rtmfp redirect_to %q: %w", t, err)
		}
		ap := ua.AddrPort()
		out = append(out, wire.Address{AddrPort: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Origin: wire.OriginRelay})
		if len(out) == maxRedirectAddrs {
			break
		}
	}
	return out, nil
}

// redirector returns the endpoint's AcceptHello hook for a redirector
// instance: every handshake (a URL, or our own fingerprint) is answered
// with a Redirect listing the other servers (origin "relay/redirector", as
// MonaServer labels them), and never with an RHello. Clients then send
// their IHello to those servers: the scale-out path for rendezvous, whose
// servers each keep their own peer table. The hook runs before the
// endpoint's per-address handshake rate limit, so Redirects are not
// limited by it; a Redirect is about the size of the IHello it answers
// for a few targets (7 bytes per IPv4 target), which keeps reflection
// through a redirector unprofitable.
func (r *rendezvous) redirector(targets []wire.Address) func(*rtmfp.Hello) bool {
	return func(h *rtmfp.Hello) bool {
		r.mu.RLock()
		ep := r.ep
		r.mu.RUnlock()
		if ep != nil {
			if err := ep.SendRedirect(h.From, h.Tag, targets); err != nil {
				r.log.Debug("redirect failed", zap.Error(err))
			}
		}
		return false
	}
}
