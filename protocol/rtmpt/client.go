package rtmpt

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"
)

// ClientConn is the client end of an RTMPT session as a net.Conn, for an
// RTMP client to speak through (rtmp.NewClient): writes go out with the
// next /send, reads poll with /idle when nothing has arrived. One request
// is in flight at a time, on one kept-alive HTTP connection, as Flash and
// ffmpeg do.
type ClientConn struct {
	base   string // http://host:port
	id     string
	hc     *http.Client
	tr     *http.Transport
	ctx    context.Context
	cancel context.CancelFunc
	local  net.Addr
	remote net.Addr

	// reqMu is held by the goroutine making a request; the fields below
	// it are guarded by mu.
	reqMu sync.Mutex
	seq   uint64

	mu           sync.Mutex
	in           bytes.Buffer // received, not yet read
	out          []byte       // written, not yet sent
	closed       bool
	readDeadline time.Time
	arrived      chan struct{} // in grew or the connection closed; one wake-up
}

// Dial opens an RTMPT session with the server at addr (host:port): the
// /fcs/ident2 probe Flash makes, then /open/1. ctx bounds the set-up.
func Dial(ctx context.Context, addr string) (*ClientConn, error) {
	tr := &http.Transport{MaxIdleConnsPerHost: 1, DisableCompression: true, IdleConnTimeout: time.Minute}
	cctx, cancel := context.WithCancel(context.Background())
	c := &ClientConn{base: "http://" + addr, hc: &http.Client{Transport: tr}, tr: tr, ctx: cctx, cancel: cancel,
		arrived: make(chan struct{}, 1), local: &net.TCPAddr{}}
	if ra, err := net.ResolveTCPAddr("tcp", addr); err == nil {
		c.remote = ra
	}
	fail := func(err error) (*ClientConn, error) {
		cancel()
		tr.CloseIdleConnections()
		return nil, err
	}
	status, _, err := c.post(ctx, "/fcs/ident2", []byte{0})
	if err != nil {
		return fail(err)
	}
	if status != http.StatusNotFound && status != http.StatusOK {
		return fail(fmt.Errorf("rtmpt: /fcs/ident2: HTTP %d", status))
	}
	status, body, err := c.post(ctx, "/open/1", []byte{0})
	if err != nil {
		return fail(err)
	}
	if status != http.StatusOK {
		return fail(fmt.Errorf("rtmpt: /open/1: HTTP %d: %s", status, strings.TrimSpace(string(body))))
	}
	c.id = strings.TrimSpace(string(body))
	if !validID(c.id) {
		return fail(fmt.Errorf("rtmpt: /open/1 answered a bad session id %q", clip(c.id)))
	}
	return c, nil
}

// post makes one request and returns the status and body.
func (c *ClientConn) post(ctx context.Context, path string, body []byte) (int, []byte, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, c.base+path, bytes.NewReader(body))
	if err != nil {
		return 0, nil, fmt.Errorf("rtmpt: %w", err)
	}
	req.Header["Content-Type"] = contentType
	resp, err := c.hc.Do(req)
	if err != nil {
		return 0, nil, fmt.Errorf("rtmpt: %s: %w", path, err)
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, nil, fmt.Errorf("rtmpt: %s: read reply: %w", path, err)
	}
	return resp.StatusCode, data, nil
}

// pump makes requests until what is written has gone: one at least, a
// poll if nothing is written. The caller holds reqMu.
func (c *ClientConn) pump() error {
	for {
		if err := c.exchange(); err != nil {
			return err
		}
		c.mu.Lock()
		pending := len(c.out)
		c.mu.Unlock()
		if pending == 0 {
			return nil
		}
	}
}

// exchange makes one /send (with what is written) or /idle request and
// keeps what the reply brings. The caller holds reqMu.
func (c *ClientConn) exchange() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return net.ErrClosed
	}
	body, cmd := c.out, "send"
	c.out = nil
	c.mu.Unlock()
	if len(body) == 0 {
		body, cmd = []byte{0}, "idle"
	}
	path := "/" + cmd + "/" + c.id + "/" + strconv.FormatUint(c.seq, 10)
	c.seq++
	status, data, err := c.post(c.ctx, path, body)
	if err != nil {
		return err
	}
	if status != http.StatusOK {
		return fmt.Errorf("rtmpt: %s: HTTP %d: %s", path, status, strings.TrimSpace(string(data)))
	}
	if len(data) == 0 {
		return fmt.Errorf("rtmpt: %s: empty reply", path)
	}
	if len(data) > 1 {
		c.mu.Lock()
		c.in.Write(data[1:])
		c.mu.Unlock()
		signal(c.arrived)
	}
	return nil
}

// Read implements net.Conn: it returns what arrived, polling for more
// under the read deadline.
func (c *ClientConn) Read(p []byte) (int, error) {
	for {
		c.mu.Lock()
		if c.in.Len() > 0 {
			n, _ := c.in.Read(p)
			c.mu.Unlock()
			return n, nil
		}
		closed, dl := c.closed, c.readDeadline
		c.mu.Unlock()
		if closed {
			return 0, net.ErrClosed
		}
		if !dl.IsZero() && !time.Now().Before(dl) {
			return 0, os.ErrDeadlineExceeded
		}
		if !c.reqMu.TryLock() {
			// A write is sending; its reply may bring what we wait for.
			select {
			case <-c.arrived:
			case <-time.After(10 * time.Millisecond):
			}
			continue
		}
		err := c.pump()
		c.reqMu.Unlock()
		if err != nil {
			return 0, err
		}
	}
}

// Write implements net.Conn: p goes out with the next request, which it
// makes at once unless one is in flight (whose maker sends p after).
func (c *ClientConn) Write(p []byte) (int, error) {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return 0, net.ErrClosed
	}
	c.out = append(c.out, p...)
	c.mu.Unlock()
	if !c.reqMu.TryLock() {
		return len(p), nil
	}
	c.mu.Lock()
	pending := len(c.out)
	c.mu.Unlock()
	var err error
	if pending > 0 {
		err = c.pump()
	}
	c.reqMu.Unlock()
	if err != nil {
		return 0, err
	}
	return len(p), nil
}

// Close implements net.Conn: it sends /close (briefly, best effort) and
// releases the HTTP connection.
func (c *ClientConn) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	c.mu.Unlock()
	signal(c.arrived)
	c.cancel() // ends a request in flight
	c.reqMu.Lock()
	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	_, _, err := c.post(ctx, "/close/"+c.id+"/"+strconv.FormatUint(c.seq, 10), []byte{0})
	cancel()
	c.reqMu.Unlock()
	c.tr.CloseIdleConnections()
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return err
	}
	return nil
}

// LocalAddr implements net.Conn; the tunnel has no address of its own.
func (c *ClientConn) LocalAddr() net.Addr { return c.local }

// RemoteAddr implements net.Conn: the server's address.
func (c *ClientConn) RemoteAddr() net.Addr { return c.remote }

// SetDeadline implements net.Conn; writes never wait, so only reads
// have a deadline.
func (c *ClientConn) SetDeadline(t time.Time) error { return c.SetReadDeadline(t) }

// SetReadDeadline implements net.Conn. A request in flight is not cut
// short: the server holds a poll for a bounded time (Config.Hold).
func (c *ClientConn) SetReadDeadline(t time.Time) error {
	c.mu.Lock()
	c.readDeadline = t
	c.mu.Unlock()
	signal(c.arrived)
	return nil
}

// SetWriteDeadline implements net.Conn; writes never wait.
func (c *ClientConn) SetWriteDeadline(time.Time) error { return nil }
