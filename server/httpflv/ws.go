package httpflv

import (
	"fmt"
	"io"
	"time"
)

// WebSocket liveness: the server pings this often, and a client that
// answers nothing (no pong, no message) for wsReadTimeout is closed. A
// browser answers pings by itself; a client that stopped reading does not.
const (
	wsPingEvery   = 15 * time.Second
	wsReadTimeout = 3 * wsPingEvery
)

// WebSocket opcodes (RFC 6455 §5.2) of the frames the server writes itself.
const (
	opBinary = 0x2
	opClose  = 0x8
	opPing   = 0x9
	opPong   = 0xa
)

// appendWSHeader appends the header of an unfragmented, unmasked (server
// to client) WebSocket frame of n payload bytes. The server writes its
// frames itself rather than through gorilla/websocket's writer, which
// would copy every frame's payload into its buffer: a tag's header goes
// in the same vectored write as the shared frame payload.
func appendWSHeader(b []byte, op byte, n int) []byte {
	b = append(b, 0x80|op)
	switch {
	case n < 126:
		return append(b, byte(n))
	case n <= 0xffff:
		return append(b, 126, byte(n>>8), byte(n))
	}
	return append(b, 127, 0, 0, 0, byte(uint64(n)>>32), byte(n>>24), byte(n>>16), byte(n>>8), byte(n))
}

// appendWSControl appends a control frame (ping, pong, close) with its
// payload, at most 125 bytes (RFC 6455 §5.5).
func appendWSControl(b []byte, op byte, payload []byte) []byte {
	payload = payload[:min(len(payload), 125)]
	return append(appendWSHeader(b, op, len(payload)), payload...)
}

// startReader runs a WebSocket player's reader: it answers the client's
// pings (through the sender, which owns the connection's writes), ends
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
		c.ctrlMu.Lock()
		c.pong, c.pongDue = append(c.pong[:0], data...), true
		c.ctrlDue.Store(true)
		c.ctrlMu.Unlock()
		c.Wake()
		return nil
	})
	// The sender says goodbye; gorilla's default would write the echo
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

// queuePing has the sender ping the client (the handler's ticker).
func (c *Conn) queuePing() {
	c.ctrlMu.Lock()
	c.pingDue = true
	c.ctrlDue.Store(true)
	c.ctrlMu.Unlock()
	c.Wake()
}

// addControl adds the control frames due (a pong, a ping) to the tag
// writer, between tags. The sender's.
func (c *Conn) addControl() {
	c.ctrlMu.Lock()
	defer c.ctrlMu.Unlock()
	c.ctrlDue.Store(false)
	if c.pongDue {
		c.tw.scratch = appendWSControl(c.tw.scratch, opPong, c.pong)
		c.pongDue = false
	}
	if c.pingDue {
		c.tw.scratch = appendWSControl(c.tw.scratch, opPing, nil)
		c.pingDue = false
	}
}
