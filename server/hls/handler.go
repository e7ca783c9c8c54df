// Package hls serves live streams as HLS on the playback listener:
// Low-Latency HLS with fMP4 segments and parts (GET /APP/STREAM/index.m3u8)
// and HLS with MPEG-TS segments for older players
// (GET /APP/STREAM/ts/index.m3u8). Each stream has at most one muxer per
// variant, shared by all its players: a media.Sink of the stream whose
// goroutine feeds gohlslib's muxer, which keeps the playlists, segments
// and parts in memory and answers the players. A muxer starts with the
// first request for its stream and stops when nobody has asked for a
// while.
//
// HLS players have no connection to the server: a player is a series of
// requests. The application authorizes a player once, at index.m3u8, as
// it does an RTMP play (Deps.Authorize), and the player then carries a
// signed session in its URLs (sessions), which also counts it as a
// viewer.
package hls

import (
	"errors"
	"net/http"
	"sync"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/media"
	"github.com/nimbus-media/nimbus/server/httpflv"
)

// startWait bounds how long a request waits for its muxer's first
// segment before it is answered 504.
const startWait = startWithin + 5*time.Second

// Deps is what HLS needs of the server.
type Deps struct {
	// Apps is the application registry the streams are found in.
	Apps *apps.Registry
	// Authorize asks the application whether r may play tg, with a
	// client whose protocol is proto; when it refuses, the answer has
	// been written (httpflv.Server.Authorize).
	Authorize func(w http.ResponseWriter, r *http.Request, tg httpflv.Target, proto string) bool
	// Subscriber returns the current bounds of a subscriber's queue.
	Subscriber func() media.SubscriberConfig
	// Refused counts a request refused by a limit (nimbus_refusals_total).
	Refused func(limit string)
}

// Handler answers the HLS requests of the playback listener.
type Handler struct {
	cfg      Config
	deps     Deps
	log      *zap.Logger
	sessions *sessions

	mu      sync.Mutex
	muxers  map[string]*muxer
	closed  bool
	stop    chan struct{} // closed by Close: every muxer ends
	running sync.WaitGroup
}

// New makes the HLS handler. cfg.Subscriber is ignored: the bounds come
// from deps.Subscriber for each new muxer.
func New(cfg Config, deps Deps, log *zap.Logger) *Handler {
	return &Handler{
		cfg: cfg, deps: deps, log: log.Named("hls"), sessions: newSessions(),
		muxers: make(map[string]*muxer), stop: make(chan struct{}),
	}
}

// Close stops every muxer, which answers the requests waiting in them, and
// waits for their goroutines; later requests are answered 503.
func (h *Handler) Close() {
	h.mu.Lock()
	if !h.closed {
		h.closed = true
		close(h.stop)
	}
	h.mu.Unlock()
	h.running.Wait()
}

// Muxers is the number of muxers running, for tests and monitoring.
func (h *Handler) Muxers() int {
	h.mu.Lock()
	defer h.mu.Unlock()
	return len(h.muxers)
}

// ServeHTTP answers a GET of one of a stream's HLS files. Unknown
// streams are answered 404 before anything is made: a flood of requests
// for streams that do not exist costs a map lookup each.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	req, ok := ParsePath(r.URL.Path)
	if !ok {
		http.Error(w, "not a playback URL: /APP/STREAM.flv, /APP/STREAM/index.m3u8 or /APP/STREAM/ts/index.m3u8 (after APP, an INSTANCE/ may come)", http.StatusNotFound)
		return
	}
	inst := h.instance(req.App, req.Instance)
	var st *media.Stream
	if inst != nil {
		st = inst.Streams().Get(req.Stream)
	}
	if st == nil || !st.Published() {
		http.Error(w, "no such live stream", http.StatusNotFound)
		return
	}
	streamPath := inst.Path() + "/" + req.Stream
	q := r.URL.Query()
	id, ok := h.sessions.check(streamPath, q.Get(sessionParam))
	if !ok {
		if req.File != "index.m3u8" {
			http.Error(w, "no valid "+sessionParam+": a player starts at index.m3u8", http.StatusForbidden)
			return
		}
		if !h.deps.Authorize(w, r, req.Target, "hls") {
			return
		}
		// The session goes into the URIs the muxer lists (it copies
		// the playlist request's query into them).
		q.Del(sessionParam)
		var value string
		id, value = h.sessions.issue(streamPath)
		u := *r.URL
		u.RawQuery = withSession(q.Encode(), value)
		r = r.Clone(r.Context())
		r.URL = &u
	}
	m, err := h.muxer(streamPath, inst.Streams(), st, req.Variant)
	if err != nil {
		h.fail(w, err)
		return
	}
	m.inflight.Add(1)
	defer m.inflight.Add(-1)
	if !m.touch(id, time.Now()) {
		h.deps.Refused("hls_viewers")
		http.Error(w, "too many HLS players of this stream", http.StatusServiceUnavailable)
		return
	}
	timer := time.NewTimer(startWait)
	defer timer.Stop()
	select {
	case <-m.started:
	case <-m.done:
		h.fail(w, m.err)
		return
	case <-timer.C:
		http.Error(w, "the stream has not started: no keyframe yet", http.StatusGatewayTimeout)
		return
	case <-r.Context().Done():
		return
	}
	select {
	case <-m.done:
		h.fail(w, m.err)
		return
	default:
	}
	rw := &responseWriter{ResponseWriter: w}
	m.hls.Handle(rw, r)
	if !rw.wrote {
		// gohlslib answers nothing for a name it does not know: a
		// segment that has left the playlist, or one of a muxer that
		// has since been replaced.
		http.Error(w, "no such file: it may have left the playlist", http.StatusNotFound)
	}
}

// instance returns the loaded instance app/name ("" for the default), or
// nil; it never loads one.
func (h *Handler) instance(app, name string) *apps.Instance {
	a := h.deps.Apps.App(app)
	if a == nil {
		return nil
	}
	if name == "" {
		name = apps.DefaultInstance
	}
	for _, inst := range a.Instances() {
		if inst.Name() == name {
			return inst
		}
	}
	return nil
}

// muxer returns the running muxer of a stream's variant, starting one if
// there is none.
func (h *Handler) muxer(streamPath string, reg *media.Registry, st *media.Stream, v Variant) (*muxer, error) {
	key := streamPath + "#" + v.String()
	h.mu.Lock()
	defer h.mu.Unlock()
	if h.closed {
		return nil, errStopped
	}
	if m := h.muxers[key]; m != nil && m.stream == st {
		select {
		case <-m.done:
		default:
			return m, nil
		}
	}
	cfg := h.cfg
	cfg.Subscriber = h.deps.Subscriber()
	m := newMuxer(key, st, v, cfg, h.stop, h.log.With(zap.String("stream", streamPath), zap.Stringer("variant", v)))
	got, err := reg.Subscribe(st.Name(), m.sub, true)
	if err != nil {
		return nil, err
	}
	m.stream = got
	h.muxers[key] = m
	h.running.Add(1)
	go func() {
		defer h.running.Done()
		m.run(h.forget)
	}()
	return m, nil
}

// forget removes an ended muxer from the map, unless another has taken
// its place.
func (h *Handler) forget(m *muxer) {
	h.mu.Lock()
	if h.muxers[m.key] == m {
		delete(h.muxers, m.key)
	}
	h.mu.Unlock()
}

// fail answers a request whose muxer could not serve it.
func (h *Handler) fail(w http.ResponseWriter, err error) {
	switch {
	case errors.Is(err, media.ErrNotFound), errors.Is(err, errUnpublished):
		http.Error(w, "no such live stream", http.StatusNotFound)
	case errors.Is(err, errUnsupported):
		http.Error(w, err.Error(), http.StatusUnsupportedMediaType)
	case errors.Is(err, errNoStart):
		http.Error(w, err.Error(), http.StatusGatewayTimeout)
	default:
		// Stopped, idle, lagging, stalled: the player retries.
		http.Error(w, err.Error(), http.StatusServiceUnavailable)
	}
}

// responseWriter notes whether gohlslib answered.
type responseWriter struct {
	http.ResponseWriter
	wrote bool
}

func (w *responseWriter) WriteHeader(code int) {
	w.wrote = true
	w.ResponseWriter.WriteHeader(code)
}

func (w *responseWriter) Write(b []byte) (int, error) {
	w.wrote = true
	return w.ResponseWriter.Write(b)
}

// Unwrap lets http.ResponseController reach the connection.
func (w *responseWriter) Unwrap() http.ResponseWriter { return w.ResponseWriter }
