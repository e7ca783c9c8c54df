package web

import (
	"context"
	"crypto/tls"
	"embed"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"net/http/pprof"
	"strings"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
)

//go:embed ui
var uiFiles embed.FS

// Config configures the admin server.
type Config struct {
	// Listen is the HTTP listen address.
	Listen string
	// User and PasswordHash (HashPassword's format) are the admin login,
	// for the dashboard, basic auth and the AMS API's auser/apswd.
	User         string
	PasswordHash string
	// TokenSHA256 is the hex SHA-256 of a bearer token for scripts
	// (HashToken).
	TokenSHA256 string
	// SessionTTL is how long a dashboard login lasts (default 12 h).
	SessionTTL time.Duration
	// Version is reported as the server version.
	Version string
	// StatsInterval is the period of live snapshots (default 1 s).
	StatsInterval time.Duration
	// QueueLen bounds each dashboard's queue of unsent messages (default 64).
	QueueLen int
	// WriteTimeout bounds one WebSocket write (default 10 s).
	WriteTimeout time.Duration
	// CertFile and KeyFile (PEM), when set, serve HTTPS instead of HTTP.
	CertFile, KeyFile string
}

func (c Config) withDefaults() Config {
	if c.StatsInterval <= 0 {
		c.StatsInterval = time.Second
	}
	if c.QueueLen <= 0 {
		c.QueueLen = 64
	}
	if c.WriteTimeout <= 0 {
		c.WriteTimeout = 10 * time.Second
	}
	return c
}

// HaveCredentials reports whether c configures any way to log in.
func (c Config) HaveCredentials() bool { return c.PasswordHash != "" || c.TokenSHA256 != "" }

// Validate checks the credentials' format and refuses a non-loopback
// listener without them.
func (c Config) Validate() error {
	if _, err := newAuth(c); err != nil {
		return err
	}
	return CheckListen(c.Listen, c.HaveCredentials())
}

// eventQueue bounds events waiting for the pump; past it events are
// dropped (and counted) rather than blocking the connection that caused them.
const eventQueue = 1024

// Server is the admin HTTP server: dashboard, JSON API, live events, AMS
// admin API, metrics and pprof. It also implements apps.Events, so the
// application registry reports to it directly.
type Server struct {
	cfg     Config
	log     *zap.Logger
	backend Backend
	auth    *auth
	stats   *sampler
	// history keeps the ticks' statistics for dashboards that open later.
	history *history
	hub     *hub
	mux     *http.ServeMux
	events  chan queuedEvent
	// eventsDropped counts events lost to a full queue.
	eventsDropped atomic.Uint64

	ln net.Listener
}

var _ apps.Events = (*Server)(nil)

// New builds the admin server over b.
func New(cfg Config, b Backend, log *zap.Logger) (*Server, error) {
	if err := cfg.Validate(); err != nil {
		return nil, err
	}
	cfg = cfg.withDefaults()
	a, err := newAuth(cfg)
	if err != nil {
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, backend: b, auth: a,
		stats:   newSampler(b, cfg.Version, time.Now()),
		history: &history{},
		hub:     newHub(cfg.QueueLen, cfg.WriteTimeout, log),
		mux:     http.NewServeMux(),
		events:  make(chan queuedEvent, eventQueue),
	}
	s.routes()
	return s, nil
}

func (s *Server) routes() {
	ui, _ := fs.Sub(uiFiles, "ui")
	static := http.FileServerFS(ui)
	m := s.mux
	m.Handle("GET /ui/", http.StripPrefix("/ui/", static))
	m.HandleFunc("GET /login", s.loginPage)
	m.HandleFunc("POST /login", s.login)
	m.HandleFunc("POST /logout", s.logout)
	m.HandleFunc("GET /{$}", s.dashboard)

	m.Handle("GET /api/v1/session", s.authed(false, s.sessionInfo))
	m.Handle("GET /api/v1/server", s.authed(false, s.getServer))
	m.Handle("GET /api/v1/stats/history", s.authed(false, s.getStatsHistory))
	m.Handle("GET /api/v1/apps", s.authed(false, s.getApps))
	m.Handle("POST /api/v1/apps/{app}/reload", s.authed(true, s.reloadApp))
	m.Handle("POST /api/v1/apps/{app}/unload", s.authed(true, s.unloadApp))
	m.Handle("GET /api/v1/clients", s.authed(false, s.getClients))
	m.Handle("GET /api/v1/clients/{id}", s.authed(false, s.getClient))
	m.Handle("DELETE /api/v1/clients/{id}", s.authed(true, s.disconnectClient))
	m.Handle("GET /api/v1/streams", s.authed(false, s.getStreams))
	m.Handle("GET /api/v1/streams/{app}/{instance}/{name...}", s.authed(false, s.getStream))
	m.Handle("DELETE /api/v1/streams/{app}/{instance}/{name...}", s.authed(true, s.stopStream))
	// One path segment for the name here ({name...} must end a pattern):
	// a name with slashes is sent with them escaped (%2F).
	m.Handle("POST /api/v1/streams/{app}/{instance}/{name}/record", s.authed(true, s.startRecording))
	m.Handle("DELETE /api/v1/streams/{app}/{instance}/{name}/record", s.authed(true, s.stopRecording))
	m.Handle("GET /api/v1/recordings", s.authed(false, s.getRecordings))
	m.Handle("GET /api/v1/recordings/{app}/{instance}/{file...}", s.authed(false, s.downloadRecording))
	m.Handle("GET /api/v1/sharedobjects", s.authed(false, s.getSharedObjects))
	m.Handle("GET /api/v1/netgroups", s.authed(false, s.getNetGroups))
	m.Handle("GET /api/v1/events", s.authed(false, s.eventsSocket))
	m.Handle("/api/", s.authed(false, func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no such API endpoint: "+r.Method+" "+r.URL.Path)
	}))

	m.HandleFunc("GET /admin/{method}", s.amsAdmin)
	m.HandleFunc("POST /admin/{method}", s.amsAdmin)
	m.Handle("GET /metrics", s.authed(false, s.metricsHandler().ServeHTTP))

	m.Handle("GET /debug/pprof/", s.authed(false, pprof.Index))
	m.Handle("GET /debug/pprof/cmdline", s.authed(false, pprof.Cmdline))
	m.Handle("GET /debug/pprof/profile", s.authed(false, pprof.Profile))
	m.Handle("GET /debug/pprof/symbol", s.authed(false, pprof.Symbol))
	m.Handle("GET /debug/pprof/trace", s.authed(false, pprof.Trace))
}

// Handler is the server's HTTP handler, for tests and embedding.
func (s *Server) Handler() http.Handler { return securityHeaders(s.mux, s.backend) }

// Listen opens the listener, so that callers learn the bound address
// before Serve.
func (s *Server) Listen() error {
	var cert tls.Certificate
	if s.cfg.CertFile != "" || s.cfg.KeyFile != "" {
		var err error
		if cert, err = tls.LoadX509KeyPair(s.cfg.CertFile, s.cfg.KeyFile); err != nil {
			return fmt.Errorf("http tls: %w", err)
		}
	}
	ln, err := net.Listen("tcp", s.cfg.Listen)
	if err != nil {
		return fmt.Errorf("http listen: %w", err)
	}
	if cert.Certificate != nil {
		ln = tls.NewListener(ln, &tls.Config{Certificates: []tls.Certificate{cert}, MinVersion: tls.VersionTLS12})
	}
	s.ln = ln
	s.log.Info("admin http listening", zap.String("addr", ln.Addr().String()), zap.Bool("open", s.auth.open()))
	return nil
}

// Addr is the bound address, nil before Listen.
func (s *Server) Addr() net.Addr {
	if s.ln == nil {
		return nil
	}
	return s.ln.Addr()
}

// Serve serves HTTP and the live updates until ctx ends, then closes every
// connection, WebSocket ones included, and returns.
func (s *Server) Serve(ctx context.Context) error {
	if s.ln == nil {
		if err := s.Listen(); err != nil {
			return err
		}
	}
	hs := &http.Server{
		Handler:           s.Handler(),
		ReadHeaderTimeout: 10 * time.Second,
		IdleTimeout:       2 * time.Minute,
		MaxHeaderBytes:    64 << 10,
		ErrorLog:          zap.NewStdLog(s.log.Named("http")),
	}
	pctx, stopPump := context.WithCancel(ctx)
	defer stopPump()
	pumpDone := make(chan struct{})
	go func() {
		defer close(pumpDone)
		s.pump(pctx)
	}()
	errc := make(chan error, 1)
	go func() { errc <- hs.Serve(s.ln) }()
	var err error
	select {
	case <-ctx.Done():
	case err = <-errc:
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	// Shutdown does not know hijacked (WebSocket) connections: the hub
	// closes those.
	s.hub.shutdown()
	if serr := hs.Shutdown(sctx); serr != nil {
		_ = hs.Close()
	}
	if err == nil {
		err = <-errc
	}
	stopPump()
	<-pumpDone
	if errors.Is(err, http.ErrServerClosed) {
		err = nil
	}
	return err
}

// pump records a stats snapshot every interval, sends it to the dashboards
// and sends each event as it comes.
func (s *Server) pump(ctx context.Context) {
	tick := time.NewTicker(s.cfg.StatsInterval)
	defer tick.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case now := <-tick.C:
			// Sampled with or without dashboards: rates, metrics and the
			// history stay current.
			snap := s.stats.sample(now)
			s.history.add(snap)
			if s.hub.count() > 0 {
				s.broadcast(snap)
			}
		case q := <-s.events:
			ev := q.ev
			if q.client != nil {
				// The registry reports a client with locks held, some of
				// them the client's own: its snapshot is taken here.
				info := q.client.Info()
				if ev.Type == "disconnect" {
					s.stats.clientLeft(info)
				}
				ci := NewClientInfo(info)
				ev.Client = &ci
			}
			if s.hub.count() > 0 {
				s.broadcast(ev)
			}
		}
	}
}

func (s *Server) broadcast(v any) {
	msg, err := json.Marshal(v)
	if err != nil {
		s.log.Error("encode live update", zap.Error(err))
		return
	}
	s.hub.broadcast(msg)
}

// queuedEvent is an event waiting for the pump; client, when set, is
// asked for its snapshot there.
type queuedEvent struct {
	ev     Event
	client apps.Client
}

// emit queues an event without blocking.
func (s *Server) emit(ev Event, c apps.Client) {
	select {
	case s.events <- queuedEvent{ev: ev, client: c}:
	default:
		s.eventsDropped.Add(1)
	}
}

// ClientConnected implements apps.Events.
func (s *Server) ClientConnected(inst *apps.Instance, c apps.Client) {
	s.emit(Event{Type: "connect", Time: time.Now(), App: inst.Path()}, c)
}

// ClientDisconnected implements apps.Events.
func (s *Server) ClientDisconnected(inst *apps.Instance, c apps.Client) {
	s.emit(Event{Type: "disconnect", Time: time.Now(), App: inst.Path()}, c)
}

// StreamPublished implements apps.Events.
func (s *Server) StreamPublished(inst *apps.Instance, name string) {
	s.emit(Event{Type: "publish", Time: time.Now(), App: inst.Path(), Stream: name}, nil)
}

// StreamUnpublished implements apps.Events.
func (s *Server) StreamUnpublished(inst *apps.Instance, name string) {
	s.emit(Event{Type: "unpublish", Time: time.Now(), App: inst.Path(), Stream: name}, nil)
}

// NewClientInfo converts an application registry snapshot.
func NewClientInfo(c apps.ClientInfo) ClientInfo {
	return ClientInfo{
		ID: c.ID, Protocol: c.Protocol, Address: c.RemoteAddr, Agent: c.Agent, App: c.App,
		Since: c.Since, BytesIn: c.BytesIn, BytesOut: c.BytesOut,
		RTTMillis: float64(c.RTT) / float64(time.Millisecond),
	}
}

// NewStreamInfo converts a stream snapshot of app/instance.
func NewStreamInfo(app, instance string, si media.StreamInfo) StreamInfo {
	by := si.SubscribersByProtocol
	if by == nil {
		by = map[string]int{}
	}
	return StreamInfo{
		App: app, Instance: instance, Name: si.Name, Published: si.Published, Since: si.Since,
		VideoCodec: si.VideoCodec, AudioCodec: si.AudioCodec,
		Width: si.Stats.Width, Height: si.Stats.Height, FrameRate: si.Stats.FrameRate,
		Bitrate: si.Stats.Bitrate, VideoBitrate: si.Stats.VideoBitrate, AudioBitrate: si.Stats.AudioBitrate,
		KeyframeInterval: si.Stats.KeyframeInterval.Seconds(),
		Subscribers:      si.Subscribers, SubscribersByProtocol: by,
		BytesIn: si.BytesIn, FramesIn: si.FramesIn, FramesPerWrite: si.FramesPerWrite,
	}
}

// securityHeaders keeps the dashboard out of frames (clickjacking on its
// action buttons) and restricts it to its own scripts. The only frames it
// may show are the playback listener's player pages (the stream view's
// preview).
func securityHeaders(h http.Handler, b Backend) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		hd := w.Header()
		hd.Set("X-Frame-Options", "DENY")
		hd.Set("X-Content-Type-Options", "nosniff")
		hd.Set("Referrer-Policy", "same-origin")
		hd.Set("Content-Security-Policy", "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; frame-src "+
			playerFrames(b.Listeners())+"; frame-ancestors 'none'")
		h.ServeHTTP(w, r)
	})
}

// playerFrames is the CSP source list of the playback listener's pages:
// its scheme and port on any host, as the dashboard reaches the server by
// a name the server does not know (a listener on all addresses); 'none'
// when playback is off.
func playerFrames(ls []Listener) string {
	var srcs []string
	for _, l := range ls {
		if l.Protocol != "play" {
			continue
		}
		_, port, err := net.SplitHostPort(l.Addr)
		if err != nil {
			continue
		}
		scheme := "http"
		if l.TLS {
			scheme = "https"
		}
		srcs = append(srcs, scheme+"://*:"+port)
	}
	if len(srcs) == 0 {
		return "'none'"
	}
	return strings.Join(srcs, " ")
}
