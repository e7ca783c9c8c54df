package rtmpconn

import (
	"cmp"
	"context"
	"errors"
	"net"
	"time"

	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
	"github.com/nimbus-media/nimbus/server/netconn"
)

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
func (c *Conn) Wake() { c.WakeInto(nil) }

// WakeInto implements egress.BatchWaker: Wake in a fan-out share with a
// send batch (egress.Share), where the write is prepared here and made
// with the rest of the share's (deferSend).
func (c *Conn) WakeInto(b *egress.SendBatch) {
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
func (c *Conn) send(blocking bool) {
	for c.drained(c.drain(blocking)) {
	}
}

// drained deals with how a drain ended, holding the sender role, and
// reports whether the caller is to drain again (more was queued meanwhile).
func (c *Conn) drained(err error) bool {
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
func (c *Conn) deferSend(sb *egress.SendBatch) bool {
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
func (c *Conn) finishSend(err error) {
	if c.drained(c.flushed(err)) {
		c.send(false)
	}
}

// Pending implements egress.Sender: the chunk writer's segments.
func (c *Conn) Pending(dst net.Buffers) net.Buffers { return c.w.Pending(dst) }

// Sent implements egress.Sender: the batch made a write of the segments
// the chunk writer handed out; written bytes went, and the socket keeps
// the rest for later; err failed the write.
func (c *Conn) Sent(segs net.Buffers, written int, err error) {
	if err == nil {
		c.sock.Keep(segs, int64(written))
	}
	c.w.Sent()
	c.finishSend(err)
}

// SendNow implements egress.Sender: the connection writes the segments
// the chunk writer handed out itself, for a batch that could not.
func (c *Conn) SendNow(segs net.Buffers) {
	_, err := c.sock.WriteBuffers(&segs)
	c.w.Sent()
	c.finishSend(err)
}

// LocalAddr implements egress.Sender.
func (c *Conn) LocalAddr() net.Addr { return c.nc.LocalAddr() }

// errSocketFull stops a non-blocking drain: the rest waits for room.
var errSocketFull = errors.New("rtmp: socket full")

// drain writes the outbox out. Non-blocking, it stops with errSocketFull
// as soon as the socket leaves something over.
func (c *Conn) drain(blocking bool) error {
	if err := c.fill(blocking); err != nil {
		return c.flushed(err)
	}
	return c.flushed(c.w.Flush())
}

// fill takes the outbox's messages into the chunk writer, after writing
// what an earlier non-blocking write left over; it stops taking them once
// the socket leaves something over again (the writer flushes by itself
// past a threshold).
func (c *Conn) fill(blocking bool) error {
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
func (c *Conn) flushed(err error) error {
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
func (c *Conn) writeOne(o netconn.Outgoing) error {
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
