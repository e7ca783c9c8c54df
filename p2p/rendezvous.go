package p2p

import (
	"fmt"
	"net"
	"net/netip"
	"sync"

	"go.uber.org/zap"

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

// Peer is what the rendezvous needs of a connected client: the server's
// RTMFP connection implements it.
type Peer interface {
	comparable
	// ObservedAddr is where the server sees the peer's packets come from.
	ObservedAddr() netip.AddrPort
	// ReportedAddrs are the addresses the peer gave with setPeerInfo.
	ReportedAddrs() []string
	// ForwardIHello sends the peer a Forwarded IHello over its session.
	ForwardIHello(epd []byte, replyTo netip.AddrPort, tag []byte) error
}

// Redirector sends Redirects: an *rtmfp.Endpoint.
type Redirector interface {
	SendRedirect(to netip.AddrPort, tag []byte, addrs []wire.Address) error
}

// Rendezvous is the peer table. Safe for concurrent use; its hooks run on
// the endpoint's read goroutine and only look up, encode and queue.
type Rendezvous[P Peer] struct {
	log *zap.Logger

	mu    sync.RWMutex
	ep    Redirector
	peers map[PeerID]P
}

// NewRendezvous makes an empty peer table.
func NewRendezvous[P Peer](log *zap.Logger) *Rendezvous[P] {
	return &Rendezvous[P]{log: log, peers: make(map[PeerID]P)}
}

// MaxRedirectAddrs bounds a Redirect: the observed address and up to the
// 16 setPeerInfo entries netconn keeps, well under the 1200-byte packet
// limit even if every one is IPv6.
const MaxRedirectAddrs = 17

// SetEndpoint gives the table the endpoint that sends Redirects.
func (r *Rendezvous[P]) SetEndpoint(ep Redirector) {
	r.mu.Lock()
	r.ep = ep
	r.mu.Unlock()
}

// Add enters a connected client; a later session with the same peer ID
// (the client reconnected) replaces the earlier one.
func (r *Rendezvous[P]) Add(id PeerID, p P) {
	r.mu.Lock()
	r.peers[id] = p
	r.mu.Unlock()
}

// Remove forgets a client whose session ended, unless another session
// has taken its peer ID since.
func (r *Rendezvous[P]) Remove(id PeerID, p P) {
	r.mu.Lock()
	if r.peers[id] == p {
		delete(r.peers, id)
	}
	r.mu.Unlock()
}

// Lookup returns the connected client with a peer ID.
func (r *Rendezvous[P]) Lookup(id PeerID) (P, bool) {
	r.mu.RLock()
	defer r.mu.RUnlock()
	p, ok := r.peers[id]
	return p, ok
}

// Len is the number of introducible peers.
func (r *Rendezvous[P]) Len() int {
	r.mu.RLock()
	defer r.mu.RUnlock()
	return len(r.peers)
}

// OnUnmatchedHello is the endpoint's Config.UnmatchedHello hook: an IHello
// naming another peer.
func (r *Rendezvous[P]) OnUnmatchedHello(h *rtmfp.Hello) {
	if !h.HasFingerprint {
		return
	}
	r.mu.RLock()
	target, ok := r.peers[h.Fingerprint]
	ep := r.ep
	r.mu.RUnlock()
	if !ok || ep == nil {
		return
	}
	observed := target.ObservedAddr()
	if observed == h.From {
		return // the peer itself: never introduce a peer to itself
	}
	var buf [MaxRedirectAddrs]wire.Address
	addrs := AppendPeerAddresses(buf[:0], observed, target.ReportedAddrs())
	if err := ep.SendRedirect(h.From, h.Tag, addrs); err != nil {
		r.log.Debug("rendezvous redirect failed", zap.Error(err))
		return
	}
	if err := target.ForwardIHello(h.EPD, h.From, h.Tag); err != nil {
		r.log.Debug("rendezvous forward failed", zap.Error(err))
		return
	}
	if ce := r.log.Check(zap.DebugLevel, "p2p introduction"); ce != nil {
		ce.Write(zap.Stringer("target", PeerID(h.Fingerprint)),
			zap.Stringer("initiator", h.From), zap.Int("addresses", len(addrs)))
	}
}

// AppendPeerAddresses lists where a peer may be reached: its observed
// address first, then each valid, distinct setPeerInfo address. Malformed
// entries (mobile AIR has sent some) are skipped.
func AppendPeerAddresses(dst []wire.Address, observed netip.AddrPort, reported []string) []wire.Address {
	dst = append(dst, wire.Address{AddrPort: observed, Origin: wire.OriginObserved})
	for _, s := range reported {
		if len(dst) == MaxRedirectAddrs {
			break
		}
		ap, err := ParsePeerAddress(s)
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

// ParsePeerAddress parses a setPeerInfo entry: "a.b.c.d:port" or
// "[v6]:port" (the exact IPv6 form Flash uses is unverified; this also
// takes a bare v6 literal followed by ":port"). Unspecified, multicast and
// port-0 addresses are refused.
func ParsePeerAddress(s string) (netip.AddrPort, error) {
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

// ResolveRedirects resolves the configured redirect targets once, at
// listen time, so the read goroutine never waits for DNS.
func ResolveRedirects(targets []string) ([]wire.Address, error) {
	out := make([]wire.Address, 0, len(targets))
	for _, t := range targets {
		ua, err := net.ResolveUDPAddr("udp", t)
		if err != nil {
			return nil, fmt.Errorf("rtmfp redirect_to %q: %w", t, err)
		}
		ap := ua.AddrPort()
		out = append(out, wire.Address{AddrPort: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port()), Origin: wire.OriginRelay})
		if len(out) == MaxRedirectAddrs {
			break
		}
	}
	return out, nil
}

// Redirect returns the endpoint's AcceptHello hook for a redirector
// instance: every handshake (a URL, or our own fingerprint) is answered
// with a Redirect listing the other servers (origin "relay/redirector", as
// MonaServer labels them), and never with an RHello. Clients then send
// their IHello to those servers: the scale-out path for rendezvous, whose
// servers each keep their own peer table. The hook runs before the
// endpoint's per-address handshake rate limit, so Redirects are not
// limited by it; a Redirect is about the size of the IHello it answers
// for a few targets (7 bytes per IPv4 target), which keeps reflection
// through a redirector unprofitable.
func (r *Rendezvous[P]) Redirect(targets []wire.Address) func(*rtmfp.Hello) bool {
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
