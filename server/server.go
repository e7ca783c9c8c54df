// Package server runs Nimbus: it opens the listeners named in the
// configuration, hands every connection to the shared NetConnection layer
// (package netconn) and shuts everything down when its context ends.
package server

import (
	"context"
	"errors"
	"fmt"
	"net"
	"strconv"
	"sync"
	"sync/atomic"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Server is one running Nimbus.
type Server struct {
	cfg  Config
	log  *zap.Logger
	apps *apps.Registry

	rtmpLn net.Listener
	nextID atomic.Uint64

	mu    sync.Mutex
	conns map[*rtmpConn]struct{}
	wg    sync.WaitGroup
}

// New builds a server from a validated configuration.
func New(cfg Config, log *zap.Logger) *Server {
	names := make([]string, 0, len(cfg.Apps))
	for _, a := range cfg.Apps {
		names = append(names, a.Name)
	}
	return &Server{
		cfg: cfg, log: log, conns: make(map[*rtmpConn]struct{}),
		apps: apps.NewRegistry(apps.Config{Apps: names, Media: media.Config{
			GOPCache:         cfg.Media.GOPCache,
			MaxGOPBytes:      cfg.Media.MaxGOPBytes,
			PublisherTimeout: cfg.Media.PublisherTimeout.Duration,
			AlwaysTakeover:   cfg.Media.AlwaysTakeover,
		}}),
	}
}

// Apps is the server's application registry.
func (s *Server) Apps() *apps.Registry { return s.apps }

// Listen opens the listeners. It is separate from Serve so that callers
// (and tests using port 0) learn the bound addresses first.
func (s *Server) Listen() error {
	ln, err := net.Listen("tcp", s.cfg.RTMP.Listen)
	if err != nil {
		return fmt.Errorf("rtmp listen: %w", err)
	}
	s.rtmpLn = ln
	s.log.Info("rtmp listening", zap.String("addr", ln.Addr().String()))
	return nil
}

// RTMPAddr is the bound RTMP address.
func (s *Server) RTMPAddr() net.Addr { return s.rtmpLn.Addr() }

// Serve accepts connections until ctx ends, then closes every connection
// and returns once they have all finished.
func (s *Server) Serve(ctx context.Context) error {
	if s.rtmpLn == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	go func() {
		<-ctx.Done()
		_ = s.rtmpLn.Close()
	}()
	err := s.acceptRTMP()
	s.mu.Lock()
	for c := range s.conns {
		c.Close(context.Cause(ctx))
	}
	s.mu.Unlock()
	s.wg.Wait()
	if ctx.Err() != nil {
		return nil
	}
	return err
}

func (s *Server) acceptRTMP() error {
	for {
		nc, err := s.rtmpLn.Accept()
		if err != nil {
			if errors.Is(err, net.ErrClosed) {
				return nil
			}
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				continue
			}
			return fmt.Errorf("rtmp accept: %w", err)
		}
		s.startRTMP(nc)
	}
}

func (s *Server) startRTMP(nc net.Conn) {
	id := strconv.FormatUint(s.nextID.Add(1), 10)
	ctx, cancel := context.WithCancelCause(context.Background())
	log := s.log.With(zap.String("conn", id), zap.String("proto", "rtmp"), zap.String("remote", nc.RemoteAddr().String()))
	c := &rtmpConn{id: id, nc: nc, cfg: s.cfg.RTMP, log: log, ctx: ctx, cancel: cancel}
	c.core = netconn.NewConn(id, c, s.apps, netconn.Config{
		FMSVer:        s.cfg.NetConn.FMSVersion,
		MaxStreams:    s.cfg.NetConn.MaxStreams,
		SampleAccess:  s.cfg.Media.SampleAccess,
		ServerVersion: nimbus.Version,
		Subscriber: media.SubscriberConfig{
			MaxBytes: s.cfg.Media.SubscriberQueueBytes,
			MaxLag:   s.cfg.Media.SubscriberMaxLag.Duration,
		},
	}, log)
	s.mu.Lock()
	s.conns[c] = struct{}{}
	s.mu.Unlock()
	s.wg.Add(1)
	go func() {
		defer s.wg.Done()
		c.run()
		s.mu.Lock()
		delete(s.conns, c)
		s.mu.Unlock()
	}()
}
