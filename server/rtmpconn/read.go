package rtmpconn

import (
	"errors"
	"fmt"
	"net"
	"os"
	"time"

	"github.com/nimbus-media/nimbus/internal/egress"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmp"
)

// countingReader counts bytes as they arrive and records when, which the
// idle and publisher-takeover rules depend on.
type countingReader struct{ c *Conn }

func (r countingReader) Read(p []byte) (int, error) {
	n, err := r.c.sock.Read(p)
	if n > 0 {
		r.c.bytesIn.Add(uint64(n))
		r.c.lastRead.Store(time.Now().UnixNano())
	}
	return n, err
}

// InputPending implements netconn.Transport: the reader holds more
// bytes, or the socket has some queued (reader goroutine only). The
// socket is asked only when the last read was a while ago: input piles
// up behind a fan-out that takes long, and asking costs a system call per
// message, which a publisher of many small streams cannot spare.
func (c *Conn) InputPending() bool {
	if c.reader.Buffered() > 0 {
		return true
	}
	if time.Since(time.Unix(0, c.lastRead.Load())) < pileUpAfter {
		return false
	}
	return c.sock.QueuedInput() > 0
}

// pileUpAfter is how long after a read input is worth looking for: a
// fan-out shorter than this has not let a backlog build.
const pileUpAfter = 2 * time.Millisecond

// parks reports whether the reader may give up its goroutine while the
// client is quiet: the poller watches the socket itself and inputWithin
// reads it directly, which only a direct socket allows.
func (c *Conn) parks() bool { return c.poll != nil && c.sock.Direct() }

// errParked ends a read loop whose connection parked (poller).
var errParked = errors.New("rtmp: parked")

// ParkDelay is how long a quiet reader waits for input before it parks. A
// client setting up (connect, createStream, play, each after a round trip)
// keeps its goroutine, so its next command is read at once rather than
// after a trip through the poller, which a saturated server makes slow; a
// player that only acknowledges every few seconds parks almost all the
// time.
const ParkDelay = 250 * time.Millisecond

// inputWithin reports whether input arrives within d, without reading it:
// false means the socket stayed empty and the connection may park.
// Reader goroutine only.
func (c *Conn) inputWithin(d time.Duration) bool {
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
func (c *Conn) await(fd uintptr) bool {
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
func (c *Conn) readLoop() error {
	r := c.reader
	idle := c.cfg.IdleTimeout.Duration
	if c.Silence() >= idle {
		return errIdle // woken by the ping timer's idle check
	}
	// The first read after a wake-up goes ahead: the socket is readable
	// (or closed), and parking again at once would only wake again.
	for first := true; ; first = false {
		if !first && c.parks() && r.Buffered() == 0 && !c.core.Publishing() && !c.inputWithin(ParkDelay) {
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

func (c *Conn) handle(m protocol.Message) error {
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

// ping asks a silent client for a ping response every PingInterval, so
// that a dead peer is noticed by the idle timeout. A parked reader has no
// read deadline, so the timer also runs the idle check for it.
func (c *Conn) ping() {
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
