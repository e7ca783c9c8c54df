package server

import (
	"context"
	"errors"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/p2p"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmfp/flashcrypto"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// listenRTMFP opens the RTMFP endpoint on UDP.
func (s *Server) listenRTMFP() (*rtmfp.Endpoint, error) {
	cfg := rtmfp.Config{
		// The certificate offers 2048-bit group 14 first: what Flash uses,
		// and several times cheaper per handshake than group 16, whose
		// 4096-bit exponentiations made joins of many players queue up.
		DHGroups:    []flashcrypto.GroupID{flashcrypto.Group14, flashcrypto.Group16, flashcrypto.Group5, flashcrypto.Group2},
		IdleTimeout: s.cfg.RTMFP.IdleTimeout.Duration,
		// A handshake takes two replies (RHello, RIKeying); the per-IP
		// handshake limit applies to RTMFP before any session exists.
		HelloRate:         2 * s.cfg.Limits.HandshakesPerIPPerSecond,
		KeepaliveInterval: s.cfg.RTMFP.ServerKeepalive.Duration,
		Logger:            s.log.Named("rtmfp"),
		UnmatchedHello:    s.rv.OnUnmatchedHello,
	}
	if len(s.cfg.RTMFP.RedirectTo) > 0 {
		targets, err := p2p.ResolveRedirects(s.cfg.RTMFP.RedirectTo)
		if err != nil {
			return nil, err
		}
		cfg.AcceptHello = s.rv.Redirect(targets)
	}
	ep, err := rtmfp.Listen("udp", s.cfg.RTMFP.Listen, cfg)
	if err != nil {
		return nil, err
	}
	s.rv.SetEndpoint(ep)
	s.rtmfpDone = make(chan struct{})
	return ep, nil
}

func peerID(ep *rtmfp.Endpoint) []byte {
	id := ep.PeerID()
	return id[:]
}

// acceptRTMFP takes sessions until the endpoint closes.
func (s *Server) acceptRTMFP(ctx context.Context) error {
	defer close(s.rtmfpDone)
	for {
		sess, err := s.rtmfpEP.Accept(ctx)
		if err != nil {
			if errors.Is(err, rtmfp.ErrClosed) || ctx.Err() != nil {
				return nil
			}
			return err
		}
		release, refusal := s.admit.admit(rtmfpAddr(sess.RemoteAddr()), time.Now())
		if refusal != "" {
			s.log.Warn("connection refused", zap.String("proto", "rtmfp"), zap.String("remote", sess.RemoteAddr().String()),
				zap.String("limit", refusal))
			go sess.Close()
			continue
		}
		s.startRTMFP(sess, release)
	}
}

func (s *Server) startRTMFP(sess *rtmfp.Session, release func()) {
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	ctx, cancel := context.WithCancelCause(context.Background())
	log := s.log.WithLazy(zap.String("conn", id), zap.String("proto", "rtmfp"), zap.String("remote", sess.RemoteAddr().String()))
	c := &rtmfpConn{id: id, s: sess, cfg: s.config().RTMFP, log: log, ctx: ctx, cancel: cancel, closeWG: &s.sessions,
		flows: make(map[rtmfpFlowKey]*rtmfp.SendFlow), synced: make(map[uint32]bool), waitKey: make(map[uint32]bool)}
	c.core = netconn.NewConn(id, c, s.apps, s.core.Load(), log)
	c.core.Outbox().SetWaker(c)
	c.p2p = newRTMFPPeer(s.rv, s.groups)
	s.serveConn(c, release, func(done func()) {
		defer done()
		c.run()
		s.rv.Remove(c.s.PeerID(), c)
	})
}
