package tc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
	"github.com/nimbus-media/nimbus/protocol/rtmfp"
)

// ClientConfig tunes an RTMFP NetConnection client.
type ClientConfig struct {
	// ObjectEncoding 3 negotiates AMF3 commands.
	ObjectEncoding float64
	// FlashVer is the agent string sent in connect.
	FlashVer string
	// ConnectArgs are extra connect arguments.
	ConnectArgs []any
	// Endpoint configures the client's own RTMFP endpoint.
	Endpoint rtmfp.Config
	// LocalAddr is the UDP address to bind (default ":0").
	LocalAddr string
	// PacketConn, if set, is used instead of binding LocalAddr (tests put
	// relays and fault injectors here). Close closes it.
	PacketConn net.PacketConn
}

// Client is an RTMFP NetConnection client, with the same methods as the
// RTMP one: the NetConnection flow and its server return flow carry
// commands; each NetStream gets flows for commands and data, audio and
// video. Incoming flows are read by goroutines into one queue that
// ReadMessage drains.
type Client struct {
	*protocol.ClientConn
	cfg  ClientConfig
	ep   *rtmfp.Endpoint
	s    *rtmfp.Session
	nc   *rtmfp.SendFlow
	info amf.Object
	ctx  context.Context
	stop context.CancelFunc
	wg   sync.WaitGroup
	in   chan protocol.Message
	errc chan error
	sync flowSync

	groups sync.Map // our GC flow (*rtmfp.SendFlow) → *GroupControl (netgroup.go)

	mu       sync.Mutex
	serverNC *rtmfp.RecvFlow
	flows    map[flowKey]*rtmfp.SendFlow
	deadline time.Time
}

type flowKey struct {
	stream uint32
	kind   uint8 // 0 commands and data, 1 audio, 2 video
}

// Dial connects to an rtmfp:// URL: a new endpoint on an ephemeral UDP
// port, the session handshake, and connect.
func Dial(ctx context.Context, rawURL string, cfg ClientConfig) (*Client, error) {
	u, err := url.Parse(rawURL)
	if err != nil || u.Scheme != "rtmfp" {
		return nil, fmt.Errorf("tc: bad rtmfp URL %q", rawURL)
	}
	app, _ := SplitURL(u)
	if cfg.LocalAddr == "" {
		cfg.LocalAddr = ":0"
	}
	if cfg.FlashVer == "" {
		cfg.FlashVer = "LNX 9,0,124,2"
	}
	var ep *rtmfp.Endpoint
	if cfg.PacketConn != nil {
		ep, err = rtmfp.NewEndpoint(cfg.PacketConn, cfg.Endpoint)
	} else {
		ep, err = rtmfp.Listen("udp", cfg.LocalAddr, cfg.Endpoint)
	}
	if err != nil {
		return nil, err
	}
	s, err := ep.Dial(ctx, rawURL)
	if err != nil {
		_ = ep.Close()
		return nil, err
	}
	c, err := newClient(ctx, ep, s, cfg)
	if err != nil {
		_ = ep.Close()
		return nil, err
	}
	tcURL := "rtmfp://" + u.Host + "/" + app
	obj := amf.Object{
		{Key: "app", Value: app},
		{Key: "flashVer", Value: cfg.FlashVer},
		{Key: "tcUrl", Value: tcURL},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: 15.0},
		{Key: "audioCodecs", Value: 4071.0},
		{Key: "videoCodecs", Value: 252.0},
		{Key: "videoFunction", Value: 1.0},
		{Key: "objectEncoding", Value: cfg.ObjectEncoding},
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
		defer c.SetDeadline(time.Time{})
	}
	info, err := c.Connect(obj, cfg.ConnectArgs...)
	if err != nil {
		c.Close()
		return nil, err
	}
	c.info = info
	return c, nil
}

// SplitURL splits an rtmfp:// URL's path into the application part and the
// stream name (the last element), as for RTMP.
func SplitURL(u *url.URL) (app, stream string) {
	path := strings.Trim(u.Path, "/")
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		app, stream = path[:i], path[i+1:]
		if u.RawQuery != "" {
			stream += "?" + u.RawQuery
		}
		return app, stream
	}
	return path, ""
}

func newClient(ctx context.Context, ep *rtmfp.Endpoint, s *rtmfp.Session, cfg ClientConfig) (*Client, error) {
	nc, err := s.OpenFlow(AppendMetadata(nil, Metadata{StreamID: 0}), rtmfp.FlowOptions{})
	if err != nil {
		return nil, err
	}
	rctx, stop := context.WithCancel(context.Background())
	c := &Client{
		cfg: cfg, ep: ep, s: s, nc: nc, ctx: rctx, stop: stop,
		in: make(chan protocol.Message, 256), errc: make(chan error, 1),
		flows: make(map[flowKey]*rtmfp.SendFlow),
	}
	c.ClientConn = protocol.NewClientConn(pipe{c}, cfg.ObjectEncoding == 3)
	c.wg.Add(1)
	go c.acceptFlows()
	return c, nil
}

// Info is the connect result's information object.
func (c *Client) Info() amf.Object { return c.info }

// Session is the RTMFP session to the server.
func (c *Client) Session() *rtmfp.Session { return c.s }

// SetDeadline bounds ReadMessage and the methods that wait for replies; the
// zero time removes the bound.
func (c *Client) SetDeadline(t time.Time) {
	c.mu.Lock()
	c.deadline = t
	c.mu.Unlock()
}

// Close closes the session (orderly) and the client's endpoint.
func (c *Client) Close() error {
	c.stop()
	_ = c.s.Close()
	err := c.ep.Close()
	c.wg.Wait()
	return err
}

func (c *Client) fail(err error) {
	select {
	case c.errc <- err:
	default:
	}
}

// acceptFlows reads every flow the server opens.
func (c *Client) acceptFlows() {
	defer c.wg.Done()
	var readers sync.WaitGroup
	for {
		f, err := c.s.AcceptFlow(c.ctx)
		if err != nil {
			// What the flows received before the session ended (a
			// refused connect's status, then the server's close) is
			// read out before the error is reported.
			readers.Wait()
			c.fail(err)
			return
		}
		kind, md, err := ParseMetadata(f.Metadata())
		if kind == KindGroupControl && c.attachGroupFlow(f) {
			continue
		}
		if err != nil || kind != KindTC {
			f.Reject(0)
			continue
		}
		if md.StreamID == 0 {
			c.mu.Lock()
			if c.serverNC == nil {
				c.serverNC = f
			}
			c.mu.Unlock()
		}
		c.wg.Add(1)
		readers.Add(1)
		go func() {
			defer c.wg.Done()
			defer readers.Done()
			readInto(c.ctx, f, md.StreamID, &c.sync, c.in)
		}()
	}
}

// ErrTimeout is returned when a read passes the deadline.
var ErrTimeout = errors.New("tc: read deadline exceeded")

// deadlineTimer fires at dl; the zero time never fires. stop releases it.
func deadlineTimer(dl time.Time) (<-chan time.Time, func()) {
	if dl.IsZero() {
		return nil, func() {}
	}
	t := time.NewTimer(time.Until(dl))
	return t.C, func() { t.Stop() }
}

func (c *Client) readRaw() (protocol.Message, error) {
	c.mu.Lock()
	dl := c.deadline
	c.mu.Unlock()
	timeout, stop := deadlineTimer(dl)
	defer stop()
	select {
	case m := <-c.in:
		return m, nil
	case err := <-c.errc:
		c.fail(err) // keep it for the next reader
		select {
		case m := <-c.in: // messages that came before the error go first
			return m, nil
		default:
		}
		return protocol.Message{}, err
	case <-timeout:
		return protocol.Message{}, ErrTimeout
	}
}

// flowFor returns the flow that carries m: the NetConnection flow for
// stream 0, otherwise the stream's flow for commands and data, audio or
// video, opened on first use in return to the server's NetConnection flow.
func (c *Client) flowFor(m protocol.Message) (*rtmfp.SendFlow, error) {
	if m.StreamID == 0 {
		return c.nc, nil
	}
	key := flowKey{stream: m.StreamID}
	switch m.Type {
	case protocol.TypeAudio:
		key.kind = 1
	case protocol.TypeVideo:
		key.kind = 2
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if f := c.flows[key]; f != nil {
		return f, nil
	}
	if c.serverNC == nil {
		return nil, errors.New("tc: the server has not opened its NetConnection flow")
	}
	f, err := c.s.OpenFlow(AppendMetadata(nil, Metadata{StreamID: m.StreamID}), rtmfp.FlowOptions{ReturnFor: c.serverNC})
	if err != nil {
		return nil, err
	}
	c.flows[key] = f
	return f, nil
}

// WriteMessage sends m reliably on its flow, waiting for send buffer space.
func (c *Client) WriteMessage(m protocol.Message) error { return c.WriteMessageDeadline(m, 0) }

// WriteMessageDeadline sends m on its flow; if it is not delivered within
// deadline (when positive) it is abandoned, as live media should be.
func (c *Client) WriteMessageDeadline(m protocol.Message, deadline time.Duration) error {
	f, err := c.flowFor(m)
	if err != nil {
		return err
	}
	return f.WriteContext(c.ctx, AppendMessage(nil, m), rtmfp.WriteOptions{Deadline: deadline})
}

// pipe is the client's flows as a protocol.MessagePipe.
type pipe struct{ c *Client }

func (p pipe) WriteMessage(m protocol.Message) error  { return p.c.WriteMessage(m) }
func (p pipe) ReadMessage() (protocol.Message, error) { return p.c.readRaw() }
