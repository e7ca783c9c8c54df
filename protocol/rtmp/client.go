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

// URL is a parsed rtmp:// or rtmpe:// URL: the connection part and the
// stream name, split the way ffmpeg and Flash do (the last path element is
// the stream).
type URL struct {
	Host   string // host:port
	App    string // "app" or "app/instance"
	TCURL  string // rtmp://host:port/app
	Stream string // stream name, with its query if any
	// RTMPE asks for the encrypted handshake (rtmpe://).
	RTMPE bool
}

// ParseURL parses rtmp[e]://host[:port]/app[/instance]/stream[?query]. A
// URL with a single path element has no stream name.
func ParseURL(raw string) (URL, error) {
	u, err := url.Parse(raw)
	if err != nil {
		return URL{}, fmt.Errorf("rtmp: bad URL %q: %w", raw, err)
	}
	if u.Scheme != "rtmp" && u.Scheme != "rtmpe" {
		return URL{}, fmt.Errorf("rtmp: URL %q: scheme must be rtmp or rtmpe", raw)
	}
	host := u.Host
	if u.Port() == "" {
		host = net.JoinHostPort(u.Hostname(), "1935")
	}
	path := strings.Trim(u.Path, "/")
	if path == "" {
		return URL{}, fmt.Errorf("rtmp: URL %q names no application", raw)
	}
	out := URL{Host: host, RTMPE: u.Scheme == "rtmpe"}
	if i := strings.LastIndexByte(path, '/'); i >= 0 {
		out.App, out.Stream = path[:i], path[i+1:]
		if u.RawQuery != "" {
			out.Stream += "?" + u.RawQuery
		}
	} else {
		out.App = path
	}
	out.TCURL = u.Scheme + "://" + host + "/" + out.App
	return out, nil
}

// Client is an RTMP NetConnection client: the handshake, the chunk stream
// with its acknowledgements and ping answers, under the transport-neutral
// protocol.ClientConn (connect, calls, createStream, publish, play).
// Write methods are safe for concurrent use; reading (ReadMessage and the
// methods that wait for a reply) must happen on one goroutine.
type Client struct {
	*protocol.ClientConn
	nc   net.Conn
	cfg  ClientConfig
	r    *Reader
	info amf.Object // connect _result information object

	wmu sync.Mutex
	w   *Writer

	window  uint32
	lastAck uint64
}

// Dial connects to the server named by an rtmp:// or rtmpe:// URL, performs the
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

// NewClient runs the handshake and connect over an established connection:
// the RTMPE handshake (version 6) for an rtmpe:// URL, after which the
// client reads and writes through NewRTMPEConn.
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
	if dl, ok := ctx.Deadline(); ok {
		_ = nc.SetDeadline(dl)
		defer nc.SetDeadline(time.Time{})
	}
	stop := context.AfterFunc(ctx, func() { _ = nc.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	if u.RTMPE {
		ciphers, err := ClientHandshakeRTMPE(nc, versionRTMPE)
		if err != nil {
			return nil, err
		}
		nc = NewRTMPEConn(nc, ciphers)
	} else if err := ClientHandshake(nc, cfg.Digest); err != nil {
		return nil, err
	}
	c := &Client{nc: nc, cfg: cfg, r: NewReader(nc, cfg.MaxMessageSize), w: NewWriter(nc)}
	c.ClientConn = protocol.NewClientConn(pipe{c}, cfg.ObjectEncoding == 3)
	if err := c.writeMessage(csidControlClient, protocol.Message{Type: protocol.TypeSetChunkSize, Payload: AppendSetChunkSize(nil, cfg.ChunkSize)}); err != nil {
		return nil, err
	}
	c.wmu.Lock()
	c.w.SetChunkSize(cfg.ChunkSize)
	c.wmu.Unlock()
	info, err := c.Connect(ConnectObject(u.App, u.TCURL, cfg.FlashVer, cfg.ObjectEncoding), cfg.ConnectArgs...)
	if err != nil {
		return nil, err
	}
	c.info = info
	return c, nil
}

// ConnectObject is the connect command object a Flash-like client sends.
func ConnectObject(app, tcURL, flashVer string, objectEncoding float64) amf.Object {
	return amf.Object{
		{Key: "app", Value: app},
		{Key: "flashVer", Value: flashVer},
		{Key: "tcUrl", Value: tcURL},
		{Key: "fpad", Value: false},
		{Key: "capabilities", Value: 15.0},
		{Key: "audioCodecs", Value: 4071.0},
		{Key: "videoCodecs", Value: 252.0},
		{Key: "videoFunction", Value: 1.0},
		{Key: "objectEncoding", Value: objectEncoding},
	}
}

// pipe is the client's chunk stream as a protocol.MessagePipe.
type pipe struct{ c *Client }

func (p pipe) WriteMessage(m protocol.Message) error  { return p.c.WriteMessage(m) }
func (p pipe) ReadMessage() (protocol.Message, error) { return p.c.readRaw() }

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
