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
	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Transaction IDs of the commands a Conn plays on the client's behalf.
const (
	txnConnect      = 1
	txnCreateStream = 2
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
// The request's handler goroutine sets the play up and takes the
// connection over; from then on the Conn is written as an RTMP player is
// (send.go): whoever wakes it (the publisher's goroutine, a fan-out
// share's, with the share's send batch) writes there and then without
// waiting for the socket, and a client that stops reading holds up only
// a sender goroutine of its own, up to the write deadline; meanwhile its
// subscriber queue (bounded) drops to keyframes, and past the lag bound
// the core closes the Conn.
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
	wake   chan struct{} // Wake's signal to the handler goroutine while it sets the play up
	start  time.Time

	bytesOut atomic.Uint64
	// playing is set once the handler goroutine has taken the connection
	// over and handed the sending to the sender role (play).
	playing atomic.Bool
	closed  atomic.Bool // set by Close; cheaper than ctx.Err on the send path

	// mu guards sock while the play starts, for Close.
	mu   sync.Mutex
	sock *egress.Socket // nil before the play starts

	// WebSocket control frames due, which the sender writes between
	// tags: a pong for the reader goroutine, a ping for the handler's
	// ticker. ctrlDue says there is one without taking ctrlMu.
	ctrlMu  sync.Mutex
	pong    []byte
	pongDue bool
	pingDue bool
	ctrlDue atomic.Bool

	// The handler goroutine's.
	status     int             // the HTTP status answered
	wc         *websocket.Conn // a WebSocket player's, for its reader
	readerDone chan struct{}   // closed when a WebSocket's reader has ended

	// sender is the role of writing to the socket once playing (Wake);
	// its holder owns the state below, which the handler goroutine owns
	// until then.
	sender    netconn.SenderRole
	sendOff   func() // a blocking send, for SenderRole.GoSend; made once
	nc        net.Conn
	streamID  uint32
	dec       amf.Decoder
	tw        tagWriter
	clock     clock
	coalesced []byte // over TLS, one write's bytes (a record per piece would cost more)
	// vec is the vector of a write the Conn makes itself, a field so that
	// handing WriteBuffers a pointer to it costs no allocation.
	vec           net.Buffers
	writeDeadline time.Time
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
	c.sendOff = func() { c.send(true) }
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

// Close implements netconn.Transport. It closes the TCP socket, under a
// write in progress too, not the TLS connection over it, whose Close would
// wait for that write to send its alert.
func (c *Conn) Close(cause error) {
	c.mu.Lock()
	if c.closed.Load() {
		c.mu.Unlock()
		return
	}
	c.closed.Store(true)
	c.cancel(cause)
	sock := c.sock
	c.mu.Unlock()
	if sock != nil {
		_ = sock.Close()
	}
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
	// A sender goroutine ends with its write, which the closed socket
	// fails; a waker finds the Conn closed.
	c.sender.Stop()
	c.core.Close()
	fields := []zap.Field{zap.String("stream", c.target.Stream), zap.Int("status", c.status),
		zap.Duration("duration", time.Since(c.start)), zap.Uint64("bytes_out", c.bytesOut.Load())}
	var a *Answer
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
// as the replies come (setUp), then hands the sending over (play). Before
// the play starts an error is answered with its HTTP status (answer).
func (c *Conn) run(w http.ResponseWriter) error {
	if err := c.command(0, "connect", txnConnect, c.connectObject()); err != nil {
		return c.refuse(w, err)
	}
	if err := c.setUp(w); err != nil {
		return err
	}
	return c.play()
}

// setUp takes the core's replies one at a time until the play starts
// (startPlaying), leaving what follows Play.Start (the play's first tags)
// in the outbox for the sender. It answers a refusal, and returns the
// error that ended the request.
func (c *Conn) setUp(w http.ResponseWriter) error {
	setup := time.NewTimer(c.srv.deps.SetupTimeout)
	defer setup.Stop()
	out := c.core.Outbox()
	for c.sock == nil {
		if m, ok := out.Next(); ok {
			if err := c.handle(w, &m); err != nil {
				return c.refuse(w, err)
			}
			continue
		}
		if cause := out.Closing(); cause != nil {
			return c.refuse(w, cause)
		}
		select {
		case <-c.wake:
		case <-c.req.Context().Done():
			// The client left while the application decided.
			return context.Cause(c.req.Context())
		case <-c.ctx.Done():
			return context.Cause(c.ctx)
		case <-setup.C:
			return c.refuse(w, &Answer{http.StatusGatewayTimeout, errSetupTimeout.Error()})
		}
	}
	return nil
}

// refuse answers err's status to a request that has not started playing;
// once the connection is taken over, err just ends it. It returns err.
func (c *Conn) refuse(w http.ResponseWriter, err error) error {
	if errors.Is(err, errAuthorized) {
		return err // nothing to answer: the caller goes on
	}
	if c.nc != nil {
		return err
	}
	var a *Answer
	if !errors.As(err, &a) {
		a = &Answer{http.StatusServiceUnavailable, err.Error()}
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

// handle takes one message of the outbox while the play is set up: the
// replies to the synthesized commands move the request on or end it.
// Frames that come before Play.Start have nowhere to go yet.
func (c *Conn) handle(w http.ResponseWriter, m *netconn.Outgoing) error {
	cmd, ok, err := c.decode(m)
	if !ok {
		return err
	}
	code, desc := status(&cmd)
	switch {
	case cmd.Name == "_result" && cmd.TxnID == txnConnect:
		return c.command(0, "createStream", txnCreateStream, nil)
	case cmd.Name == "_error" && cmd.TxnID == txnConnect:
		if code == protocol.ConnectInvalidApp {
			return &Answer{http.StatusNotFound, desc}
		}
		return &Answer{http.StatusForbidden, desc}
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
		return &Answer{http.StatusServiceUnavailable, desc}
	case cmd.Name != "onStatus":
		return nil
	}
	switch code {
	case protocol.PlayStart:
		if c.check {
			return errAuthorized
		}
		return c.startPlaying(w)
	case protocol.PlayStreamNotFound:
		return &Answer{http.StatusNotFound, desc}
	case protocol.PlayFailed:
		return &Answer{http.StatusForbidden, desc}
	}
	return nil
}

// decode decodes a command the core sent; ok is false, with no error, for
// any other message (frames, control messages and |RtmpSampleAccess,
// which are RTMP's own).
func (c *Conn) decode(m *netconn.Outgoing) (cmd protocol.Command, ok bool, err error) {
	if m.Media || m.Type != protocol.TypeCommandAMF0 {
		return cmd, false, nil
	}
	cmd, err = protocol.DecodeCommand(&c.dec, m.Type, m.Payload)
	if err != nil {
		return cmd, false, fmt.Errorf("decode the core's %v message: %w", m.Type, err)
	}
	return cmd, true, nil
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
// server (a WebSocket's after the upgrade), so that tags go out as the
// sender writes them under the Conn's own write deadline; the FLV header
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
	// The HTTP server's read deadline (for the request's header) must
	// not end the play.
	_ = nc.SetReadDeadline(time.Time{})
	var sock *egress.Socket
	c.nc, sock = socket(nc)
	c.mu.Lock()
	closed := c.closed.Load()
	if !closed {
		c.sock = sock
	}
	c.mu.Unlock()
	if closed {
		_ = sock.Close()
		return context.Cause(c.ctx)
	}
	audio, video := c.codecs()
	c.tw.header(audio, video)
	if c.wc != nil {
		c.startReader()
	}
	c.log.Debug("http play started", zap.Bool("audio", audio), zap.Bool("video", video))
	return nil
}

// socket wraps a connection taken over for the sender, returning the
// connection the socket writes to. Over plain TCP that is the TCP socket
// itself, which the sender writes with writev, and without blocking from
// a publisher's goroutine; over TLS the TLS connection, which it writes a
// copy to from a goroutine of its own. Either way the socket closes the
// connection the server accepted (which frees its admission slot), under
// the TLS one, whose Close would wait for a blocked write.
func socket(nc net.Conn) (net.Conn, *egress.Socket) {
	accepted := nc
	tc, isTLS := nc.(*tls.Conn)
	if isTLS {
		accepted = tc.NetConn()
	}
	if a, ok := accepted.(*admitted); ok && !isTLS && a.tcp != nil {
		nc = a.tcp
	}
	return nc, egress.NewSocketClosedBy(nc, accepted.Close)
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
