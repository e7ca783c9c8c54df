package httpflv

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Transaction IDs of the commands a Conn plays on the client's behalf.
const (
	txnConnect      = 1
	txnCreateStream = 2
)

// batchMax is how many messages one drain of the outbox takes, and so how
// many tags at most go in one vectored write.
const batchMax = 64

// WebSocket liveness: the server pings this often, and a client that
// answers nothing (no pong, no message) for wsReadTimeout is closed. A
// browser answers pings by itself; a client that stopped reading does not.
const (
	wsPingEvery   = 15 * time.Second
	wsReadTimeout = 3 * wsPingEvery
)

// Close causes of a Conn.
var (
	// ErrUnpublished ends a player when its stream's publisher leaves: an
	// FLV response cannot say "wait for the next publisher", and
	// players reconnect.
	ErrUnpublished  = errors.New("httpflv: the stream was unpublished")
	errSetupTimeout = errors.New("httpflv: the application did not decide in time")
	// errAuthorized ends an authorization check (Server.Authorize) at
	// Play.Start: the application allowed the play.
	errAuthorized = errors.New("httpflv: the play was allowed")
)

// Conn is one HTTP-FLV or WebSocket-FLV player as the NetConnection layer
// sees it (netconn.Transport): the request is played to the core as an
// RTMP client would, with connect (the URL's application, instance and
// query), createStream and play(STREAM?query, -1000), so that the
// application's authorization (tokens, HTTP callbacks, the script's
// onConnect and play hooks) decides as it does for RTMP. The core's
// replies decide the HTTP answer; once Play.Start comes the response
// carries the FLV file header and then the play's frames as tags.
//
// One goroutine, the request's handler, does all the writing: Wake only
// signals it, so a publisher's goroutine never waits for an HTTP client.
// A client that stops reading blocks only that goroutine, up to the write
// deadline; meanwhile its subscriber queue (bounded) drops to keyframes,
// and past the lag bound the core closes the Conn.
type Conn struct {
	id    string
	proto string // "http-flv", "ws-flv", or another transport's name for a check
	// check ends the Conn at Play.Start without playing: it only asks
	// the application whether the request may play (Server.Authorize).
	check  bool
	remote net.Addr
	target Target
	req    *http.Request
	srv    *Server
	log    *zap.Logger
	core   *netconn.Conn

	ctx    context.Context
	cancel context.CancelCauseFunc
	wake   chan struct{}
	start  time.Time

	bytesOut atomic.Uint64

	// mu guards the connection, taken over from the HTTP server once
	// the play starts, and closed.
	mu     sync.Mutex
	sock   net.Conn // closing it ends a blocked write; nil before the play starts
	closed bool

	// pong is the payload of a ping the client sent, for the writer to
	// answer; pongDue says there is one.
	pongMu  sync.Mutex
	pong    []byte
	pongDue bool

	// The handler goroutine's own.
	dec           amf.Decoder
	status        int // the HTTP status answered
	streamID      uint32
	tw            tagWriter
	clock         clock
	wc            *websocket.Conn // a WebSocket player's, for its reader
	out           net.Conn        // where tags go: the TLS conn, or the TCP one
	direct        *net.TCPConn    // the socket, for vectored writes; nil over TLS
	coalesced     []byte          // over TLS, one write's bytes (a record per piece would cost more)
	writeDeadline time.Time
	readerDone    chan struct{} // closed when a WebSocket's reader has ended
}

func newConn(id, proto string, r *http.Request, tg Target, srv *Server) *Conn {
	remote := RemoteAddr(r)
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Conn{
		id: id, proto: proto, remote: remote, target: tg, req: r, srv: srv,
		log: srv.log.WithLazy(zap.String("conn", id), zap.String("proto", proto), zap.String("remote", remote.String())),
		ctx: ctx, cancel: cancel, wake: make(chan struct{}, 1), start: time.Now(),
	}
	c.tw.ws = proto == "ws-flv"
	c.core = netconn.NewConn(id, c, srv.deps.Apps, srv.deps.Core(), c.log)
	c.core.Outbox().SetWaker(c)
	return c
}

var _ netconn.Transport = (*Conn)(nil)

// Protocol implements netconn.Transport.
func (c *Conn) Protocol() string { return c.proto }

// RemoteAddr implements netconn.Transport.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// FarID implements netconn.Transport: HTTP has no identity for the client.
func (c *Conn) FarID() string { return "" }

// ConnectAccepted implements netconn.Transport: no transport message
// precedes the connect result (there is no chunk size to announce).
func (c *Conn) ConnectAccepted(*netconn.Outbox) error { return nil }

// ConnectInfo implements netconn.Transport: nothing to add.
func (c *Conn) ConnectInfo() []amf.Property { return nil }

// ConnectResultSent implements netconn.Transport: nothing follows.
func (c *Conn) ConnectResultSent(*netconn.Outbox) error { return nil }

// InputPending implements netconn.Transport: an HTTP player sends no
// media.
func (c *Conn) InputPending() bool { return false }

// Silence implements netconn.Transport: the client said all it had to
// with its request.
func (c *Conn) Silence() time.Duration { return time.Since(c.start) }

// Stats implements netconn.Transport.
func (c *Conn) Stats() netconn.TransportStats {
	return netconn.TransportStats{BytesOut: c.bytesOut.Load()}
}

// Context implements netconn.Transport: cancelled by Close.
func (c *Conn) Context() context.Context { return c.ctx }

// Wake implements netconn.Waker: it signals the handler goroutine, which
// drains the outbox, and never waits.
func (c *Conn) Wake() {
	select {
	case c.wake <- struct{}{}:
	default:
	}
}

// Close implements netconn.Transport. It closes the socket under a write
// in progress, not the TLS connection over it, whose Close would wait for
// that write to send its alert.
func (c *Conn) Close(cause error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	c.cancel(cause)
	sock := c.sock
	c.mu.Unlock()
	if sock != nil {
		_ = sock.Close()
	}
	c.Wake()
}

// Shutdown tells the core the server is going away; the player is then
// closed (there is no status to give it once its response has started).
func (c *Conn) Shutdown() { c.core.Shutdown(c.Close) }

// serve plays the request to the core and answers it; it returns once the
// player has ended and the core has released it.
func (c *Conn) serve(w http.ResponseWriter) {
	err := c.run(w)
	if cause := context.Cause(c.ctx); cause != nil {
		// Closed from outside (lagging, kicked, shut down): that is
		// why, not the failed write it caused.
		err = cause
	}
	c.Close(err)
	if c.readerDone != nil {
		<-c.readerDone
	}
	c.core.Close()
	c.tw.reset()
	fields := []zap.Field{zap.String("stream", c.target.Stream), zap.Int("status", c.status),
		zap.Duration("duration", time.Since(c.start)), zap.Uint64("bytes_out", c.bytesOut.Load())}
	var a *answer
	switch {
	case errors.As(err, &a):
		fields = append(fields, zap.String("reason", a.Text))
	case errors.Is(err, io.EOF), errors.Is(err, net.ErrClosed), errors.Is(err, context.Canceled):
	case errors.Is(err, syscall.EPIPE), errors.Is(err, syscall.ECONNRESET):
		// How an HTTP player ends: it closes the connection.
		fields = append(fields, zap.String("reason", "the client closed the connection"))
	default:
		fields = append(fields, zap.Error(err))
	}
	c.log.Info("closed", fields...)
}

// run drives the core until the play ends: it feeds connect, and the rest
// as the replies come, and drains the outbox whenever woken. Before the
// play starts an error is answered with its HTTP status (answer).
func (c *Conn) run(w http.ResponseWriter) error {
	if err := c.command(0, "connect", txnConnect, c.connectObject()); err != nil {
		return c.refuse(w, err)
	}
	setup := time.NewTimer(c.srv.deps.SetupTimeout)
	defer setup.Stop()
	setupC := setup.C
	// The request's context tells that the client left while the
	// application decided; once the connection is taken over, writes do.
	left := c.req.Context().Done()
	var ping <-chan time.Time
	out := c.core.Outbox()
	var scratch [batchMax]netconn.Outgoing
	for {
		batch := out.NextBatch(scratch[:0], batchMax)
		var err error
		for i := range batch {
			if err = c.handle(w, &batch[i]); err != nil {
				break
			}
		}
		clear(batch)
		if err == nil && c.out != nil {
			if setupC != nil {
				// Playing: the setup bound no longer applies.
				setupC, left = nil, nil
				if c.wc != nil {
					t := time.NewTicker(wsPingEvery)
					defer t.Stop()
					ping = t.C
				}
			}
			err = c.flush()
		}
		if err != nil {
			return c.refuse(w, err)
		}
		if len(batch) == batchMax {
			continue
		}
		if cause := out.Closing(); cause != nil {
			return c.refuse(w, cause)
		}
		select {
		case <-c.wake:
			c.answerPing()
		case <-ping:
			c.tw.scratch = appendWSControl(c.tw.scratch, opPing, nil)
			if err := c.flush(); err != nil {
				return err
			}
		case <-left:
			// The client left while the application decided.
			return context.Cause(c.req.Context())
		case <-c.ctx.Done():
			return context.Cause(c.ctx)
		case <-setupC:
			return c.refuse(w, &answer{http.StatusGatewayTimeout, errSetupTimeout.Error()})
		}
	}
}

// refuse answers err's status to a request that has not started playing;
// once it has, err just ends it. It returns err.
func (c *Conn) refuse(w http.ResponseWriter, err error) error {
	if errors.Is(err, errAuthorized) {
		return err // nothing to answer: the caller goes on
	}
	if c.out != nil {
		if c.wc != nil {
			// Say goodbye the WebSocket way: 1000 for the end of the
			// stream, 1001 when the server or the application sends
			// the client away.
			code := websocket.CloseGoingAway
			if errors.Is(err, ErrUnpublished) {
				code = websocket.CloseNormalClosure
			}
			c.tw.scratch = appendWSControl(c.tw.scratch, opClose, websocket.FormatCloseMessage(code, ""))
			_ = c.flush()
		}
		return err
	}
	var a *answer
	if !errors.As(err, &a) {
		a = &answer{http.StatusServiceUnavailable, err.Error()}
		err = a
	}
	c.status = a.Status
	http.Error(w, a.Text, a.Status)
	return err
}

// connectObject is the connect command's object (ConnectObject).
func (c *Conn) connectObject() amf.Object { return ConnectObject(c.target, c.req) }

// command feeds the core a command as if the client had sent it.
func (c *Conn) command(streamID uint32, name string, txn float64, obj any, args ...any) error {
	payload, err := protocol.AppendCommand(nil, name, txn, obj, args...)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return c.core.HandleMessage(protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: streamID, Payload: payload})
}

// handle takes one message of the outbox: the replies to the synthesized
// commands move the request on or end it, and once playing, the play's
// frames become tags.
func (c *Conn) handle(w http.ResponseWriter, m *netconn.Outgoing) error {
	if m.Media {
		if c.out == nil || m.StreamID != c.streamID {
			return nil
		}
		c.tw.tag(m.Type, c.clock.stamp(m.Timestamp, m.SeqHeader), m.Payload)
		return nil
	}
	if m.Type != protocol.TypeCommandAMF0 {
		return nil // control messages and |RtmpSampleAccess: RTMP's own
	}
	cmd, err := protocol.DecodeCommand(&c.dec, m.Type, m.Payload)
	if err != nil {
		return fmt.Errorf("decode the core's %v message: %w", m.Type, err)
	}
	code, desc := status(&cmd)
	switch {
	case cmd.Name == "_result" && cmd.TxnID == txnConnect:
		return c.command(0, "createStream", txnCreateStream, nil)
	case cmd.Name == "_error" && cmd.TxnID == txnConnect:
		if code == protocol.ConnectInvalidApp {
			return &answer{http.StatusNotFound, desc}
		}
		return &answer{http.StatusForbidden, desc}
	case cmd.Name == "_result" && cmd.TxnID == txnCreateStream:
		id, _ := cmd.ArgNumber(0)
		c.streamID = uint32(id)
		name := c.target.Stream
		if q := c.req.URL.RawQuery; q != "" {
			name += "?" + q
		}
		// -1000: live only, and it must be live now (StreamNotFound at
		// once rather than a response that waits for a publisher, as
		// SRS and mediamtx answer 404).
		return c.command(c.streamID, "play", 0, nil, name, -1000.0)
	case cmd.Name == "_error" && cmd.TxnID == txnCreateStream:
		return &answer{http.StatusServiceUnavailable, desc}
	case cmd.Name != "onStatus":
		return nil
	}
	switch code {
	case protocol.PlayStart:
		if c.check {
			return errAuthorized
		}
		if c.out == nil {
			return c.startPlaying(w)
		}
	case protocol.PlayStreamNotFound:
		return &answer{http.StatusNotFound, desc}
	case protocol.PlayFailed:
		return &answer{http.StatusForbidden, desc}
	case protocol.PlayUnpublishNotify:
		if c.out != nil {
			return ErrUnpublished
		}
	}
	return nil
}

// status returns the code and description of a status reply: the
// information object of an _error or onStatus.
func status(cmd *protocol.Command) (code, desc string) {
	for _, a := range cmd.Args {
		if o, ok := a.(amf.Object); ok {
			return o.String("code"), o.String("description")
		}
	}
	return "", ""
}

// startPlaying answers 200 and takes the connection over from the HTTP
// server (a WebSocket's after the upgrade), so that tags go out in
// vectored writes under the Conn's own write deadline; the FLV header
// goes first, with the flags of the codecs the stream has.
func (c *Conn) startPlaying(w http.ResponseWriter) error {
	c.status = http.StatusOK
	var nc net.Conn
	if c.proto == "ws-flv" {
		c.status = http.StatusSwitchingProtocols
		wc, err := c.srv.upgrader.Upgrade(w, c.req, nil)
		if err != nil {
			return fmt.Errorf("websocket upgrade: %w", err) // the upgrader answered
		}
		c.wc, nc = wc, wc.UnderlyingConn()
	} else {
		hc, _, err := http.NewResponseController(w).Hijack()
		if err != nil {
			return fmt.Errorf("take the connection over: %w", err)
		}
		nc = hc
		c.tw.raw([]byte("HTTP/1.1 200 OK\r\nContent-Type: video/x-flv\r\nCache-Control: no-cache, no-store\r\nConnection: close\r\n"))
		if o := c.srv.cfg.CORSOrigin; o != "" {
			c.tw.raw([]byte("Access-Control-Allow-Origin: " + o + "\r\n"))
		}
		c.tw.raw([]byte("\r\n"))
	}
	c.out = nc
	sock := nc
	if tc, ok := nc.(*tls.Conn); ok {
		sock = tc.NetConn()
	}
	if a, ok := sock.(*admitted); ok {
		c.direct = a.tcp
		if _, tls := nc.(*tls.Conn); tls {
			c.direct = nil
		}
	}
	c.mu.Lock()
	c.sock = sock
	closed := c.closed
	c.mu.Unlock()
	if closed {
		_ = sock.Close()
		return context.Cause(c.ctx)
	}
	// The HTTP server's read deadline (for the request's header) must
	// not end the play.
	_ = nc.SetReadDeadline(time.Time{})
	audio, video := c.codecs()
	c.tw.header(audio, video)
	if c.wc != nil {
		c.startReader()
	}
	c.log.Debug("http play started", zap.Bool("audio", audio), zap.Bool("video", video))
	return nil
}

// codecs tells which of audio and video the stream has, for the FLV
// header's flags: flv.js waits for every track they announce. A stream
// whose codecs are not known yet announces both.
func (c *Conn) codecs() (audio, video bool) {
	inst := c.core.Instance()
	if inst == nil {
		return true, true
	}
	s := inst.Streams().Get(c.target.Stream)
	if s == nil {
		return true, true
	}
	info := s.Info()
	audio, video = info.AudioCodec != "", info.VideoCodec != ""
	if !audio && !video {
		return true, true
	}
	return audio, video
}

// startReader runs a WebSocket player's reader: it answers the client's
// pings (through the writer, which owns the connection's writes), ends
// the Conn when the client closes or goes quiet past wsReadTimeout, and
// discards the messages a player has no reason to send.
func (c *Conn) startReader() {
	wc := c.wc
	c.readerDone = make(chan struct{})
	wc.SetReadLimit(4 << 10)
	extend := func() { _ = wc.SetReadDeadline(time.Now().Add(wsReadTimeout)) }
	extend()
	wc.SetPongHandler(func(string) error { extend(); return nil })
	wc.SetPingHandler(func(data string) error {
		extend()
		c.pongMu.Lock()
		c.pong, c.pongDue = append(c.pong[:0], data...), true
		c.pongMu.Unlock()
		c.Wake()
		return nil
	})
	// The writer says goodbye; gorilla's default would write the echo
	// from this goroutine.
	wc.SetCloseHandler(func(int, string) error { return nil })
	go func() {
		defer close(c.readerDone)
		for {
			_, r, err := wc.NextReader()
			if err != nil {
				c.Close(fmt.Errorf("websocket read: %w", err))
				return
			}
			extend()
			if _, err := io.Copy(io.Discard, r); err != nil {
				c.Close(fmt.Errorf("websocket read: %w", err))
				return
			}
		}
	}()
}

// answerPing queues the pong for a ping the client sent.
func (c *Conn) answerPing() {
	if c.wc == nil {
		return
	}
	c.pongMu.Lock()
	if c.pongDue {
		c.tw.scratch = appendWSControl(c.tw.scratch, opPong, c.pong)
		c.pongDue = false
	}
	c.pongMu.Unlock()
}

// flush writes what the tag writer holds, with one vectored write on a
// plain TCP connection, under the write deadline.
func (c *Conn) flush() error {
	if c.tw.empty() {
		return nil
	}
	defer c.tw.reset()
	// Re-arming the deadline per write is wasted work; keep it within a
	// second of exact.
	timeout := c.srv.cfg.WriteTimeout.Duration
	if now := time.Now(); c.writeDeadline.Sub(now) < timeout-time.Second {
		c.writeDeadline = now.Add(timeout)
		if err := c.out.SetWriteDeadline(c.writeDeadline); err != nil {
			return fmt.Errorf("set write deadline: %w", err)
		}
	}
	segs := c.tw.buffers()
	var n int64
	var err error
	if c.direct != nil {
		n, err = segs.WriteTo(c.direct)
	} else {
		buf := c.coalesced[:0]
		for _, s := range segs {
			buf = append(buf, s...)
		}
		var m int
		m, err = c.out.Write(buf)
		n = int64(m)
		c.coalesced = buf[:0]
		if cap(buf) > 1<<20 {
			c.coalesced = nil // a burst of large frames: do not keep its buffer
		}
	}
	c.bytesOut.Add(uint64(n))
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}
