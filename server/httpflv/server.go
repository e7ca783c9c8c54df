// Package httpflv is the glue of the playback transports over HTTP:
// HTTP-FLV (GET /APP/STREAM.flv, or /APP/INSTANCE/STREAM.flv) and the same
// over a WebSocket (WebSocket-FLV). Each request becomes a client of the
// NetConnection layer (package netconn) with a transport of its own
// (Conn), fed the commands an RTMP player would send, so that the same
// authorization applies and the admin API lists and counts it; its play
// is one more media.Sink of the stream. The package also runs the public
// playback listener (Server); admitting connections is the server's.
package httpflv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"net/http"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Deps is what the playback listener needs of the server.
type Deps struct {
	// Apps is the application registry players connect to.
	Apps *apps.Registry
	// Core returns the NetConnection layer's settings for a new player
	// (they change on reload).
	Core func() *netconn.Config
	// Admit decides whether a new TCP connection may start, as for RTMP
	// (connection caps, the handshake rate); release frees its slot.
	Admit func(remote net.Addr) (release func(), ok bool)
	// Track registers a player with the server for shutdown; done
	// forgets it. ok is false once the server is shutting down.
	Track func(c *Conn) (done func(), ok bool)
	// NewID names a new connection.
	NewID func() string
	// SetupTimeout bounds the wait for the application's decisions
	// (connect, play) before a request is answered 504.
	SetupTimeout time.Duration
	// Next, if set, answers the GET requests whose path is not an FLV
	// play's (HLS): the transports share the listener, its admission
	// and its CORS answers.
	Next http.Handler
	// Route, when set, claims the listener's other resources (WebRTC's
	// /whep and /whip): it returns the handler of a path, or nil for
	// HTTP-FLV to serve it.
	Route func(path string) http.Handler
}

// Server is the public playback listener.
type Server struct {
	cfg      config.PlayConfig
	deps     Deps
	log      *zap.Logger
	ln       net.Listener
	http     *http.Server
	upgrader websocket.Upgrader

	refuseOnce sync.Once
	refused    chan struct{} // closed by Refuse
}

// connKey is the request context key of the request's connection.
type connKey struct{}

// Optional reports whether failing to open the playback listener may be
// logged rather than stop the server: only for the built-in address when
// another program holds the port, so that `nimbus serve` with the
// built-in configuration starts anywhere (a second server on one host).
// An address the operator chose fails as any listener does.
func Optional(addr string, err error) bool {
	return addr == config.Defaults().Play.Listen && errors.Is(err, syscall.EADDRINUSE)
}

// Listen opens the playback listener, over TLS when cfg names a
// certificate.
func Listen(cfg config.PlayConfig, d Deps, log *zap.Logger) (*Server, error) {
	var tlsCfg *tls.Config
	if cfg.CertFile != "" {
		cert, err := tls.LoadX509KeyPair(cfg.CertFile, cfg.KeyFile)
		if err != nil {
			return nil, fmt.Errorf("play tls: %w", err)
		}
		// HTTP/1.1 only: a player's response and a WebSocket take
		// their connection over, which HTTP/2 has no way to do.
		tlsCfg = &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12, NextProtos: []string{"http/1.1"}}
	}
	ln, err := net.Listen("tcp", cfg.Listen)
	if err != nil {
		return nil, fmt.Errorf("play listen %s: %w", cfg.Listen, err)
	}
	log = log.Named("play")
	s := &Server{cfg: cfg, deps: d, log: log, refused: make(chan struct{})}
	s.ln = &admissionListener{Listener: ln, admit: d.Admit}
	if tlsCfg != nil {
		s.ln = tls.NewListener(s.ln, tlsCfg)
	}
	s.upgrader = websocket.Upgrader{
		HandshakeTimeout: cfg.WriteTimeout.Duration,
		// Players on any page may read a stream when CORS allows any
		// origin; a configured origin is the only one allowed.
		CheckOrigin: func(r *http.Request) bool {
			o := r.Header.Get("Origin")
			return cfg.CORSOrigin == "*" || o == "" || o == cfg.CORSOrigin
		},
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: cfg.HeaderTimeout.Duration,
		IdleTimeout:       cfg.HeaderTimeout.Duration,
		MaxHeaderBytes:    16 << 10,
		ErrorLog:          zap.NewStdLog(log),
		ConnContext: func(ctx context.Context, nc net.Conn) context.Context {
			return context.WithValue(ctx, connKey{}, nc)
		},
		// TLS is the listener's: no HTTP/2 (see above).
		TLSNextProto: map[string]func(*http.Server, *tls.Conn, http.Handler){},
	}
	return s, nil
}

// Addr is the bound address.
func (s *Server) Addr() net.Addr { return s.ln.Addr() }

// Close closes the listener of a Server that never served.
func (s *Server) Close() error { return s.ln.Close() }

// Serve runs the HTTP server until Refuse; the returned channel reports
// how it ended (nil once refused).
func (s *Server) Serve() <-chan error {
	done := make(chan error, 1)
	go func() {
		err := s.http.Serve(s.ln)
		select {
		case <-s.refused:
			err = nil
		default:
			if errors.Is(err, http.ErrServerClosed) {
				err = nil
			}
		}
		if err != nil {
			err = fmt.Errorf("play serve: %w", err)
		}
		done <- err
	}()
	return done
}

// Refuse closes the listener: no new connections. Players go on until
// the server closes them.
func (s *Server) Refuse() {
	s.refuseOnce.Do(func() {
		close(s.refused)
		_ = s.ln.Close()
	})
}

// Stop closes the connections the HTTP server still has (kept alive
// between requests, or a request being refused), once the players are
// gone.
func (s *Server) Stop() {
	s.Refuse()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
}

// ServeHTTP answers a playback request: CORS preflights, then a play of
// /APP/STREAM.flv or /APP/INSTANCE/STREAM.flv, over a WebSocket when the
// request asks for one.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	// Every answer but a player's is small; a player's response sets
	// its own deadlines once it takes the connection over.
	_ = http.NewResponseController(w).SetWriteDeadline(time.Now().Add(s.cfg.WriteTimeout.Duration))
	h := w.Header()
	if s.cfg.CORSOrigin != "" {
		h.Set("Access-Control-Allow-Origin", s.cfg.CORSOrigin)
	}
	if s.deps.Route != nil {
		if route := s.deps.Route(r.URL.Path); route != nil {
			route.ServeHTTP(w, r)
			return
		}
	}
	switch r.Method {
	case http.MethodOptions:
		h.Set("Access-Control-Allow-Methods", "GET, OPTIONS")
		if rh := r.Header.Get("Access-Control-Request-Headers"); rh != "" {
			h.Set("Access-Control-Allow-Headers", rh)
		}
		h.Set("Access-Control-Max-Age", "86400")
		w.WriteHeader(http.StatusNoContent)
		return
	case http.MethodGet:
	default:
		h.Set("Allow", "GET, OPTIONS")
		http.Error(w, "method not allowed", http.StatusMethodNotAllowed)
		return
	}
	if s.deps.Next != nil && !strings.HasSuffix(r.URL.Path, ".flv") {
		s.deps.Next.ServeHTTP(w, r)
		return
	}
	tg, ok := ParsePath(r.URL.Path)
	if !ok {
		http.Error(w, "not a playback URL: /APP/STREAM.flv or /APP/INSTANCE/STREAM.flv", http.StatusNotFound)
		return
	}
	proto := "http-flv"
	if websocket.IsWebSocketUpgrade(r) {
		proto = "ws-flv"
	}
	c := newConn(s.deps.NewID(), proto, r, tg, s)
	done, ok := s.deps.Track(c)
	if !ok {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		c.cancel(netconn.ErrShutdown)
		return
	}
	defer done()
	c.serve(w)
}

// Authorize asks the application whether request r may play tg, as
// ServeHTTP does for an FLV player but without playing: a client of the
// NetConnection layer whose protocol is proto is fed connect,
// createStream and play, and ends at Play.Start. The application's rules
// (tokens, HTTP callbacks, the script's hooks) decide as for any play. If
// it refuses, the refusal's status has been answered to w and Authorize
// returns false; if it allows, nothing has been written to w.
//
// Transports without a connection of their own (HLS) call it when a
// player starts, and keep what it decided in their own session.
func (s *Server) Authorize(w http.ResponseWriter, r *http.Request, tg Target, proto string) bool {
	c := newConn(s.deps.NewID(), proto, r, tg, s)
	c.check = true
	done, ok := s.deps.Track(c)
	if !ok {
		http.Error(w, "server shutting down", http.StatusServiceUnavailable)
		c.cancel(netconn.ErrShutdown)
		return false
	}
	defer done()
	err := c.run(w)
	if cause := context.Cause(c.ctx); cause != nil {
		err = cause
	}
	c.Close(err)
	c.core.Close()
	if errors.Is(err, errAuthorized) {
		return true
	}
	c.log.Info("player refused", zap.String("stream", tg.Stream), zap.Int("status", c.status), zap.Error(err))
	return false
}

// admissionListener admits each TCP connection as the RTMP listener does,
// closing refused ones at once; an admitted connection frees its slot
// when it closes.
type admissionListener struct {
	net.Listener
	admit func(net.Addr) (func(), bool)
}

func (l *admissionListener) Accept() (net.Conn, error) {
	for {
		nc, err := l.Listener.Accept()
		if err != nil {
			return nil, err
		}
		release, ok := l.admit(nc.RemoteAddr())
		if !ok {
			_ = nc.Close()
			continue
		}
		tcp, _ := nc.(*net.TCPConn)
		return &admitted{Conn: nc, tcp: tcp, release: release}, nil
	}
}

// admitted is an admitted connection. tcp is the socket, which a player's
// writes use directly: net.Buffers writes a vectored write only to the
// net package's own types.
type admitted struct {
	net.Conn
	tcp     *net.TCPConn
	once    sync.Once
	release func()
}

func (a *admitted) Close() error {
	err := a.Conn.Close()
	a.once.Do(a.release)
	return err
}
