package rtmfpconn

import (
	"encoding/hex"
	"net/netip"

	"github.com/nimbus-media/nimbus/amf"
)

// An RTMFP client is a rendezvous peer (package p2p): once its connect is
// accepted, other peers can be introduced to it by its peer ID.

// ObservedAddr implements p2p.Peer: the client's address as we see it.
func (c *Conn) ObservedAddr() netip.AddrPort { return c.s.RemoteAddr() }

// ReportedAddrs implements p2p.Peer: the client's setPeerInfo addresses.
func (c *Conn) ReportedAddrs() []string { return c.core.PeerAddresses() }

// ForwardIHello implements p2p.Peer over the client's session.
func (c *Conn) ForwardIHello(epd []byte, replyTo netip.AddrPort, tag []byte) error {
	return c.s.ForwardIHello(epd, replyTo, tag)
}

// FarID implements the monitoring hook netconn looks for: the client's
// peer ID in hex (NetConnection.farID on the server side).
func (c *Conn) FarID() string {
	id := c.s.PeerID()
	return hex.EncodeToString(id[:])
}

// ConnectInfo implements netconn's connect-result hook. Flash computes
// nearID and farID itself from the handshake; like tcserver we also
// report them in the result (connectionID: the client's peer ID,
// serverFingerprint: ours) for clients that cannot, and from here on the
// client can be introduced to peers.
func (c *Conn) ConnectInfo() []amf.Property {
	server := c.s.Endpoint().PeerID()
	if c.p2p != nil {
		c.p2p.rv.Add(c.s.PeerID(), c)
	}
	return []amf.Property{
		{Key: "connectionID", Value: c.FarID()},
		{Key: "serverFingerprint", Value: hex.EncodeToString(server[:])},
	}
}
