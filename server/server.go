// Package server runs Nimbus: it opens the listeners named in the
// configuration (package config), admits each connection and hands it to
// its transport's glue (packages rtmpconn and rtmfpconn), which feeds the
// shared NetConnection layer (package netconn), and it shuts everything
// down when its context ends.
package server

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"fmt"
	"net"
	"runtime"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/apps/auth"
	"github.com/nimbus-media/nimbus/apps/script"
	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/p2p"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/hls"
	"github.com/nimbus-media/nimbus/server/httpflv"
	"github.com/nimbus-media/nimbus/server/netconn"
	"github.com/nimbus-media/nimbus/server/rtmfpconn"
	"github.com/nimbus-media/nimbus/server/rtmpconn"
	"github.com/nimbus-media/nimbus/server/webrtc"
	"github.com/nimbus-media/nimbus/web"
)

// closer is what the server needs of a connection at shutdown.
type closer interface {
	// Shutdown tells a connected client NetConnection.Connect.AppShutdown
	// and closes the connection once that is sent.
	Shutdown()
	Close(cause error)
}

// drain tells every client the server is going away and waits, up to the
// shutdown timeout, for their connections to finish.
func (s *Server) drain() {
	s.mu.Lock()
	n := len(s.conns)
	for c := range s.conns {
		c.Shutdown()
	}
	s.mu.Unlock()
	if n == 0 {
		return
	}
	s.log.Info("draining connections", zap.Int("connections", n), zap.Duration("timeout", s.config().ShutdownTimeout.Duration))
	done := make(chan struct{})
	go func() {
		s.wg.Wait()
		close(done)
	}()
	select {
	case <-done:
	case <-time.After(s.config().ShutdownTimeout.Duration):
		s.log.Warn("shutdown timeout: closing the remaining connections")
	}
}

// Server is one running Nimbus.
type Server struct {
	cfg  config.Config
	log  *zap.Logger
	apps *apps.Registry

	core atomic.Pointer[netconn.Config] // for new connections; swapped by Reload
	// authKey signs authmod=adobe salts and challenges. It belongs to the
	// process, not to a configuration, so that a challenge issued just
	// before a reload can still be answered after it.
	authKey []byte
	cfgMu   sync.Mutex // guards cfg against Reload
	rtmpLn  net.Listener
	rtmpsLn net.Listener    // nil when RTMPS is off
	rtmpt   *rtmpconn.RTMPT // nil when RTMPT is off
	rtmfpEP *rtmfp.Endpoint // nil when RTMFP is off
	play    *httpflv.Server // nil when the playback listener is off
	hls     *hls.Handler    // nil when HLS is off
	webrtc  *webrtc.Server  // nil when WebRTC (on the playback listener) is off
	admit   *admission
	nextID  atomic.Uint64
	// batches gathers the fan-outs' RTMP writes into io_uring batches;
	// nil with media.io_uring off.
	batches *egress.BatchPool
	web     *web.Server // nil when http.listen is empty
	webErr  error

	sessions  sync.WaitGroup                   // RTMFP session closes, which outlive their connections
	rtmfpDone chan struct{}                    // closed when the RTMFP accept loop has returned
	rv        *p2p.Rendezvous[*rtmfpconn.Conn] // RTMFP peer table for P2P introductions
	groups    *p2p.NetGroups                   // NetGroup bootstrap membership

	// poller holds the readers of quiet RTMP connections; nil where
	// epoll is missing (each connection then keeps a reader goroutine).
	poller *egress.Poller

	mu    sync.Mutex
	conns map[closer]struct{}
	// stopping refuses new HTTP players once shutdown waits for the
	// connections (wg).
	stopping bool
	wg       sync.WaitGroup
}

// config returns the current configuration.
func (s *Server) config() config.Config {
	s.cfgMu.Lock()
	defer s.cfgMu.Unlock()
	return s.cfg
}

// coreConfig derives the NetConnection layer's settings.
func (s *Server) coreConfig(cfg config.Config) *netconn.Config {
	c := netconn.Config{
		FMSVer:        cfg.NetConn.FMSVersion,
		MaxStreams:    cfg.NetConn.MaxStreams,
		SampleAccess:  cfg.Media.SampleAccess,
		ServerVersion: nimbus.Version,
		Subscriber: media.SubscriberConfig{
			MaxBytes: cfg.Media.SubscriberQueueBytes,
			MaxLag:   cfg.Media.SubscriberMaxLag.Duration,
		},
		Auth:           newAuth(cfg, s.authKey),
		MaxPublishers:  cfg.Limits.PublishersPerConnection,
		MaxAMFDepth:    cfg.Limits.AMFDepth,
		MaxAMFElements: cfg.Limits.AMFElements,
		Refused:        s.admit.count,
		AppsDir:        cfg.AppsDir,
		RecordAll:      make(map[string]bool),
	}.WithDefaults()
	for _, a := range cfg.Apps {
		if a.Record == "all" {
			c.RecordAll[a.Name] = true
		}
	}
	return &c
}

// Reload applies a new configuration without dropping anyone: new
// connections get the new NetConnection settings (authorization, limits,
// queue bounds) and admission limits change at once; connections already
// up keep the settings they started with. Listener addresses, the
// application list and stream-routing settings need a restart, and a
// change to them is logged.
func (s *Server) Reload(cfg config.Config) error {
	if err := cfg.Validate(); err != nil {
		return err
	}
	s.cfgMu.Lock()
	old := s.cfg
	s.cfg.RTMP = cfg.RTMP
	s.cfg.RTMP.Listen = old.RTMP.Listen
	s.cfg.RTMFP = cfg.RTMFP
	s.cfg.RTMFP.Listen = old.RTMFP.Listen
	s.cfg.RTMPT = old.RTMPT
	s.cfg.Play = old.Play
	s.cfg.Limits, s.cfg.Auth, s.cfg.NetConn, s.cfg.ShutdownTimeout = cfg.Limits, cfg.Auth, cfg.NetConn, cfg.ShutdownTimeout
	s.cfgMu.Unlock()
	if cfg.RTMP.Listen != old.RTMP.Listen || cfg.RTMFP.Listen != old.RTMFP.Listen ||
		cfg.RTMPS != old.RTMPS || cfg.RTMPT != old.RTMPT || cfg.HTTP.Listen != old.HTTP.Listen || cfg.Play != old.Play {
		s.log.Warn("listener changes take effect on restart")
	}
	if !sameApps(cfg.Apps, old.Apps) || cfg.Media != old.Media || cfg.AppsDir != old.AppsDir {
		s.log.Warn("application list and media settings take effect on restart; authorization changes apply now")
	}
	s.admit.setConfig(cfg.Limits)
	s.core.Store(s.coreConfig(cfg))
	// Scripts restart in place: their clients and live streams stay.
	s.apps.RestartScripts()
	s.log.Info("configuration reloaded")
	return nil
}

func sameApps(a, b []config.AppConfig) bool {
	if len(a) != len(b) {
		return false
	}
	for i := range a {
		if a[i].Name != b[i].Name {
			return false
		}
	}
	return true
}

// batchWaker finds the transport behind a frame's sink when it can join
// a fan-out share's send batch (egress.Share): an RTMP or HTTP-FLV
// player's. The fan-out knows sinks and batches, the NetConnection layer
// which transport a play writes through; this is where both are in sight.
func batchWaker(s media.Sink) (egress.BatchWaker, bool) {
	w, ok := netconn.SinkWaker(s)
	if !ok {
		return nil, false
	}
	bw, ok := w.(egress.BatchWaker)
	return bw, ok
}

// New builds a server from a validated configuration.
func New(cfg config.Config, log *zap.Logger) *Server {
	names := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		names = append(names, a.Name)
	}
	// Challenges live a minute, so a fresh key per process is enough: a
	// restart fails only the authmod=adobe handshakes under way.
	key := make([]byte, 32)
	_, _ = rand.Read(key)
	s := &Server{
		cfg: cfg, log: log, conns: make(map[closer]struct{}), admit: newAdmission(cfg.Limits), authKey: key,
	}
	s.core.Store(s.coreConfig(cfg))
	s.rv = p2p.NewRendezvous[*rtmfpconn.Conn](log.Named("rendezvous"))
	s.groups = p2p.NewNetGroups(p2p.NetGroupsConfig{MaxMembers: cfg.RTMFP.MaxGroupMembers, MaxGroupsPerPeer: cfg.RTMFP.MaxGroupsPerClient})
	var events apps.Events
	if cfg.HTTP.Listen != "" {
		// The admin server hears about connections and publications from
		// the registry; an error here surfaces from Listen.
		if s.web, s.webErr = web.New(cfg.HTTP.Web(), adminBackend{s}, log.Named("web")); s.webErr == nil {
			events = s.web
		}
	}
	if cfg.Media.IOURing {
		s.batches = egress.NewBatchPool(log.Named("egress"), 8*runtime.GOMAXPROCS(0))
	}
	s.apps = apps.NewRegistry(apps.Config{
		Apps: names, Events: events, Media: media.Config{
			GOPCache:         cfg.Media.GOPCache,
			MaxGOPBytes:      cfg.Media.MaxGOPBytes,
			PublisherTimeout: cfg.Media.PublisherTimeout.Duration,
			AlwaysTakeover:   cfg.Media.AlwaysTakeover,
			MaxStreams:       cfg.Limits.StreamsPerInstance,
			AudioBatch:       cfg.Media.AudioBatch.Duration,
			Fanout: egress.NewFanout(egress.Config{
				MergeWrites: cfg.Media.MergeWrites.Duration,
				MergeAbove:  cfg.Media.MergeAbove,
				Share:       egress.Share(s.batches, batchWaker),
			}),
		},
		Dir:                 cfg.AppsDir,
		IdleTimeout:         cfg.AppIdleTimeout.Duration,
		SharedObjects:       apps.SharedObjectLimits{MaxSlots: cfg.Limits.SharedObjectSlots, MaxBytes: cfg.Limits.SharedObjectBytes},
		KeepClientsOnChange: cfg.AppReloadKeepsClients,
		Log:                 log.Named("apps"),
		Engine: script.NewEngine(script.Config{
			Timeout:        cfg.Script.Timeout.Duration,
			QueueSize:      cfg.Script.Queue,
			PendingTimeout: cfg.Script.PendingConnectTimeout.Duration,
			Subscriber:     s.core.Load().Subscriber,
			Recordings:     s.core.Load().Recordings(),
			Log:            log.Named("script"),
		}),
	})
	return s
}

// newAuth builds the per-application authorization policies; key signs
// authmod=adobe challenges.
func newAuth(cfg config.Config, key []byte) *auth.Manager {
	policies := make(map[string]auth.Policy)
	for _, a := range cfg.Apps {
		p := auth.Policy{
			TokenSecret: a.TokenSecret, TokenPublish: a.TokenPublish, TokenPlay: a.TokenPlay,
			OnConnect: a.OnConnect, OnPublish: a.OnPublish, OnPlay: a.OnPlay, OnDone: a.OnDone,
		}
		if len(a.Users) > 0 {
			p.Users = make(map[string]string, len(a.Users))
			for _, u := range a.Users {
				p.Users[u.Name] = u.Password
			}
		}
		policies[a.Name] = p
	}
	return auth.NewManager(policies, key, cfg.Auth.CallbackTimeout.Duration)
}

// Apps is the server's application registry.
func (s *Server) Apps() *apps.Registry { return s.apps }

// NetGroups is the server's NetGroup membership, for monitoring (group IDs
// and member counts).
func (s *Server) NetGroups() *p2p.NetGroups { return s.groups }

// Listen opens the listeners. It is separate from Serve so that callers
// (and tests using port 0) learn the bound addresses first. If one fails,
// those already open are closed.
func (s *Server) Listen() (err error) {
	defer func() {
		if err != nil {
			s.closeListeners()
		}
	}()
	if s.rtmpLn, err = net.Listen("tcp", s.cfg.RTMP.Listen); err != nil {
		return fmt.Errorf("rtmp listen: %w", err)
	}
	s.log.Info("rtmp listening", zap.String("addr", s.rtmpLn.Addr().String()))
	if s.cfg.RTMPS.Listen != "" {
		if s.rtmpsLn, err = rtmpconn.ListenRTMPS(s.cfg.RTMPS); err != nil {
			return err
		}
		s.log.Info("rtmps listening", zap.String("addr", s.rtmpsLn.Addr().String()))
	}
	if s.cfg.RTMPT.Listen != "" {
		s.rtmpt, err = rtmpconn.ListenRTMPT(s.cfg.RTMPT, s.cfg.RTMP.HandshakeTimeout.Duration, s.openRTMPT, s.log)
		switch {
		case err != nil && rtmpconn.RTMPTOptional(s.cfg.RTMPT.Listen, err):
			s.log.Warn("rtmpt not served", zap.Error(err))
			err = nil
		case err != nil:
			return err
		default:
			s.log.Info("rtmpt listening", zap.String("addr", s.rtmpt.Addr().String()))
		}
	}
	if s.cfg.RTMFP.Listen != "" {
		if s.rtmfpEP, err = rtmfpconn.Listen(s.cfg.RTMFP, s.cfg.Limits.HandshakesPerIPPerSecond, s.rv, s.log); err != nil {
			return err
		}
		s.rtmfpDone = make(chan struct{})
		id := s.rtmfpEP.PeerID()
		s.log.Info("rtmfp listening", zap.String("addr", s.rtmfpEP.LocalAddr().String()),
			zap.String("peer_id", hex.EncodeToString(id[:])))
	}
	if s.cfg.Play.Listen != "" && s.cfg.WebRTC.Enabled {
		if s.webrtc, err = webrtc.New(s.cfg.WebRTC, s.cfg.Play.CORSOrigin, s.webrtcDeps(), s.log); err != nil {
			return err
		}
		if a := s.webrtc.ICETCPAddr(); a != nil {
			s.log.Info("webrtc ice-tcp listening", zap.String("addr", a.String()))
		}
	}
	if s.cfg.Play.Listen != "" {
		s.hls = s.newHLS(s.cfg.Play)
		s.play, err = httpflv.Listen(s.cfg.Play, s.playDeps(), s.log)
		switch {
		case err != nil && httpflv.Optional(s.cfg.Play.Listen, err):
			s.log.Warn("playback not served", zap.Error(err))
			err = nil
			if s.webrtc != nil {
				s.webrtc.Close()
				s.webrtc = nil
			}
		case err != nil:
			return err
		default:
			s.log.Info("play listening", zap.String("addr", s.play.Addr().String()),
				zap.Bool("tls", s.cfg.Play.CertFile != ""))
		}
	}
	return s.listenHTTP()
}

// closeListeners closes the listeners Listen opened and forgets them.
func (s *Server) closeListeners() {
	if s.rtmpLn != nil {
		_ = s.rtmpLn.Close()
		s.rtmpLn = nil
	}
	if s.rtmpsLn != nil {
		_ = s.rtmpsLn.Close()
		s.rtmpsLn = nil
	}
	if s.rtmpt != nil {
		_ = s.rtmpt.Close()
		s.rtmpt = nil
	}
	if s.rtmfpEP != nil {
		_ = s.rtmfpEP.Close()
		s.rtmfpEP = nil
	}
	if s.play != nil {
		_ = s.play.Close()
		s.play = nil
	}
	if s.webrtc != nil {
		s.webrtc.Close()
		s.webrtc = nil
	}
}

// RTMFPAddr is the bound RTMFP (UDP) address, nil when RTMFP is off.
func (s *Server) RTMFPAddr() net.Addr {
	if s.rtmfpEP == nil {
		return nil
	}
	return s.rtmfpEP.LocalAddr()
}

// RTMPAddr is the bound RTMP address.
func (s *Server) RTMPAddr() net.Addr { return s.rtmpLn.Addr() }

// RTMPSAddr is the bound RTMPS address, nil when RTMPS is off.
func (s *Server) RTMPSAddr() net.Addr {
	if s.rtmpsLn == nil {
		return nil
	}
	return s.rtmpsLn.Addr()
}

// PlayAddr is the bound playback (HTTP-FLV) address, nil when it is off.
func (s *Server) PlayAddr() net.Addr {
	if s.play == nil {
		return nil
	}
	return s.play.Addr()
}

// RTMPTAddr is the bound RTMPT (HTTP) address, nil when RTMPT is off.
func (s *Server) RTMPTAddr() net.Addr {
	if s.rtmpt == nil {
		return nil
	}
	return s.rtmpt.Addr()
}

// Serve accepts connections until ctx ends, then closes every connection
// and returns once they have all finished.
func (s *Server) Serve(ctx context.Context) error {
	if s.rtmpLn == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	listeners := map[string]net.Listener{"rtmp": s.rtmpLn}
	if s.rtmpsLn != nil {
		listeners["rtmps"] = s.rtmpsLn
	}
	if !s.config().RTMP.Poller {
		s.log.Info("idle RTMP readers will not park (rtmp.poller off)")
	} else if p, err := egress.NewPoller(); err != nil {
		s.log.Warn("idle RTMP readers will not park", zap.Error(err))
	} else {
		s.poller = p
	}
	errs := make(chan error, len(listeners)+1)
	for proto, ln := range listeners {
		go func() { errs <- s.accept(ln, proto) }()
	}
	if s.rtmfpEP != nil {
		go func() { errs <- s.acceptRTMFP(ctx) }()
	}
	var rtmptDone <-chan error // nil (never ready) with RTMPT off
	if s.rtmpt != nil {
		rtmptDone = s.rtmpt.Serve()
	}
	var playDone <-chan error // likewise with playback off
	if s.play != nil {
		playDone = s.play.Serve()
	}
	webCtx, stopWeb := context.WithCancel(ctx)
	webDone := s.serveHTTP(webCtx)
	// The registry polls application folders and unloads idle instances;
	// it stops, unloading every instance, after the connections are gone.
	appsCtx, stopApps := context.WithCancel(context.Background())
	appsDone := make(chan struct{})
	go func() {
		defer close(appsDone)
		s.apps.Run(appsCtx)
	}()
	var err error
	rtmptEnded, playEnded := false, false
	select {
	case <-ctx.Done():
	case err = <-errs:
	case err = <-rtmptDone:
		rtmptEnded = true
	case err = <-playDone:
		playEnded = true
	}
	for _, ln := range listeners {
		_ = ln.Close()
	}
	if s.play != nil {
		s.play.Refuse()
	}
	// From here on shutdown waits for the connections (wg): a request
	// on a kept-alive playback connection is refused.
	s.mu.Lock()
	s.stopping = true
	s.mu.Unlock()
	if s.rtmpt != nil {
		// RTMPT clients keep polling through the drain: that is how
		// they get their AppShutdown.
		s.rtmpt.Refuse()
	}
	s.drain()
	s.mu.Lock()
	for c := range s.conns {
		c.Close(netconn.ErrShutdown)
	}
	s.mu.Unlock()
	if s.rtmfpEP != nil {
		// Ends the sessions' close handshakes at once (peers get a Close
		// Ack) rather than waiting for each.
		_ = s.rtmfpEP.Close()
		<-s.rtmfpDone
	}
	s.wg.Wait()
	if s.rtmpt != nil {
		s.rtmpt.Stop()
		if !rtmptEnded {
			if rerr := <-rtmptDone; rerr != nil && err == nil {
				err = rerr
			}
		}
	}
	if s.hls != nil {
		s.hls.Close() // answers the requests waiting in the muxers
	}
	if s.play != nil {
		s.play.Stop()
		if !playEnded {
			if perr := <-playDone; perr != nil && err == nil {
				err = perr
			}
		}
	}
	if s.webrtc != nil {
		s.webrtc.Close() // its sessions are gone (wg)
	}
	if s.poller != nil {
		if perr := s.poller.Stop(); perr != nil {
			s.log.Warn("stopping the poller", zap.Error(perr))
		}
	}
	s.sessions.Wait()
	stopApps()
	<-appsDone
	if s.batches != nil {
		s.batches.Close() // no fan-out runs any more
	}
	stopWeb()
	if werr := <-webDone; werr != nil && err == nil {
		err = werr
	}
	if ctx.Err() != nil {
		return nil
	}
	return err
}
