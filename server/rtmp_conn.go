package server

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
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

// rtmpConn is the RTMP transport of one client: a reader goroutine that
// decodes chunks into messages for the NetConnection core (which a quiet
// connection gives up while it waits for input, see poller), and a sender
// role that drains the core's outbox into the chunk writer from whichever
// goroutine queued something (Wake).
type rtmpConn struct {
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
	done       func() // reports the connection ended (run)

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

// newRTMPConn makes the transport of one accepted connection; core is set
// by the caller before run.
func newRTMPConn(id string, nc net.Conn, proto string, cfg config.RTMPConfig, log *zap.Logger, refused func(string)) *rtmpConn {
	ctx, cancel := context.WithCancelCause(context.Background())
	c := &rtmpConn{id: id, nc: nc, proto: proto, cfg: cfg, log: log, ctx: ctx, cancel: cancel, refused: refused,
		sock: egress.NewSocket(nc)}
	c.fd = c.sock.FD()
	c.w = rtmp.NewWriter(c.sock)
	return c
}

func (c *rtmpConn) Protocol() string     { return c.proto }
func (c *rtmpConn) RemoteAddr() net.Addr { return c.nc.RemoteAddr() }

// Silence implements netconn.Transport.
func (c *rtmpConn) Silence() time.Duration {
	return time.Since(time.Unix(0, c.lastRead.Load()))
}

// Stats implements netconn.Transport.
func (c *rtmpConn) Stats() netconn.TransportStats {
	return netconn.TransportStats{BytesIn: c.bytesIn.Load(), BytesOut: c.bytesOut.Load()}
}

// Shutdown tells a connected client the server is going away; one still
// handshaking is simply closed.
func (c *rtmpConn) Shutdown() { c.core.Shutdown(c.Close) }

// Close implements netconn.Transport.
func (c *rtmpConn) Close(cause error) {
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
	_ netconn.Transport = (*rtmpConn)(nil)
	_ egress.Parker     = (*rtmpConn)(nil)
	_ egress.Sender     = (*rtmpConn)(nil)
)

// Resume implements egress.Parker: a reader goroutine takes the parked
// read loop up again.
func (c *rtmpConn) Resume() { go c.serve() }

// Closed implements egress.Parker.
func (c *rtmpConn) Closed() bool { return c.closed.Load() }

// Context implements netconn.Transport: cancelled by Close.
func (c *rtmpConn) Context() context.Context { return c.ctx }

// FarID implements netconn.Transport: RTMP has no transport-level identity
// for the client.
func (c *rtmpConn) FarID() string { return "" }

// ConnectInfo implements netconn.Transport: RTMP adds nothing to the
// connect result.
func (c *rtmpConn) ConnectInfo() []amf.Property { return nil }

// ConnectResultSent implements netconn.Transport: nothing follows the
// connect result over RTMP.
func (c *rtmpConn) ConnectResultSent(*netconn.Outbox) error { return nil }

// ConnectAccepted queues the messages AMS sends before the connect _result:
// window acknowledgement size, peer bandwidth (dynamic), StreamBegin 0 and
// our chunk size. The chunk size goes before any message over 128 bytes,
// which OBS needs.
func (c *rtmpConn) ConnectAccepted(out *netconn.Outbox) error {
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

// run serves the connection from its accepting goroutine: the handshake,
// then the read loop (serve). done is called once the connection has ended
// and the core has released the client's streams, by whichever goroutine
// ends it: a quiet connection parks its reader (poller), and a goroutine
// started when it wakes carries on.
func (c *rtmpConn) run(done func()) {
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
func (c *rtmpConn) serve() {
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
func (c *rtmpConn) finish() {
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

func (c *rtmpConn) handshake() error {
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
func (c *rtmpConn) encrypt(ciphers *rtmp.Ciphers) {
	c.proto += "e" // rtmpe, AMS's name (and rtmpte for a tunnelled rtmpt)
	c.log = c.log.With(zap.String("encryption", "rtmpe"))
	c.sock = egress.NewSocket(rtmp.NewRTMPEConn(c.nc, ciphers))
	c.w = rtmp.NewWriter(c.sock)
}

// countingReader counts bytes as they arrive and records when, which the
// idle and publisher-takeover rules depend on.
type countingReader struct{ c *rtmpConn }

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.c.sock.Read(p)
	if n > 0 {
		r.c.bytesIn.Add(uint64(n))
		r.c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// InputPending implements netconn.Transport: the reader holds more
// bytes, or the socket has some queued (reader goroutine only).
func (c *rtmpConn) InputPending() bool {
	return c.reader.Buffered() > 0 || c.sock.QueuedInput() > 0
}

// parks reports whether the reader may give up its goroutine while the
// client is quiet: the poller watches the socket itself and inputWithin
// reads it directly, which only a direct socket allows.
func (c *rtmpConn) parks() bool { return c.poll != nil && c.sock.Direct() }

// errParked ends a read loop whose connection parked (poller).
var errParked = errors.New("rtmp: parked")

// parkDelay is how long a quiet reader waits for input before it parks. A
// client setting up (connect, createStream, play, each after a round trip)
// keeps its goroutine, so its next command is read at once rather than
// after a trip through the poller, which a saturated server makes slow; a
// player that only acknowledges every few seconds parks almost all the
// time.
const parkDelay = 250 * time.Millisecond

// inputWithin reports whether input arrives within d, without reading it:
// false means the socket stayed empty and the connection may park.
// Reader goroutine only.
func (c *rtmpConn) inputWithin(d time.Duration) bool {
	c.readDeadline = time.Now().Add(d) // the loop re-arms the idle deadline after
	if err := c.nc.SetReadDeadline(c.readDeadline); err != nil {
		return true // let the read report it
	}
	c.awaitCalls = 0
	err := c.sock.RawConn().Read(c.awaitFn)
	return !errors.Is(err, os.ErrDeadlineExceeded)
}

// await is inputWithin's RawConn.Read function: the first call checks for
// bytes already queued (the runtime's poller only reports new ones) and
// asks to wait if there are none; the call after the wait accepts.
func (c *rtmpConn) await(fd uintptr) bool {
	c.awaitCalls++
	if c.awaitCalls > 1 {
		return true
	}
	return egress.InputQueued(fd) > 0
}

// readLoop reads and handles messages until the connection fails or
// parks. A connection parks when the reader holds no bytes and the client
// publishes nothing: its goroutine ends, and the poller starts another
// here when the socket becomes readable.
func (c *rtmpConn) readLoop() error {
	r := c.reader
	idle := c.cfg.IdleTimeout.Duration
	if c.Silence() >= idle {
		return errIdle // woken by the ping timer's idle check
	}
	// The first read after a wake-up goes ahead: the socket is readable
	// (or closed), and parking again at once would only wake again.
	for first := true; ; first = false {
		if !first && c.parks() && r.Buffered() == 0 && !c.core.Publishing() && !c.inputWithin(parkDelay) {
			r.Release()
			if c.poll.Park() {
				return errParked
			}
			if c.Silence() >= idle {
				return errIdle // the idle check's wake-up came while parking
			}
		}
		// Re-arming the deadline per message is wasted work on a busy
		// publisher; keep it within a second of exact.
		if now := time.Now(); c.readDeadline.Sub(now) < idle-time.Second {
			c.readDeadline = now.Add(idle)
			if err := c.nc.SetReadDeadline(c.readDeadline); err != nil {
				return err
			}
		}
		m, err := r.ReadMessage()
		if err != nil {
			var ne net.Error
			if errors.As(err, &ne) && ne.Timeout() {
				return errIdle
			}
			return err
		}
		if c.peerWindow > 0 && r.BytesRead()-c.lastAck >= uint64(c.peerWindow) {
			c.lastAck = r.BytesRead()
			if err := c.core.Outbox().Push(protocol.Message{Type: protocol.TypeAck, Payload: rtmp.AppendAck(nil, uint32(c.lastAck))}); err != nil {
				return err
			}
		}
		if err := c.handle(m); err != nil {
			return err
		}
	}
}

func (c *rtmpConn) handle(m protocol.Message) error {
	switch m.Type {
	case protocol.TypeSetChunkSize, protocol.TypeAbort, protocol.TypeAck, protocol.TypeSetPeerBandwidth:
		return nil // the chunk reader applies chunk size and abort; we do not throttle on acks
	case protocol.TypeWindowAckSize:
		w, err := rtmp.ParseUint32(m.Payload)
		if err != nil {
			return fmt.Errorf("window ack size: %w", err)
		}
		c.peerWindow = w
		return nil
	case protocol.TypeUserControl:
		uc, err := protocol.ParseUserControl(m.Payload)
		if err != nil {
			return fmt.Errorf("user control: %w", err)
		}
		if uc.Event == protocol.EventPingRequest {
			return c.core.Outbox().Push(protocol.Message{Type: protocol.TypeUserControl,
				Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: protocol.EventPingResponse, Timestamp: uc.Timestamp})})
		}
		return nil
	case protocol.TypeAggregate:
		return rtmp.SplitAggregate(m, c.core.HandleMessage)
	}
	return c.core.HandleMessage(m)
}

func csidFor(m *protocol.Message) uint32 {
	switch {
	case m.Type.IsControl():
		return csidControl
	case m.Type == protocol.TypeAudio:
		return csidAudio
	case m.Type == protocol.TypeVideo:
		return csidVideo
	case m.Type == protocol.TypeDataAMF0 || m.Type == protocol.TypeDataAMF3:
		return csidData
	}
	return csidCommand
}

// Wake implements netconn.Waker: something is queued. The caller that
// finds no one sending becomes the sender and writes there and then,
// without waiting for the socket: for a player that keeps up, the
// publisher's goroutine writes each frame to every player's socket itself,
// with no goroutine per player to wake. Whatever the socket does not take
// at once goes to a goroutine started for the purpose (sender.GoSend),
// which waits for room under the write deadline and keeps sending until
// the outbox is empty; the subscriber queues meanwhile hold, and past
// their bound drop, the player's media. Over TLS every send is handed off.
func (c *rtmpConn) Wake() { c.wakeInto(nil) }

// wakeInto is Wake in a fan-out share with a send batch (shareRTMP): the
// write is prepared here and made with the rest of the share's
// (deferSend).
func (c *rtmpConn) wakeInto(b *egress.SendBatch) {
	if c.closed.Load() {
		return // closed: the reader goroutine is releasing the streams
	}
	if !c.sender.Acquire() {
		return
	}
	if !c.sock.Direct() {
		c.sender.GoSend(func() { c.send(true) })
		return
	}
	if b != nil && c.deferSend(b) {
		return
	}
	c.send(false)
}

// send drains the outbox while it holds the sender role and gives the role
// up when the outbox is empty, or hands it off when the socket is full.
func (c *rtmpConn) send(blocking bool) {
	for c.drained(c.drain(blocking)) {
	}
}

// drained deals with how a drain ended, holding the sender role, and
// reports whether the caller is to drain again (more was queued meanwhile).
func (c *rtmpConn) drained(err error) bool {
	if errors.Is(err, errSocketFull) {
		c.sender.GoSend(func() { c.send(true) })
		return false
	}
	if err != nil {
		// Close does not wait for locks: this may run in a
		// publisher's goroutine, inside the stream's fan-out.
		c.Close(err)
		c.sender.Drop()
		return false
	}
	return c.sender.Release()
}

// deferSend drains the outbox into the chunk writer like a non-blocking
// drain, but hands the write to the fan-out's batch, which makes it
// together with the other players' and then calls sent. It reports false,
// having done nothing, when the socket needs a drain of its own: in
// blocking mode, or with bytes left over from an earlier write.
func (c *rtmpConn) deferSend(sb *egress.SendBatch) bool {
	if c.sock.Blocking() || c.sock.Pending() > 0 {
		return false
	}
	err := c.fill(false)
	if err == nil && c.sock.Pending() == 0 {
		sb.Add(c, c.fd)
		return true
	}
	// The writer flushed a large backlog itself and the socket left some
	// of it over (or fill failed): the rest goes after that.
	if err == nil {
		err = c.w.Flush()
	}
	c.finishSend(err)
	return true
}

// finishSend ends a drain whose write came back with err, holding the
// sender role, and drains again if more was queued meanwhile.
func (c *rtmpConn) finishSend(err error) {
	if c.drained(c.flushed(err)) {
		c.send(false)
	}
}

// Pending implements egress.Sender: the chunk writer's segments.
func (c *rtmpConn) Pending(dst net.Buffers) net.Buffers { return c.w.Pending(dst) }

// Sent implements egress.Sender: the batch made a write of the segments
// the chunk writer handed out; written bytes went, and the socket keeps
// the rest for later; err failed the write.
func (c *rtmpConn) Sent(segs net.Buffers, written int, err error) {
	if err == nil {
		c.sock.Keep(segs, int64(written))
	}
	c.w.Sent()
	c.finishSend(err)
}

// SendNow implements egress.Sender: the connection writes the segments
// the chunk writer handed out itself, for a batch that could not.
func (c *rtmpConn) SendNow(segs net.Buffers) {
	_, err := c.sock.WriteBuffers(&segs)
	c.w.Sent()
	c.finishSend(err)
}

// LocalAddr implements egress.Sender.
func (c *rtmpConn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// errSocketFull stops a non-blocking drain: the rest waits for room.
var errSocketFull = errors.New("rtmp: socket full")

// drain writes the outbox out. Non-blocking, it stops with errSocketFull
// as soon as the socket leaves something over.
func (c *rtmpConn) drain(blocking bool) error {
	if err := c.fill(blocking); err != nil {
		return c.flushed(err)
	}
	return c.flushed(c.w.Flush())
}

// fill takes the outbox's messages into the chunk writer, after writing
// what an earlier non-blocking write left over; it stops taking them once
// the socket leaves something over again (the writer flushes by itself
// past a threshold).
func (c *rtmpConn) fill(blocking bool) error {
	if c.closed.Load() {
		return context.Cause(c.ctx)
	}
	if c.sock.Blocking() != blocking {
		c.sock.SetBlocking(blocking)
		if !blocking {
			// A write deadline, even a past one, must not fail the
			// non-blocking writes; they never wait.
			c.writeDeadline = time.Time{}
			if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
				return err
			}
		}
	}
	if blocking {
		// Re-arming the deadline per wake-up is wasted work; keep it
		// within a second of exact.
		now := time.Now()
		if c.writeDeadline.Sub(now) < c.cfg.WriteTimeout.Duration-time.Second {
			c.writeDeadline = now.Add(c.cfg.WriteTimeout.Duration)
			if err := c.nc.SetWriteDeadline(c.writeDeadline); err != nil {
				return err
			}
		}
	}
	if done, err := c.sock.FlushPending(); err != nil || !done {
		return cmp.Or(err, errSocketFull)
	}
	out := c.core.Outbox()
	var scratch [8]netconn.Outgoing
	for c.sock.Pending() == 0 {
		// Once the socket leaves something over, stop taking frames off
		// the subscriber queues: there they are bounded and dropped to a
		// keyframe if it comes to that.
		batch := out.NextBatch(scratch[:0], len(scratch))
		for i := range batch {
			if err := c.writeOne(batch[i]); err != nil {
				return err
			}
		}
		clear(batch)
		if len(batch) < len(scratch) {
			// The outbox was empty: what is queued from now on wakes
			// the sender, and send goes round again (sender.Release).
			break
		}
	}
	return nil
}

// flushed ends a drain whose fill and flush (or batched write) came back
// with err: errSocketFull when the socket left something over, the
// outbox's close reason once everything went after CloseAfterFlush.
func (c *rtmpConn) flushed(err error) error {
	c.bytesOut.Add(c.w.BytesWritten() - c.flushedOut)
	c.flushedOut = c.w.BytesWritten()
	if err != nil {
		return err
	}
	if c.sock.Pending() > 0 {
		return errSocketFull
	}
	return c.core.Outbox().Closing()
}

// writeOne hands one outgoing message to the chunk writer: live frames as
// the chunks shared by every player with the same chunk size, the rest
// chunked for this connection.
func (c *rtmpConn) writeOne(o netconn.Outgoing) error {
	w := c.w
	csid := csidFor(&o.Message)
	// Over TLS a vectored write is a record per segment: copy instead.
	// Over RTMPT it is a copy per segment into the session's buffer, and
	// RTMPE enciphers each segment into a scratch buffer, which costs no
	// more than the copy.
	if c.proto != "rtmps" && o.Frame != nil && o.StreamID <= 0xffffff {
		chunkSize := w.ChunkSize()
		key := uint64(chunkSize)<<40 | uint64(csid)<<24 | uint64(o.StreamID)
		chunks := o.Frame.Encoded(key, func() [][]byte {
			return rtmp.ChunkVector(csid, o.Message, chunkSize)
		})
		if err := w.WritePrechunked(csid, o.Message, chunks); err != nil {
			return err
		}
	} else if err := w.WriteMessage(csid, o.Message); err != nil {
		return err
	}
	if o.Type == protocol.TypeSetChunkSize {
		size, err := rtmp.ParseUint32(o.Payload)
		if err != nil {
			return err
		}
		w.SetChunkSize(size)
	}
	return nil
}

// ping asks a silent client for a ping response every PingInterval, so
// that a dead peer is noticed by the idle timeout. A parked reader has no
// read deadline, so the timer also runs the idle check for it.
func (c *rtmpConn) ping() {
	if c.ctx.Err() != nil {
		return
	}
	silence, idle := c.Silence(), c.cfg.IdleTimeout.Duration
	if c.parks() && silence >= idle {
		c.poll.Wake()
	}
	if silence >= c.cfg.PingInterval.Duration {
		ts := uint32(time.Now().UnixMilli())
		if err := c.core.Outbox().Push(protocol.Message{Type: protocol.TypeUserControl,
			Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: protocol.EventPingRequest, Timestamp: ts})}); err != nil {
			c.Close(err)
			return
		}
	}
	next := c.cfg.PingInterval.Duration
	if rest := idle - silence; c.parks() && rest > 0 && rest < next {
		next = rest
	}
	c.pingTimer.Reset(next)
}
