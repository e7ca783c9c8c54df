package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strconv"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/protocol/rtmpt"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/hls"
	"github.com/nimbus-media/nimbus/server/httpflv"
	"github.com/nimbus-media/nimbus/server/playpage"
	"github.com/nimbus-media/nimbus/server/rtmfpconn"
	"github.com/nimbus-media/nimbus/server/rtmpconn"
	"github.com/nimbus-media/nimbus/server/webrtc"
)

// accept runs one TCP listener's accept loop until the listener closes.
func (s *Server) accept(ln net.Listener, proto string) error {
	for {
		nc, err := ln.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("%s accept: %w", proto, err)
		}
		release, refusal := s.admit.admit(addrIP(nc.RemoteAddr()), time.Now())
		if refusal != "" {
			s.log.Warn("connection refused", zap.String("proto", proto), zap.String("remote", nc.RemoteAddr().String()),
				zap.String("limit", refusal))
			_ = nc.Close()
			continue
		}
		s.startRTMP(nc, proto, release)
	}
}

// startRTMP serves an RTMP or RTMPS connection; release frees its
// admission slot when it ends.
func (s *Server) startRTMP(nc net.Conn, proto string, release func()) {
	n := s.nextID.Add(1)
	id := strconv.FormatUint(n, 10)
	log := s.log.WithLazy(zap.String("conn", id), zap.String("proto", proto), zap.String("remote", nc.RemoteAddr().String()))
	c := rtmpconn.New(id, nc, proto, s.config().RTMP, log, rtmpconn.Deps{
		Apps: s.apps, Core: s.core.Load(), Refused: s.admit.count, Poller: s.poller,
	})
	s.serveConn(c, release, c.Run)
}

// openRTMPT admits a new RTMPT session as the TCP listeners admit a
// connection, and serves it with the RTMP connection handler.
func (s *Server) openRTMPT(c *rtmpt.Conn) error {
	release, refusal := s.admit.admit(addrIP(c.RemoteAddr()), time.Now())
	if refusal != "" {
		s.log.Warn("connection refused", zap.String("proto", "rtmpt"), zap.String("remote", c.RemoteAddr().String()),
			zap.String("limit", refusal))
		status := http.StatusServiceUnavailable
		if refusal == refusedRate {
			status = http.StatusTooManyRequests
		}
		return &rtmpt.Refusal{Status: status, Reason: refusal}
	}
	s.startRTMP(c, "rtmpt", release)
	return nil
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

// startRTMFP serves an RTMFP session; release frees its admission slot
// when it ends.
func (s *Server) startRTMFP(sess *rtmfp.Session, release func()) {
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	log := s.log.WithLazy(zap.String("conn", id), zap.String("proto", "rtmfp"), zap.String("remote", sess.RemoteAddr().String()))
	c := rtmfpconn.New(id, sess, s.config().RTMFP, log, rtmfpconn.Deps{
		Apps: s.apps, Core: s.core.Load(), Rendezvous: s.rv, Groups: s.groups, Closes: &s.sessions,
	})
	s.serveConn(c, release, c.Run)
}

// playDeps is what the playback listener needs of the server.
func (s *Server) playDeps() httpflv.Deps {
	cfg := s.config()
	var hlsNext http.Handler
	if s.hls != nil {
		hlsNext = s.hls
	}
	return httpflv.Deps{
		// The player page, then HLS.
		Next: playpage.New(s.apps, playpage.Transports{WHEP: s.webrtc != nil, HLS: s.hls != nil}, hlsNext),
		Apps: s.apps,
		Core: s.core.Load,
		Admit: func(remote net.Addr) (func(), bool) {
			release, refusal := s.admit.admit(addrIP(remote), time.Now())
			if refusal != "" {
				s.log.Warn("connection refused", zap.String("proto", "http"), zap.String("remote", remote.String()),
					zap.String("limit", refusal))
				return nil, false
			}
			return release, true
		},
		Track: func(c *httpflv.Conn) (func(), bool) { return s.trackPlayer(c) },
		NewID: func() string { return strconv.FormatUint(s.nextID.Add(1), 10) },
		// The application decides a connect within the scripting
		// bound and each HTTP callback (connect, then play) within
		// its own; a second more for the rest.
		SetupTimeout: cfg.Script.PendingConnectTimeout.Duration + 2*cfg.Auth.CallbackTimeout.Duration + time.Second,
		Route:        s.playRoute(),
	}
}

// newHLS makes the HLS handler of the playback listener, or nil when
// play.hls is off.
func (s *Server) newHLS(cfg config.PlayConfig) *hls.Handler {
	if !cfg.HLS {
		return nil
	}
	return hls.New(hls.Config{
		Segment: cfg.HLSSegment.Duration, Part: cfg.HLSPart.Duration,
		Segments: cfg.HLSSegments, SegmentMaxBytes: cfg.HLSSegmentMaxBytes, Idle: cfg.HLSIdle.Duration,
	}, hls.Deps{
		Apps: s.apps,
		// s.play is set before the listener serves.
		Authorize: func(w http.ResponseWriter, r *http.Request, tg httpflv.Target, proto string) bool {
			return s.play.Authorize(w, r, tg, proto)
		},
		Subscriber: func() media.SubscriberConfig { return s.core.Load().Subscriber },
		Refused:    s.admit.count,
	}, s.log)
}

// playRoute is what the playback listener serves besides HTTP-FLV: WHEP
// and WHIP when WebRTC is on.
func (s *Server) playRoute() func(string) http.Handler {
	if s.webrtc == nil {
		return nil
	}
	return s.webrtc.Route
}

// webrtcDeps is what WebRTC sessions need of the server.
func (s *Server) webrtcDeps() webrtc.Deps {
	d := s.playDeps()
	return webrtc.Deps{
		Apps: s.apps, Core: s.core.Load, NewID: d.NewID, SetupTimeout: d.SetupTimeout,
		Track: func(c webrtc.Closer) (func(), bool) { return s.trackPlayer(c) }, Refused: s.admit.count,
	}
}

// trackPlayer makes an HTTP player or a WebRTC session known to
// shutdown while it lives; the goroutine that serves it calls done. Once shutdown waits for
// the connections, new ones are refused.
func (s *Server) trackPlayer(c closer) (done func(), ok bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.stopping {
		return nil, false
	}
	s.conns[c] = struct{}{}
	s.wg.Add(1)
	return func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		s.wg.Done()
	}, true
}

// serveConn runs a connection, starting on a goroutine of its own, known
// to shutdown while it lives; run calls done, from whichever goroutine
// ends the connection, and release frees its admission slot then.
func (s *Server) serveConn(c closer, release func(), run func(done func())) {
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go run(func() {
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
		release()
		s.wg.Done()
	})
}
