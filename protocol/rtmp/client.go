package rtmp

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
)

// ClientConfig tunes a client connection.
type ClientConfig struct {
	// Digest selects the Flash Player 9+ digest handshake.
	Digest bool
	// ObjectEncoding 3 negotiates AMF3: commands after connect are then
	// sent as type 17 with AMF3 values, as Flash Player does.
	ObjectEncoding float64
	// FlashVer is the agent string sent in connect.
	FlashVer string
	// ChunkSize is the chunk size we send with (default 4096).
	ChunkSize uint32
	// ConnectArgs are extra connect arguments (credentials, tokens).
	ConnectArgs []any
	// MaxMessageSize bounds messages from the server (default 16 MiB).
	MaxMessageSize uint32
}

// URL is a parsed rtmp:// URL: the connection part and the stream name,
// split the way ffmpeg and Flash do (the last path element is the stream).
type URL struct {
	Host   string // host:port
	App    string // "app" or "app/instance"
	TCURL  string // rtmp://host:port/app
	Stream string // stream name, with its query if any
}

// ParseURL parses rtmp://host[:port]/app[/instance]/stream[?query]. A URL
// with a single path element has no stream name.
func ParseURL(raw string) (URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return URL{}, fmt.Errorf("rtmp: bad URL %q: %w", raw, err)
	}
	if u.Scheme != "rtmp" {
		return URL{}, fmt.Errorf("rtmp: URL %q: scheme must be rtmp", raw)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	path := strings.Trim(u.Path, "/")
	if path == "" {
		return URL{}, fmt.Errorf("rtmp: URL %q names no application", raw)
	}
	out := URL{Host: host}
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		out.App, out.Stream = path[:i], path[i+1:]
		if u.RawQuery != "" {
			out.Stream += "?" + u.RawQuery
		}
	} else {
		out.App = path
	}
	out.TCURL = "rtmp://" + host + "/" + out.App
	return out, nil
}

// StatusError is a status or _error the server answered with.
type StatusError struct {
	Level, Code, Description string
	Info                     amf.Object
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("rtmp: %s (%s)", e.Code, e.Description)
}

// Client is a NetConnection client: connect, createStream, publish, play,
// and raw message I/O. Write methods are safe for concurrent use; reading
// (ReadMessage and the methods that wait for a reply) must happen on one
// goroutine.
type Client struct {
	nc   net.Conn
	cfg  ClientConfig
	r    *Reader
	dec  *amf.Decoder
	info amf.Object // connect _result information object

	wmu     sync.Mutex
	w       *Writer
	scratch []byte

	txn     float64
	pending []protocol.Message
	window  uint32
	lastAck uint64
}

// Dial connects to the server named by an rtmp:// URL, performs the
// handshake and the connect command. ctx bounds the whole set-up.
func Dial(ctx context.Context, rawURL string, cfg ClientConfig) (*Client, error) {
	u, err := ParseURL(rawURL)
	if err != nil {
		return nil, err
	}
	var d net.Dialer
	nc, err := d.DialContext(ctx, "tcp", u.Host)
	if err != nil {
		return nil, fmt.Errorf("rtmp: dial: %w", err)
	}
	c, err := NewClient(ctx, nc, u, cfg)
	if err != nil {
		_ = nc.Close()
		return nil, err
	}
	return c, nil
}

// NewClient runs the handshake and connect over an established connection.
func NewClient(ctx context.Context, nc net.Conn, u URL, cfg ClientConfig) (*Client, error) {
	if cfg.ChunkSize == 0 {
		cfg.ChunkSize = 4096
	}
	if cfg.MaxMessageSize == 0 {
		cfg.MaxMessageSize = 16 << 20
	}
	if cfg.FlashVer == "" {
		cfg.FlashVer = "LNX 9,0,124,2"
	}
	c := &Client{nc: nc, cfg: cfg, r: NewReader(nc, cfg.MaxMessageSize), w: NewWriter(nc), dec: amf.NewDecoder()}
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if err := ClientHandshake(nc, cfg.Digest); err != nil {
		return nil, err
	}
	if err := c.writeMessage(csidControlClient, protocol.Message{Type: protocol.TypeSetChunkSize, Payload: AppendSetChunkSize(nil, cfg.ChunkSize)}); err != nil {
		return nil, err
	}
	c.wmu.Lock()
	c.w.SetChunkSize(cfg.ChunkSize)
	c.wmu.Unlock()
	obj := amf.Object{
		{Key: "app", Value: u.App},
		{Key: "flashVer", Value: cfg.FlashVer},
		{Key: "tcUrl", Value: u.TCURL},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: 15.0},
		{Key: "audioCodecs", Value: 4071.0},
		{Key: "videoCodecs", Value: 252.0},
		{Key: "videoFunction", Value: 1.0},
		{Key: "objectEncoding", Value: cfg.ObjectEncoding},
	}
	// connect itself is always AMF0 (type 20): the encoding is not
	// negotiated yet.
	res, err := c.call(0, "connect", obj, false, cfg.ConnectArgs...)
	if err != nil {
		return nil, err
	}
	c.info, _ = res.Arg(0).(amf.Object)
	return c, nil
}

// Info is the connect result's information object.
func (c *Client) Info() amf.Object { return c.info }

// Close closes the connection.
func (c *Client) Close() error { return c.nc.Close() }

// SetDeadline sets the underlying connection's deadline.
func (c *Client) SetDeadline(t time.Time) error { return c.nc.SetDeadline(t) }

// Client chunk stream IDs.
const (
	csidControlClient = 2
	csidCommandClient = 3
	csidAudioClient   = 4
	csidVideoClient   = 6
	csidDataClient    = 5
)

// WriteMessage sends one message and flushes it.
func (c *Client) WriteMessage(m protocol.Message) error {
	csid := uint32(csidCommandClient)
	switch m.Type {
	case protocol.TypeAudio:
		csid = csidAudioClient
	case protocol.TypeVideo:
		csid = csidVideoClient
	case protocol.TypeDataAMF0, protocol.TypeDataAMF3:
		csid = csidDataClient
	default:
		if m.Type.IsControl() {
			csid = csidControlClient
		}
	}
	return c.writeMessage(csid, m)
}

func (c *Client) writeMessage(csid uint32, m protocol.Message) error {
	c.wmu.Lock()
	defer c.wmu.Unlock()
	if err := c.w.WriteMessage(csid, m); err != nil {
		return err
	}
	return c.w.Flush()
}

// Command sends a command without waiting for a reply.
func (c *Client) Command(streamID uint32, name string, txn float64, obj any, args ...any) error {
	c.wmu.Lock()
	b, t, err := c.appendCommand(c.scratch[:0], name, txn, obj, c.cfg.ObjectEncoding == 3, args...)
	c.wmu.Unlock()
	if err != nil {
		return err
	}
	return c.writeMessage(csidCommandClient, protocol.Message{Type: t, StreamID: streamID, Payload: b})
}

// appendCommand encodes a command as AMF0 (type 20) or, with amf3, as
// Flash Player does after negotiating AMF3: type 17, a zero format byte,
// the name and transaction ID in AMF0 and every other value switched to
// AMF3 with the 0x11 marker.
func (c *Client) appendCommand(b []byte, name string, txn float64, obj any, amf3 bool, args ...any) ([]byte, protocol.Type, error) {
	if !amf3 {
		b, err := protocol.AppendCommand(b, name, txn, obj, args...)
		return b, protocol.TypeCommandAMF0, err
	}
	b = append(b, 0)
	var err error
	if b, err = amf.AppendAMF0(b, name); err != nil {
		return b, 0, err
	}
	if b, err = amf.AppendAMF0(b, txn); err != nil {
		return b, 0, err
	}
	var enc amf.Encoder
	for _, v := range append([]any{obj}, args...) {
		b = append(b, 0x11)
		if b, err = enc.AppendAMF3(b, v); err != nil {
			return b, 0, err
		}
	}
	return b, protocol.TypeCommandAMF3, nil
}

// Call invokes a server method and waits for its _result (or _error, as a
// *StatusError). Messages that arrive meanwhile are kept for ReadMessage.
func (c *Client) Call(name string, args ...any) (protocol.Command, error) {
	return c.call(0, name, nil, c.cfg.ObjectEncoding == 3, args...)
}

func (c *Client) call(streamID uint32, name string, obj any, amf3 bool, args ...any) (protocol.Command, error) {
	c.txn++
	txn := c.txn
	b, t, err := c.appendCommand(nil, name, txn, obj, amf3, args...)
	if err != nil {
		return protocol.Command{}, err
	}
	if err := c.writeMessage(csidCommandClient, protocol.Message{Type: t, StreamID: streamID, Payload: b}); err != nil {
		return protocol.Command{}, err
	}
	for {
		m, err := c.readRaw()
		if err != nil {
			return protocol.Command{}, err
		}
		if m.Type == protocol.TypeCommandAMF0 || m.Type == protocol.TypeCommandAMF3 {
			cmd, err := protocol.DecodeCommand(c.dec, m.Type, m.Payload)
			if err == nil && cmd.TxnID == txn && (cmd.Name == "_result" || cmd.Name == "_error") {
				if cmd.Name == "_error" {
					return cmd, statusError(cmd.Arg(0))
				}
				return cmd, nil
			}
		}
		c.keep(m)
	}
}

func statusError(v any) error {
	info, _ := v.(amf.Object)
	return &StatusError{Level: info.String("level"), Code: info.String("code"), Description: info.String("description"), Info: info}
}

func (c *Client) keep(m protocol.Message) {
	m.Payload = append([]byte(nil), m.Payload...)
	c.pending = append(c.pending, m)
}

// CreateStream creates a NetStream and returns its ID.
func (c *Client) CreateStream() (uint32, error) {
	res, err := c.Call("createStream")
	if err != nil {
		return 0, err
	}
	id, ok := res.ArgNumber(0)
	if !ok || id < 1 {
		return 0, fmt.Errorf("rtmp: createStream returned %v", res.Arg(0))
	}
	return uint32(id), nil
}

// Publish starts publishing name on streamID and waits for
// NetStream.Publish.Start; an error status comes back as *StatusError.
func (c *Client) Publish(streamID uint32, name, kind string) error {
	if kind == "" {
		kind = "live"
	}
	if err := c.Command(streamID, "publish", 0, nil, name, kind); err != nil {
		return err
	}
	_, err := c.WaitStatus(streamID, "NetStream.Publish.Start")
	return err
}

// Play asks to play name from start (-2 live or recorded, -1 live only) and
// waits for NetStream.Play.Start.
func (c *Client) Play(streamID uint32, name string, start float64) error {
	if err := c.Command(streamID, "play", 0, nil, name, start); err != nil {
		return err
	}
	_, err := c.WaitStatus(streamID, "NetStream.Play.Start")
	return err
}

// WaitStatus reads until an onStatus with the given code arrives on
// streamID and returns its info object. An onStatus of level "error" on that
// stream ends the wait with a *StatusError.
func (c *Client) WaitStatus(streamID uint32, code string) (amf.Object, error) {
	for {
		m, err := c.readRaw()
		if err != nil {
			return nil, err
		}
		if m.StreamID == streamID && (m.Type == protocol.TypeCommandAMF0 || m.Type == protocol.TypeCommandAMF3) {
			cmd, err := protocol.DecodeCommand(c.dec, m.Type, m.Payload)
			if err == nil && cmd.Name == "onStatus" {
				info, _ := cmd.Arg(0).(amf.Object)
				if info.String("code") == code {
					return info, nil
				}
				if info.String("level") == "error" {
					return info, statusError(info)
				}
			}
		}
		c.keep(m)
	}
}

// ReadMessage returns the next message from the server, after any kept
// while waiting for replies. Control messages (window size, pings) are
// answered here and also returned. The payload is valid until the next call.
func (c *Client) ReadMessage() (protocol.Message, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending = c.pending[1:]
		return m, nil
	}
	return c.readRaw()
}

// DecodeCommand decodes a command or data message's AMF values.
func (c *Client) DecodeCommand(m protocol.Message) (protocol.Command, error) {
	return protocol.DecodeCommand(c.dec, m.Type, m.Payload)
}

var errServerAbort = errors.New("rtmp: server sent an invalid control message")

func (c *Client) readRaw() (protocol.Message, error) {
	m, err := c.r.ReadMessage()
	if err != nil {
		return m, err
	}
	if c.window > 0 && c.r.BytesRead()-c.lastAck >= uint64(c.window)/2 {
		c.lastAck = c.r.BytesRead()
		if err := c.writeMessage(csidControlClient, protocol.Message{Type: protocol.TypeAck, Payload: AppendAck(nil, uint32(c.lastAck))}); err != nil {
			return m, err
		}
	}
	switch m.Type {
	case protocol.TypeWindowAckSize:
		w, err := ParseUint32(m.Payload)
		if err != nil {
			return m, errors.Join(errServerAbort, err)
		}
		c.window = w
	case protocol.TypeUserControl:
		uc, err := protocol.ParseUserControl(m.Payload)
		if err == nil && uc.Event == protocol.EventPingRequest {
			err = c.writeMessage(csidControlClient, protocol.Message{Type: protocol.TypeUserControl,
				Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: protocol.EventPingResponse, Timestamp: uc.Timestamp})})
			if err != nil {
				return m, err
			}
		}
	}
	return m, nil
}
