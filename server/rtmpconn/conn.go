// Package rtmpconn is the RTMP transport's glue: it serves an RTMP
// connection (and RTMPS, RTMPE, RTMPT ones) to the NetConnection layer
// (package netconn): the handshake, a read loop that may park while the
// client is quiet (egress.Poller), and sends from whichever goroutine
// queued something, batched in a fan-out share (egress.Share). It also opens the
// RTMPS and RTMPT listeners; admitting connections is the server's.
package rtmpconn

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/config"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// Chunk stream IDs the server writes on (nginx-rtmp's convention): protocol
// control on 2 as RTMP requires, commands on 3, data on 5, audio on 6 and
// video on 7, so audio and video never share a chunk stream mid-message.
const (
	csidControl = 2
	csidCommand = 3
	csidData    = 5
	csidAudio   = 6
	csidVideo   = 7
)

// errIdle is the close reason for a client silent past the idle timeout.
var errIdle = errors.New("rtmp: idle timeout")

// Conn is the RTMP transport of one client: a reader goroutine that
// decodes chunks into messages for the NetConnection core (which a quiet
// connection gives up while it waits for input, see poller), and a sender
// role that drains the core's outbox into the chunk writer from whichever
// goroutine queued something (Wake).
type Conn struct {
	id    string
	nc    net.Conn
	proto string // "rtmp", "rtmps" or "rtmpt"; after an RTMPE handshake "rtmpe" or "rtmpte"
	// refused counts a refusal by a limit, for metrics.
	refused func(limit string)
	cfg     config.RTMPConfig
	log     *zap.Logger
	core    *netconn.Conn

	ctx    context.Context
	cancel context.CancelCauseFunc

	lastRead  atomic.Int64 // unix nanoseconds of the last byte received
	bytesIn   atomic.Uint64
	bytesOut  atomic.Uint64
	closeOnce sync.Once
	closed    atomic.Bool // set by Close; cheaper than ctx.Err on the send path
	// fd closes the socket, or leaves that to the send batch writing to
	// it (egress.SharedFD); it stays the TCP socket's after encrypt.
	fd         *egress.SharedFD
	peerWindow uint32       // reader goroutine only
	lastAck    uint64       // reader goroutine only
	reader     *rtmp.Reader // reader goroutine only
	pingTimer  *time.Timer
	start      time.Time
	done       func() // reports the connection ended (Run)

	// readDeadline is the read deadline set last; reader goroutine only,
	// like the fields below, which a parked connection keeps for the
	// goroutine that resumes it.
	readDeadline time.Time
	poll         *egress.PollHandle    // nil: the reader never parks
	awaitFn      func(fd uintptr) bool // c.await, made once
	awaitCalls   int

	// sender is the role of writing to the socket (Wake); its holder owns
	// the state below.
	sender        netconn.SenderRole
	w             *rtmp.Writer
	sock          *egress.Socket
	writeDeadline time.Time
	flushedOut    uint64 // bytes already added to bytesOut
}

// Deps is what an RTMP connection needs of the server.
type Deps struct {
	// Apps is the application registry the client connects to.
	Apps *apps.Registry
	// Core is the NetConnection layer's settings for the connection.
	Core *netconn.Config
	// Refused counts a refusal by a limit, for metrics.
	Refused func(limit string)
	// Poller holds the readers of quiet connections; nil: the reader
	// never parks.
	Poller *egress.Poller
}

// New makes the transport of one accepted connection, proto "rtmp",
// "rtmps" or "rtmpt"; Run serves it.
func New(id string, nc net.Conn, proto string, cfg config.RTMPConfig, log *zap.Logger, d Deps) *Conn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &Conn{id: id, nc: nc, proto: proto, cfg: cfg, log: log, ctx: ctx, cancel: cancel, refused: d.Refused,
		sock: egress.NewSocket(nc)}
	c.fd = c.sock.FD()
	c.w = rtmp.NewWriter(c.sock)
	if d.Poller != nil {
		c.poll = d.Poller.Handle(c, c.sock.RawConn())
		c.awaitFn = c.await
	}
	c.core = netconn.NewConn(id, c, d.Apps, d.Core, log)
	c.core.Outbox().SetWaker(c)
	return c
}

// Protocol implements netconn.Transport.
func (c *Conn) Protocol() string { return c.proto }

// RemoteAddr implements netconn.Transport.
func (c *Conn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Silence implements netconn.Transport.
func (c *Conn) Silence() time.Duration {
	return time.Since(time.Unix(0, c.lastRead.Load()))
}

// Stats implements netconn.Transport.
func (c *Conn) Stats() netconn.TransportStats {
	return netconn.TransportStats{BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load()}
}

// Shutdown tells a connected client the server is going away; one still
// handshaking is simply closed.
func (c *Conn) Shutdown() { c.core.Shutdown(c.Close) }

// Close implements netconn.Transport.
func (c *Conn) Close(cause error) {
	c.closeOnce.Do(func() {
		c.closed.Store(true)
		c.cancel(cause)
		_ = c.fd.Close()
		if c.poll != nil {
			c.poll.Wake() // a parked reader ends the connection
		}
	})
}

var (
	_ netconn.Transport = (*Conn)(nil)
	_ egress.Parker     = (*Conn)(nil)
	_ egress.Sender     = (*Conn)(nil)
	_ egress.BatchWaker = (*Conn)(nil)
)

// Resume implements egress.Parker: a reader goroutine takes the parked
// read loop up again.
func (c *Conn) Resume() { go c.serve() }

// Closed implements egress.Parker.
func (c *Conn) Closed() bool { return c.closed.Load() }

// Context implements netconn.Transport: cancelled by Close.
func (c *Conn) Context() context.Context { return c.ctx }

// FarID implements netconn.Transport: RTMP has no transport-level identity
// for the client.
func (c *Conn) FarID() string { return "" }

// ConnectInfo implements netconn.Transport: RTMP adds nothing to the
// connect result.
func (c *Conn) ConnectInfo() []amf.Property { return nil }

// ConnectResultSent implements netconn.Transport: nothing follows the
// connect result over RTMP.
func (c *Conn) ConnectResultSent(*netconn.Outbox) error { return nil }

// ConnectAccepted queues the messages AMS sends before the connect _result:
// window acknowledgement size, peer bandwidth (dynamic), StreamBegin 0 and
// our chunk size. The chunk size goes before any message over 128 bytes,
// which OBS needs.
func (c *Conn) ConnectAccepted(out *netconn.Outbox) error {
	msgs := []protocol.Message{
		{Type: protocol.TypeWindowAckSize, Payload: rtmp.AppendWindowAckSize(nil, c.cfg.AckWindow)},
		{Type: protocol.TypeSetPeerBandwidth, Payload: rtmp.AppendSetPeerBandwidth(nil, c.cfg.AckWindow, 2)},
		{Type: protocol.TypeUserControl, Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: protocol.EventStreamBegin})},
		{Type: protocol.TypeSetChunkSize, Payload: rtmp.AppendSetChunkSize(nil, c.cfg.ChunkSize)},
	}
	for _, m := range msgs {
		if err := out.Push(m); err != nil {
			return err
		}
	}
	return nil
}

// Run serves the connection from its accepting goroutine: the handshake,
// then the read loop (serve). done is called once the connection has ended
// and the core has released the client's streams, by whichever goroutine
// ends it: a quiet connection parks its reader (poller), and a goroutine
// started when it wakes carries on.
func (c *Conn) Run(done func()) {
	c.done = done
	c.start = time.Now()
	c.lastRead.Store(c.start.UnixNano())
	if err := c.handshake(); err != nil {
		c.Close(err)
		c.finish()
		return
	}
	c.reader = rtmp.NewReader(countingReader{c}, c.cfg.MaxMessageSize)
	c.pingTimer = time.AfterFunc(c.cfg.PingInterval.Duration, c.ping)
	c.serve()
}

// serve runs the read loop until the connection ends or parks.
func (c *Conn) serve() {
	err := c.readLoop()
	if err == errParked {
		return
	}
	switch {
	case errors.Is(err, rtmp.ErrMessageTooLarge), errors.Is(err, rtmp.ErrReassemblyLimit):
		c.refused("message_size")
	case errors.Is(err, rtmp.ErrInvalidChunkSize):
		c.refused("chunk_size")
	}
	if errors.Is(err, errIdle) {
		// Tell the client why, then let the sender flush and close.
		c.core.Disconnect(protocol.ConnectIdleTimeOut, "Connection idle too long.", errIdle)
		t := time.NewTimer(c.cfg.WriteTimeout.Duration)
		select {
		case <-c.ctx.Done():
		case <-t.C:
		}
		t.Stop()
	}
	c.Close(err)
	c.pingTimer.Stop()
	c.sender.Stop()
	c.finish()
}

// finish releases the client and reports the connection done.
func (c *Conn) finish() {
	c.core.Close()
	cause := context.Cause(c.ctx)
	fields := []zap.Field{zap.Duration("duration", time.Since(c.start)),
		zap.Uint64("bytes_in", c.bytesIn.Load()), zap.Uint64("bytes_out", c.bytesOut.Load())}
	switch {
	case cause == nil, errors.Is(cause, io.EOF), errors.Is(cause, net.ErrClosed), errors.Is(cause, context.Canceled):
		c.log.Info("closed", fields...)
	default:
		c.log.Info("closed", append(fields, zap.Error(cause))...)
	}
	c.done()
}

func (c *Conn) handshake() error {
	if err := c.nc.SetDeadline(time.Now().Add(c.cfg.HandshakeTimeout.Duration)); err != nil {
		return err
	}
	// RTMPE inside TLS would only add cost: RTMPS clients do not get it.
	info, err := rtmp.ServerHandshake(c.nc, c.cfg.RTMPE && c.proto != "rtmps")
	if err != nil {
		return fmt.Errorf("handshake: %w", err)
	}
	c.bytesIn.Add(1537 + 1536)
	c.bytesOut.Add(1 + 2*1536)
	if info.RTMPE != nil {
		c.encrypt(info.RTMPE)
	}
	c.log.Debug("handshake done", zap.Bool("digest", info.Digest), zap.Uint8("version", info.Version))
	return c.nc.SetDeadline(time.Time{})
}

// encrypt puts the RTMPE ciphers between the connection and its chunk
// reader and writer. The socket it writes through is then not direct, which
// keeps the connection off every path that hands the kernel bytes it did not
// encipher: send batches and non-blocking writes from the publisher's
// goroutine (Wake), and the poller's parking (parks). The pre-chunked frames
// shared by players (writeOne) still serve it: the cipher reads them and
// writes its own copy. Its sends go through a goroutine as
// RTMPS ones do. Nothing else uses the socket or the writer before the
// handshake ends: the reader goroutine calls this, and the client has no
// application to be sent anything by.
func (c *Conn) encrypt(ciphers *rtmp.Ciphers) {
	c.proto += "e" // rtmpe, AMS's name (and rtmpte for a tunnelled rtmpt)
	c.log = c.log.With(zap.String("encryption", "rtmpe"))
	c.sock = egress.NewSocket(rtmp.NewRTMPEConn(c.nc, ciphers))
	c.w = rtmp.NewWriter(c.sock)
}
