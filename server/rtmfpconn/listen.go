package rtmfpconn

import (
	"context"
	"sync"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/p2p"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Listen opens the RTMFP endpoint on UDP. handshakesPerIP
// (limits.handshakes_per_ip_per_second) bounds the handshake replies to
// one address; rv answers the handshakes that name a client rather than
// the server, and learns the endpoint.
func Listen(cfg config.RTMFPConfig, handshakesPerIP int, rv *p2p.Rendezvous[*Conn], log *zap.Logger) (*rtmfp.Endpoint, error) {
	ecfg := rtmfp.Config{
		// The certificate offers 2048-bit group 14 first: what Flash uses,
		// and several times cheaper per handshake than group 16, whose
		// 4096-bit exponentiations made joins of many players queue up.
		DHGroups:    []flashcrypto.GroupID{flashcrypto.Group14, flashcrypto.Group16, flashcrypto.Group5, flashcrypto.Group2},
		IdleTimeout: cfg.IdleTimeout.Duration,
		// A handshake takes two replies (RHello, RIKeying); the per-IP
		// handshake limit applies to RTMFP before any session exists.
		HelloRate:         2 * handshakesPerIP,
		KeepaliveInterval: cfg.ServerKeepalive.Duration,
		Logger:            log.Named("rtmfp"),
		UnmatchedHello:    rv.OnUnmatchedHello,
	}
	if len(cfg.RedirectTo) > 0 {
		targets, err := p2p.ResolveRedirects(cfg.RedirectTo)
		if err != nil {
			return nil, err
		}
		ecfg.AcceptHello = rv.Redirect(targets)
	}
	ep, err := rtmfp.Listen("udp", cfg.Listen, ecfg)
	if err != nil {
		return nil, err
	}
	rv.SetEndpoint(ep)
	return ep, nil
}

// Deps is what an RTMFP connection needs of the server.
type Deps struct {
	// Apps is the application registry the client connects to.
	Apps *apps.Registry
	// Core is the NetConnection layer's settings for the connection.
	Core *netconn.Config
	// Rendezvous is the peer table for P2P introductions, Groups the
	// NetGroup bootstrap membership.
	Rendezvous *p2p.Rendezvous[*Conn]
	Groups     *p2p.NetGroups
	// Closes counts the orderly session closes in progress, which outlive
	// their connections.
	Closes *sync.WaitGroup
}

// New makes the transport of one accepted session; Run serves it.
func New(id string, sess *rtmfp.Session, cfg config.RTMFPConfig, log *zap.Logger, d Deps) *Conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Conn{id: id, s: sess, cfg: cfg, log: log, ctx: ctx, cancel: cancel, closeWG: d.Closes,
		flows: make(map[rtmfpFlowKey]*rtmfp.SendFlow), synced: make(map[uint32]bool), waitKey: make(map[uint32]bool)}
	c.core = netconn.NewConn(id, c, d.Apps, d.Core, log)
	c.core.Outbox().SetWaker(c)
	c.p2p = newRTMFPPeer(d.Rendezvous, d.Groups)
	return c
}

// Run serves the session until it ends, then takes the client out of the
// peer table and calls done.
func (c *Conn) Run(done func()) {
	defer done()
	c.run()
	c.p2p.rv.Remove(c.s.PeerID(), c)
}
