package rtmpt

import (
	"errors"
	"net"
	"os"
	"sync"
	"time"
)

// Conn is one RTMPT session seen as a net.Conn: what the client's /send
// requests carry is read from it, and what is written to it waits for the
// client's next request. It lets the RTMP connection handler serve the
// tunnel as it serves a TCP socket.
//
// Both directions are bounded. Write waits, under the write deadline,
// while the session holds maxOut bytes the client has not collected, just
// as a TCP write waits for a full socket: a client that stops polling
// makes the RTMP connection's write time out. A /send waits while the RTMP
// reader has maxIn bytes still to read.
type Conn struct {
	local, remote net.Addr
	maxIn, maxOut int

	mu     sync.Mutex
	in     []byte // client→server bytes; in[inOff:] is unread
	inOff  int
	out    []byte // server→client bytes; out[outOff:] is not yet collected
	outOff int
	// closed is why the connection ended (Close, or the session's end),
	// nil while it is open.
	closed        error
	readDeadline  time.Time
	writeDeadline time.Time
	// pollStep indexes pollBackoff for the polling-interval byte of the
	// next reply, and empty counts the empty replies since the last one
	// with data (docs/rtmpt.md).
	pollStep int
	empty    int

	// Each channel has one waiter at a time (the RTMP reader, the RTMP
	// sender, a held poll) and holds one wake-up, so that a signal
	// sent before its waiter waits is not lost. Waiters re-check their
	// condition after every wake-up.
	readable chan struct{} // in grew, or a deadline changed, or closed
	writable chan struct{} // out shrank, or a deadline changed, or closed
	outReady chan struct{} // out grew, or closed
	inRoom   chan struct{} // the reader took bytes, or closed
}

// newConn makes the connection of a new session.
func newConn(local, remote net.Addr, maxIn, maxOut int) *Conn {
	return &Conn{local: local, remote: remote, maxIn: maxIn, maxOut: maxOut,
		readable: make(chan struct{}, 1), writable: make(chan struct{}, 1),
		outReady: make(chan struct{}, 1), inRoom: make(chan struct{}, 1)}
}

func signal(ch chan struct{}) {
	select {
	case ch <- struct{}{}:
	default:
	}
}

// wait waits for ch or the deadline (zero: none), with c.mu released
// meanwhile; it reports false once the deadline has passed.
func (c *Conn) wait(ch chan struct{}, deadline time.Time) bool {
	if deadline.IsZero() {
		c.mu.Unlock()
		<-ch
		c.mu.Lock()
		return true
	}
	d := time.Until(deadline)
	if d <= 0 {
		return false
	}
	t := time.NewTimer(d)
	c.mu.Unlock()
	select {
	case <-ch:
	case <-t.C:
	}
	t.Stop()
	c.mu.Lock()
	return true
}

// Read implements net.Conn: it returns what /send requests brought,
// waiting for some under the read deadline.
func (c *Conn) Read(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for c.inOff == len(c.in) {
		if c.closed != nil {
			return 0, c.closed
		}
		if !c.wait(c.readable, c.readDeadline) {
			return 0, os.ErrDeadlineExceeded
		}
	}
	n := copy(p, c.in[c.inOff:])
	c.inOff += n
	if c.inOff == len(c.in) {
		c.in, c.inOff = c.in[:0], 0
	}
	signal(c.inRoom)
	return n, nil
}

// Write implements net.Conn: it queues p for the client's next request,
// waiting under the write deadline while the queue is full.
func (c *Conn) Write(p []byte) (int, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	written := 0
	for len(p) > 0 {
		if c.closed != nil {
			return written, c.closed
		}
		room := c.maxOut - (len(c.out) - c.outOff)
		if room <= 0 {
			if !c.wait(c.writable, c.writeDeadline) {
				return written, os.ErrDeadlineExceeded
			}
			continue
		}
		if c.outOff > 0 && len(c.out)+min(room, len(p)) > cap(c.out) {
			c.out = c.out[:copy(c.out, c.out[c.outOff:])]
			c.outOff = 0
		}
		n := min(room, len(p))
		c.out = append(c.out, p[:n]...)
		p = p[n:]
		written += n
		signal(c.outReady)
	}
	return written, nil
}

// ErrClosed is the error of reads and writes after Close.
var ErrClosed = net.ErrClosed

// Close implements net.Conn. What is queued for the client stays for its
// next request, so that a last _error or close status still reaches it.
func (c *Conn) Close() error {
	c.closeWith(ErrClosed)
	return nil
}

// closeWith ends the connection with cause, unless it has ended already,
// and wakes every waiter.
func (c *Conn) closeWith(cause error) {
	c.mu.Lock()
	if c.closed == nil {
		c.closed = cause
	}
	c.mu.Unlock()
	signal(c.readable)
	signal(c.writable)
	signal(c.outReady)
	signal(c.inRoom)
}

// queued is how many bytes wait for the client.
func (c *Conn) queued() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return len(c.out) - c.outOff
}

// LocalAddr implements net.Conn: the HTTP listener's address.
func (c *Conn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn: the address of the client that opened
// the session.
func (c *Conn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn.
func (c *Conn) SetDeadline(t time.Time) error {
	_ = c.SetReadDeadline(t)
	return c.SetWriteDeadline(t)
}

// SetReadDeadline implements net.Conn.
func (c *Conn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	signal(c.readable)
	return nil
}

// SetWriteDeadline implements net.Conn.
func (c *Conn) SetWriteDeadline(t time.Time) error {
	c.mu.Lock()
	c.writeDeadline = t
	c.mu.Unlock()
	signal(c.writable)
	return nil
}

// errInputFull ends a /send that waited too long for the RTMP reader.
var errInputFull = errors.New("rtmpt: the server is not reading the session's input")

// feed appends a /send body to the input, waiting until deadline while
// the reader has maxIn bytes unread.
func (c *Conn) feed(body []byte, deadline time.Time) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for {
		if c.closed != nil {
			return c.closed
		}
		if len(c.in)-c.inOff < c.maxIn {
			break
		}
		if !c.wait(c.inRoom, deadline) {
			return errInputFull
		}
	}
	if c.inOff > 0 {
		c.in = c.in[:copy(c.in, c.in[c.inOff:])]
		c.inOff = 0
	}
	c.in = append(c.in, body...)
	signal(c.readable)
	return nil
}

// holdFor waits, with c.mu held on entry and exit, until something is
// queued for the client, the connection closes, hold passes or done
// closes.
func (c *Conn) holdFor(hold time.Duration, done <-chan struct{}) {
	t := time.NewTimer(hold)
	defer t.Stop()
	for c.outOff == len(c.out) && c.closed == nil {
		c.mu.Unlock()
		select {
		case <-c.outReady:
			c.mu.Lock()
			continue
		case <-t.C:
		case <-done:
		}
		c.mu.Lock()
		return
	}
}

// Polling-interval bytes (docs/rtmpt.md): 1 after a reply with data,
// growing through these after emptyBeforeBackoff empty replies in a row.
var pollBackoff = [...]byte{0x01, 0x03, 0x05, 0x09, 0x11, 0x21}

const emptyBeforeBackoff = 10

// appendReply appends the reply to a /send or /idle to dst: the
// polling-interval byte and up to max of the queued bytes. With nothing
// queued it waits up to hold for something (a long poll, so that a player
// gets each frame when it is written rather than on its next poll), or
// until done closes. It reports whether the connection has closed and
// everything queued has gone, so the session may be forgotten.
func (c *Conn) appendReply(dst []byte, max int, hold time.Duration, done <-chan struct{}) (_ []byte, finished bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.outOff == len(c.out) && c.closed == nil && hold > 0 {
		c.holdFor(hold, done)
	}
	n := min(len(c.out)-c.outOff, max)
	if n > 0 {
		c.pollStep, c.empty = 0, 0
	} else if c.empty++; c.empty > emptyBeforeBackoff {
		c.pollStep = min(c.pollStep+1, len(pollBackoff)-1)
	}
	dst = append(dst, pollBackoff[c.pollStep])
	dst = append(dst, c.out[c.outOff:c.outOff+n]...)
	c.outOff += n
	if c.outOff == len(c.out) {
		c.outOff = 0
		if cap(c.out) > 64<<10 {
			c.out = nil // a backlog can be large; do not keep its buffer
		} else {
			c.out = c.out[:0]
		}
	}
	if n > 0 {
		signal(c.writable)
	}
	return dst, c.closed != nil && c.outOff == len(c.out)
}
