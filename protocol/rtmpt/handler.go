package rtmpt

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"strconv"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"
)

// ContentType is the media type of RTMPT requests and replies.
const ContentType = "application/x-fcs"

// Config configures a Handler. Zero values take the defaults of
// WithDefaults.
type Config struct {
	// MaxSessions caps the open sessions; an /open past it gets 503.
	MaxSessions int
	// IdleTimeout closes a session whose client has made no request
	// for this long.
	IdleTimeout time.Duration
	// BufferBytes bounds the bytes a session holds for its client; past
	// it the RTMP connection's writes wait (and time out) as on a full
	// socket. It also bounds the input a /send may queue.
	BufferBytes int
	// MaxBody is the largest request body; a larger one gets 413.
	MaxBody int64
	// Hold is how long an /idle with nothing to return waits for data.
	Hold time.Duration
	// Open admits a new session and starts serving its connection, the
	// caller's RTMP connection handler reading and writing it. An error
	// refuses the session: a *Refusal names the HTTP status, anything
	// else is a 503.
	Open func(c *Conn) error
	Log  *zap.Logger
}

// WithDefaults fills in unset fields.
func (c Config) WithDefaults() Config {
	if c.MaxSessions <= 0 {
		c.MaxSessions = 10000
	}
	if c.IdleTimeout <= 0 {
		c.IdleTimeout = 30 * time.Second
	}
	if c.BufferBytes <= 0 {
		c.BufferBytes = 512 << 10
	}
	if c.MaxBody <= 0 {
		c.MaxBody = 1 << 20
	}
	if c.Hold <= 0 {
		c.Hold = 100 * time.Millisecond
	}
	if c.Log == nil {
		c.Log = zap.NewNop()
	}
	return c
}

// Refusal refuses an /open with an HTTP status: 429 for a rate limit, 503
// for a cap on connections.
type Refusal struct {
	Status int
	Reason string
}

func (r *Refusal) Error() string { return "rtmpt: session refused: " + r.Reason }

// Handler serves the RTMPT requests of docs/rtmpt.md. Every session's
// connection goes to Config.Open.
type Handler struct {
	cfg     Config
	table   *table
	closing atomic.Bool
	// bufs holds reply buffers between requests.
	bufs sync.Pool
}

// NewHandler makes a handler.
func NewHandler(cfg Config) *Handler {
	cfg = cfg.WithDefaults()
	return &Handler{cfg: cfg, table: newTable(cfg.MaxSessions, cfg.IdleTimeout)}
}

// Sessions is how many sessions are open.
func (h *Handler) Sessions() int { return h.table.len() }

// Drain refuses further sessions; those open go on.
func (h *Handler) Drain() { h.closing.Store(true) }

// Flush waits, until ctx ends, for the clients to collect what their
// sessions hold: a server going away lets them take their last
// messages (NetConnection.Connect.AppShutdown) before Close drops them.
func (h *Handler) Flush(ctx context.Context) {
	t := time.NewTicker(10 * time.Millisecond)
	defer t.Stop()
	for h.table.queued() {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// Close refuses further sessions and closes the open ones with cause;
// what they queued is still returned to clients that ask before their
// idle timeout.
func (h *Handler) Close(cause error) {
	h.closing.Store(true)
	h.table.closeAll(cause)
}

var (
	contentType = []string{ContentType}
	noCache     = []string{"no-cache"}
	textPlain   = []string{"text/plain; charset=utf-8"}
)

// ServeHTTP implements http.Handler.
func (h *Handler) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if r.Method != http.MethodPost {
		w.Header()["Allow"] = []string{http.MethodPost}
		h.fail(w, r, http.StatusMethodNotAllowed, errors.New("rtmpt: requests are POSTs"))
		return
	}
	req, err := ParsePath(r.URL.Path)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, err)
		return
	}
	if r.ContentLength > h.cfg.MaxBody {
		h.fail(w, r, http.StatusRequestEntityTooLarge, fmt.Errorf("rtmpt: body of %d bytes is over %d", r.ContentLength, h.cfg.MaxBody))
		return
	}
	switch req.Cmd {
	case CmdIdent:
		// No ident configured, as on AMS by default: Flash then tunnels
		// to the host it was given.
		h.fail(w, r, http.StatusNotFound, errors.New("rtmpt: no ident"))
		return
	case CmdOpen:
		h.open(w, r)
		return
	}
	s := h.table.get(req.Session)
	if s == nil {
		h.fail(w, r, http.StatusNotFound, errors.New("rtmpt: unknown session"))
		return
	}
	s.touch(time.Now())
	switch req.Cmd {
	case CmdSend:
		h.send(w, r, s, req.Seq)
	case CmdIdle:
		if !h.discardBody(w, r) {
			return
		}
		h.reply(w, r, s, h.cfg.Hold)
	case CmdClose:
		h.discardBody(w, r)
		// The client goes; what is still queued for it is dropped.
		h.table.remove(s, io.EOF)
		h.write(w, http.StatusOK, contentType, []byte{0})
	}
}

// open starts a session and answers its id.
func (h *Handler) open(w http.ResponseWriter, r *http.Request) {
	if !h.discardBody(w, r) {
		return
	}
	if h.closing.Load() {
		h.fail(w, r, http.StatusServiceUnavailable, errors.New("rtmpt: server shutting down"))
		return
	}
	local, _ := r.Context().Value(http.LocalAddrContextKey).(net.Addr)
	remote, err := net.ResolveTCPAddr("tcp", r.RemoteAddr)
	if err != nil {
		h.fail(w, r, http.StatusBadRequest, fmt.Errorf("rtmpt: remote address: %w", err))
		return
	}
	conn := newConn(local, remote, h.cfg.BufferBytes, h.cfg.BufferBytes)
	s, err := h.table.add(conn)
	if err != nil {
		h.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	if err := h.cfg.Open(conn); err != nil {
		h.table.remove(s, err)
		status := http.StatusServiceUnavailable
		if ref, ok := errors.AsType[*Refusal](err); ok {
			status = ref.Status
		}
		h.fail(w, r, status, err)
		return
	}
	h.write(w, http.StatusOK, contentType, append([]byte(s.id), '\n'))
}

// send queues a /send's body for the RTMP reader and replies with what
// is queued for the client, at once: the client may have more to send.
func (h *Handler) send(w http.ResponseWriter, r *http.Request, s *session, seq uint64) {
	bp := h.buffer()
	defer h.bufs.Put(bp)
	body, err := readBody(r.Body, (*bp)[:0], h.cfg.MaxBody)
	*bp = body[:0]
	if err != nil {
		h.fail(w, r, bodyStatus(err), err)
		return
	}
	if err := s.takeSend(seq); err != nil {
		h.fail(w, r, http.StatusBadRequest, err)
		return
	}
	deadline := time.Now().Add(h.cfg.IdleTimeout)
	if err := s.conn.feed(body, deadline); err != nil && !errors.Is(err, ErrClosed) {
		// Closed: the reply still carries what was queued before.
		h.fail(w, r, http.StatusServiceUnavailable, err)
		return
	}
	h.reply(w, r, s, 0)
}

// reply answers a /send or /idle with the polling-interval byte and what
// is queued for the client, waiting up to hold for something; a session
// that has closed and handed out everything is forgotten.
func (h *Handler) reply(w http.ResponseWriter, r *http.Request, s *session, hold time.Duration) {
	bp := h.buffer()
	defer h.bufs.Put(bp)
	body, finished := s.conn.appendReply((*bp)[:0], h.cfg.BufferBytes, hold, r.Context().Done())
	*bp = body[:0]
	if finished {
		h.table.remove(s, ErrClosed)
	}
	h.write(w, http.StatusOK, contentType, body)
}

// buffer takes a reply buffer from the pool.
func (h *Handler) buffer() *[]byte {
	if bp, ok := h.bufs.Get().(*[]byte); ok {
		return bp
	}
	b := make([]byte, 0, 4096)
	return &b
}

// write sends a complete response with its length, so that the client
// can keep the connection for its next request.
func (h *Handler) write(w http.ResponseWriter, status int, ctype []string, body []byte) {
	hdr := w.Header()
	hdr["Content-Type"] = ctype
	hdr["Cache-Control"] = noCache
	hdr["Content-Length"] = []string{strconv.Itoa(len(body))}
	w.WriteHeader(status)
	_, _ = w.Write(body)
}

// fail answers a request with an error status and the reason as text.
func (h *Handler) fail(w http.ResponseWriter, r *http.Request, status int, err error) {
	h.cfg.Log.Debug("rtmpt request refused", zap.String("remote", r.RemoteAddr), zap.String("path", clip(r.URL.Path)),
		zap.Int("status", status), zap.Error(err))
	h.write(w, status, textPlain, []byte(err.Error()+"\n"))
}

// discardBody reads a body that carries nothing (the single byte of
// /open, /idle and /close), answering 413 when it is too large.
func (h *Handler) discardBody(w http.ResponseWriter, r *http.Request) bool {
	_, err := io.Copy(io.Discard, http.MaxBytesReader(w, r.Body, h.cfg.MaxBody))
	if err != nil {
		h.fail(w, r, bodyStatus(err), err)
		return false
	}
	return true
}

// bodyStatus is the status for a body that could not be read: 413 when it
// was too large, else 400.
func bodyStatus(err error) int {
	if _, ok := errors.AsType[*http.MaxBytesError](err); ok {
		return http.StatusRequestEntityTooLarge
	}
	return http.StatusBadRequest
}

// readBody appends a request body of at most max bytes to dst.
func readBody(body io.Reader, dst []byte, max int64) ([]byte, error) {
	lr := &io.LimitedReader{R: body, N: max + 1}
	for {
		if len(dst) == cap(dst) {
			dst = append(dst, 0)[:len(dst)]
		}
		n, err := lr.Read(dst[len(dst):cap(dst)])
		dst = dst[:len(dst)+n]
		if int64(len(dst)) > max {
			return dst, &http.MaxBytesError{Limit: max}
		}
		if err == io.EOF {
			return dst, nil
		}
		if err != nil {
			return dst, fmt.Errorf("rtmpt: read body: %w", err)
		}
	}
}
