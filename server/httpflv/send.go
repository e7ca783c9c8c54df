package httpflv

import (
	"context"
	"errors"
	"fmt"
	"net"
	"time"

	"github.com/gorilla/websocket"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/server/netconn"
)

// batchMax is how many messages one fill of the tag writer takes, and so
// how many tags at most go in one write.
const batchMax = 64

var (
	_ egress.Sender     = (*Conn)(nil)
	_ egress.BatchWaker = (*Conn)(nil)
)

// errSocketFull stops a non-blocking drain: the rest waits for room.
var errSocketFull = errors.New("httpflv: socket full")

// playEnded is how a drain reports that the play is over (the publisher
// left, or the core closes the connection after its last message): the
// tags before it go out, then the goodbye, then the Conn closes with
// cause.
type playEnded struct{ cause error }

func (e *playEnded) Error() string { return e.cause.Error() }
func (e *playEnded) Unwrap() error { return e.cause }

// play hands the sending over to the sender role and waits for the end
// of the play. This goroutine takes the role first and writes, blocking,
// what the handler put in the tag writer (the response's head, the FLV
// header) with what followed Play.Start in the outbox; from then on
// whoever wakes the Conn writes (Wake), and this goroutine only has a
// WebSocket client pinged.
func (c *Conn) play() error {
	// Nothing has taken the role: Wake only signalled until playing.
	c.sender.Acquire()
	c.playing.Store(true)
	c.send(true)
	var ping <-chan time.Time
	if c.wc != nil {
		t := time.NewTicker(wsPingEvery)
		defer t.Stop()
		ping = t.C
	}
	for {
		select {
		case <-ping:
			c.queuePing()
		case <-c.ctx.Done():
			return context.Cause(c.ctx)
		}
	}
}

// Wake implements netconn.Waker. While the play is set up it signals the
// handler goroutine, which feeds the core. Once playing, the caller that
// finds no one sending becomes the sender and writes there and then, as
// an RTMP player's Wake does, without waiting for the socket: for a
// player that keeps up, the publisher's goroutine writes each frame's tag
// to the socket itself, with no goroutine per player to wake. Whatever the
// socket does not take at once goes to a goroutine started for the purpose
// (SenderRole.GoSend), which waits for room under the write deadline and
// keeps sending until the outbox is empty; the subscriber queue meanwhile
// holds, and past its bound drops, the player's frames. Over TLS every
// send is handed off.
func (c *Conn) Wake() { c.WakeInto(nil) }

// WakeInto implements egress.BatchWaker: Wake in a fan-out share with a
// send batch (egress.Share), where the write is prepared here and made
// with the rest of the share's (deferSend).
func (c *Conn) WakeInto(b *egress.SendBatch) {
	if !c.playing.Load() {
		select {
		case c.wake <- struct{}{}:
		default:
		}
		return
	}
	if c.closed.Load() {
		return // the handler goroutine is releasing the play
	}
	if !c.sender.Acquire() {
		return
	}
	if !c.sock.Direct() {
		c.sender.GoSend(c.sendOff)
		return
	}
	if b != nil && c.deferSend(b) {
		return
	}
	c.send(false)
}

// send drains the outbox while it holds the sender role and gives the role
// up when the outbox is empty, or hands it off when the socket is full.
func (c *Conn) send(blocking bool) {
	for c.drained(c.drain(blocking)) {
	}
}

// drained deals with how a drain ended, holding the sender role, and
// reports whether the caller is to drain again (more was queued meanwhile).
func (c *Conn) drained(err error) bool {
	switch {
	case err == nil:
		return c.sender.Release()
	case errors.Is(err, errSocketFull):
		c.sender.GoSend(c.sendOff)
	default:
		c.end(err)
	}
	return false
}

// end ends the sending, holding the sender role: after the end of the
// play, with a goodbye, which may wait for the socket; after a failure,
// at once. Close does not wait for locks: this may run in a publisher's
// goroutine, inside the stream's fan-out.
func (c *Conn) end(err error) {
	var ended *playEnded
	if errors.As(err, &ended) && !c.closed.Load() {
		c.sender.GoSend(func() { c.goodbye(ended.cause) })
		return
	}
	c.Close(err)
	c.sender.Drop()
}

// drain writes the outbox out. Non-blocking, it stops with errSocketFull
// as soon as the socket leaves something over.
func (c *Conn) drain(blocking bool) error {
	for {
		more, err := c.fill(blocking)
		if err = c.flush(err); err != nil || !more {
			return err
		}
	}
}

// deferSend fills the tag writer like a non-blocking drain, but hands the
// write to the fan-out's batch, which makes it together with the other
// players' and then calls Sent. It reports false, having done nothing,
// when the socket needs a drain of its own: in blocking mode, or with
// bytes left over from an earlier write.
func (c *Conn) deferSend(b *egress.SendBatch) bool {
	if c.sock.Blocking() || c.sock.Pending() > 0 {
		return false
	}
	more, err := c.fill(false)
	if err == nil && !more {
		b.Add(c, c.sock.FD())
		return true
	}
	// More is queued than one write takes (a player catching up), or
	// the play ended: the drain goes on by itself.
	if err = c.flush(err); err == nil && more {
		err = c.drain(false)
	}
	c.finishSend(err)
	return true
}

// finishSend ends a drain whose write came back with err, holding the
// sender role, and drains again if more was queued meanwhile.
func (c *Conn) finishSend(err error) {
	if c.drained(err) {
		c.send(false)
	}
}

// Pending implements egress.Sender: the tag writer's pieces.
func (c *Conn) Pending(dst net.Buffers) net.Buffers { return c.tw.appendBuffers(dst) }

// Sent implements egress.Sender: the batch wrote written bytes of the
// tag writer's pieces, and the socket keeps the rest for later; err
// failed the write.
func (c *Conn) Sent(segs net.Buffers, written int, err error) {
	if err == nil {
		c.sock.Keep(segs, int64(written))
		c.bytesOut.Add(uint64(c.tw.size()))
	}
	c.tw.reset()
	c.finishSend(c.settle(writeErr(err)))
}

// SendNow implements egress.Sender: the Conn writes the tag writer's
// pieces itself, for a batch that could not.
func (c *Conn) SendNow(segs net.Buffers) {
	c.vec = segs
	n, err := c.sock.WriteBuffers(&c.vec)
	c.vec = nil
	c.bytesOut.Add(uint64(n))
	c.tw.reset()
	c.finishSend(c.settle(writeErr(err)))
}

// LocalAddr implements egress.Sender.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// fill takes up to batchMax of the outbox's messages into the tag writer,
// after writing what an earlier non-blocking write left over; more
// reports that the outbox may hold more. It fails with errSocketFull
// when the socket still leaves some of that over, and with a playEnded
// at the end of the play.
func (c *Conn) fill(blocking bool) (more bool, err error) {
	if c.closed.Load() {
		return false, context.Cause(c.ctx)
	}
	if err := c.setMode(blocking); err != nil {
		return false, err
	}
	if done, err := c.sock.FlushPending(); err != nil {
		return false, writeErr(err)
	} else if !done {
		return false, errSocketFull
	}
	if c.ctrlDue.Load() {
		c.addControl()
	}
	out := c.core.Outbox()
	var scratch [16]netconn.Outgoing
	for n := 0; n < batchMax; n += len(scratch) {
		batch := out.NextBatch(scratch[:0], len(scratch))
		for i := range batch {
			if err == nil {
				err = c.playOne(&batch[i])
			}
		}
		clear(batch)
		if err != nil {
			return false, err
		}
		if len(batch) < len(scratch) {
			// The outbox was empty: what is queued from now on wakes
			// the sender, and send goes round again (SenderRole.Release).
			if cause := out.Closing(); cause != nil {
				return false, &playEnded{cause}
			}
			return false, nil
		}
	}
	return true, nil
}

// playOne takes one message of the outbox into the tag writer: the play's
// frames become tags, and the stream's end ends the play.
func (c *Conn) playOne(m *netconn.Outgoing) error {
	if m.Media {
		if m.StreamID == c.streamID {
			c.tw.tag(m.Type, c.clock.stamp(m.Timestamp, m.SeqHeader), m.Payload)
		}
		return nil
	}
	cmd, ok, err := c.decode(m)
	if !ok {
		return err
	}
	if code, _ := status(&cmd); cmd.Name == "onStatus" && code == protocol.PlayUnpublishNotify {
		return &playEnded{ErrUnpublished}
	}
	return nil
}

// setMode puts the socket in blocking or non-blocking mode, with the
// write deadline to match.
func (c *Conn) setMode(blocking bool) error {
	if c.sock.Blocking() != blocking {
		c.sock.SetBlocking(blocking)
		if !blocking {
			// A write deadline, even a past one, must not fail the
			// non-blocking writes; they never wait.
			c.writeDeadline = time.Time{}
			if err := c.nc.SetWriteDeadline(time.Time{}); err != nil {
				return fmt.Errorf("clear the write deadline: %w", err)
			}
		}
	}
	if blocking {
		// Re-arming the deadline per write is wasted work; keep it
		// within a second of exact.
		timeout := c.srv.cfg.WriteTimeout.Duration
		if now := time.Now(); c.writeDeadline.Sub(now) < timeout-time.Second {
			c.writeDeadline = now.Add(timeout)
			if err := c.nc.SetWriteDeadline(c.writeDeadline); err != nil {
				return fmt.Errorf("set the write deadline: %w", err)
			}
		}
	}
	return nil
}

// flush writes what fill gathered and tells how the drain stands: the
// write's error, else fill's (the end of the play comes after its last
// tags), else errSocketFull when the socket kept some back.
func (c *Conn) flush(fillErr error) error {
	if err := c.write(); err != nil {
		return err
	}
	if fillErr != nil {
		return fillErr
	}
	return c.settle(nil)
}

// settle is a write's outcome for the drain: err, or errSocketFull when
// the socket kept some of it back.
func (c *Conn) settle(err error) error {
	if err == nil && c.sock.Pending() > 0 {
		return errSocketFull
	}
	return err
}

// write hands what the tag writer holds to the socket: on a direct socket
// one vectored write, whose rest the socket keeps in non-blocking mode
// (Socket.Pending); over TLS one copied write, as a vectored write would
// be a record per piece.
func (c *Conn) write() error {
	if c.tw.empty() {
		return nil
	}
	defer c.tw.reset()
	if c.sock.Direct() {
		c.vec = c.tw.buffers()
		n, err := c.sock.WriteBuffers(&c.vec)
		c.vec = nil
		c.bytesOut.Add(uint64(n))
		return writeErr(err)
	}
	buf := c.coalesced[:0]
	for _, s := range c.tw.buffers() {
		buf = append(buf, s...)
	}
	n, err := c.sock.Write(buf)
	c.bytesOut.Add(uint64(n))
	c.coalesced = buf[:0]
	if cap(buf) > 1<<20 {
		c.coalesced = nil // a burst of large frames: do not keep its buffer
	}
	return writeErr(err)
}

// writeErr says that err, if any, failed a write.
func writeErr(err error) error {
	if err != nil {
		return fmt.Errorf("write: %w", err)
	}
	return nil
}

// goodbye ends a play that is over, on a sender goroutine, as it may wait
// for the socket: what the socket kept back goes, then a WebSocket's
// close frame (1000 for the end of the stream, 1001 when the server or
// the application sends the client away), and the Conn closes with cause.
func (c *Conn) goodbye(cause error) {
	err := c.setMode(true)
	if err == nil {
		_, err = c.sock.FlushPending()
	}
	if err == nil && c.wc != nil {
		code := websocket.CloseGoingAway
		if errors.Is(cause, ErrUnpublished) {
			code = websocket.CloseNormalClosure
		}
		c.tw.scratch = appendWSControl(c.tw.scratch, opClose, websocket.FormatCloseMessage(code, ""))
		err = c.write()
	}
	if err != nil {
		c.log.Debug("goodbye not sent", zap.Error(err))
	}
	c.Close(cause)
	c.sender.Drop()
}
