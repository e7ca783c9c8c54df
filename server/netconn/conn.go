package netconn

import (
	"errors"
	"fmt"
	"net"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol"
)

// Errors that close a connection.
var (
	ErrNotConnected    = errors.New("netconn: command before connect")
	ErrSlowSubscriber  = errors.New("netconn: subscriber fell too far behind")
	ErrConnectRejected = errors.New("netconn: connect rejected")
	ErrKicked          = errors.New("netconn: disconnected by the server")
	// ErrShutdown is the close reason of connections the server shuts down.
	ErrShutdown = errors.New("server shutting down")
	// ErrClosed is the result of a server-to-client call whose connection
	// closed before the client answered.
	ErrClosed = errors.New("netconn: connection closed")
	// ErrTooManyCalls refuses a server-to-client call while too many
	// earlier ones are still unanswered.
	ErrTooManyCalls = errors.New("netconn: too many unanswered calls to the client")
)

// Connect states. A connect is pending while the application decides
// (a script may take its time, AMS's pending onConnect).
const (
	stateNew int32 = iota
	statePending
	stateAccepted
	stateRejected
)

// Conn is one client's NetConnection. A transport may call it from any of
// its goroutines: HandleMessage, HasStream and Close take the input lock,
// which owns the connection's protocol state (its streams, SharedObjects,
// the decoder), and the monitoring and control methods (Info, Instance,
// Disconnect, PeerAddresses, ...) touch only what mu or the Outbox guard.
// The Outbox is drained by the transport's sender (see Outbox).
type Conn struct {
	// in serialises the transport's input: HandleMessage, HasStream and
	// Close. RTMP calls them from its one reader; RTMFP from its flows'
	// goroutine and its NetGroup flows' goroutines, which is why the lock
	// is here rather than in each transport.
	in sync.Mutex

	id    string
	log   *zap.Logger
	tr    Transport
	apps  *apps.Registry
	cfg   *Config // shared; not modified
	out   *Outbox
	dec   *amf.Decoder
	since time.Time
	// state is the connect state; it changes under mu, and the reader
	// goroutine reads it without locking.
	state atomic.Int32
	// soType is the SharedObject message type matching the client's
	// objectEncoding (19 or 16), set by connect.
	soType protocol.Type

	// Set by connect; read by monitoring under mu.
	mu             sync.Mutex
	closed         bool
	inst           *apps.Instance
	objectEncoding float64
	agent          string
	tcURL          string
	// Server-to-client calls waiting for the client's _result or _error.
	lastTxn float64
	calls   map[float64]func(any, error)

	// SharedObjects the client uses; reader goroutine only.
	sos   map[string]*apps.SharedObject
	soMsg protocol.SharedObjectMessage

	pageURL, swfURL string
	peerAddrs       []string // guarded by mu

	streams map[uint32]*netStream
	// fcPublished holds names announced with FCPublish, answered with
	// onFCPublish when the publish comes.
	fcPublished map[string]bool
}

// NewConn makes the NetConnection for a transport.
func NewConn(id string, tr Transport, registry *apps.Registry, cfg *Config, log *zap.Logger) *Conn {
	if !cfg.defaulted {
		d := cfg.WithDefaults()
		cfg = &d
	}
	return &Conn{
		id: id, tr: tr, apps: registry, cfg: cfg, log: log,
		out:     NewOutbox(cfg.MaxOutboxBytes),
		dec:     &amf.Decoder{MaxDepth: cfg.MaxAMFDepth, MaxElements: cfg.MaxAMFElements},
		since:   time.Now(),
		streams: make(map[uint32]*netStream),
	}
}

// ID is the connection's ID (AMS client ID).
func (c *Conn) ID() string { return c.id }

// Protocol is the transport's protocol name.
func (c *Conn) Protocol() string { return c.tr.Protocol() }

// Info implements apps.Client.
func (c *Conn) Info() apps.ClientInfo {
	st := c.tr.Stats()
	c.mu.Lock()
	defer c.mu.Unlock()
	info := apps.ClientInfo{
		ID: c.id, Protocol: c.tr.Protocol(), RemoteAddr: c.tr.RemoteAddr().String(), Agent: c.agent,
		Since: c.since, BytesIn: st.BytesIn, BytesOut: st.BytesOut, RTT: st.RTT,
		Referrer: c.swfURL, PageURL: c.pageURL, URI: c.tcURL,
	}
	info.FarID = c.tr.FarID()
	if c.inst != nil {
		info.App = c.inst.Path()
	}
	return info
}

// Outbox is the connection's outbound queue.
func (c *Conn) Outbox() *Outbox { return c.out }

// Instance returns the application instance, nil before connect.
func (c *Conn) Instance() *apps.Instance {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.inst
}

// HandleMessage processes one incoming message. An error means the
// connection must be closed; the transport logs it.
func (c *Conn) HandleMessage(m protocol.Message) error {
	c.in.Lock()
	defer c.in.Unlock()
	switch m.Type {
	case protocol.TypeCommandAMF0, protocol.TypeCommandAMF3:
		cmd, err := protocol.DecodeCommand(c.dec, m.Type, m.Payload)
		if err != nil {
			if errors.Is(err, amf.ErrDepth) || errors.Is(err, amf.ErrTooManyElements) {
				c.refused("amf")
			}
			return fmt.Errorf("decode command: %w", err)
		}
		return c.dispatch(m.StreamID, &cmd)
	case protocol.TypeSharedObjectAMF0, protocol.TypeSharedObjectAMF3:
		return c.handleSharedObject(m)
	case protocol.TypeDataAMF0, protocol.TypeDataAMF3:
		if ns := c.streams[m.StreamID]; ns != nil && ns.pub != nil {
			p := m.Payload
			if m.Type == protocol.TypeDataAMF3 && len(p) > 0 && p[0] == 0 {
				p = p[1:]
			}
			ns.publishData(m.Timestamp, p)
		}
	case protocol.TypeAudio, protocol.TypeVideo:
		if ns := c.streams[m.StreamID]; ns != nil && ns.pub != nil {
			ns.publishMedia(m)
		}
	}
	return nil
}

func (c *Conn) dispatch(streamID uint32, cmd *protocol.Command) error {
	if cmd.Name == "connect" {
		return c.onConnect(cmd)
	}
	switch c.state.Load() {
	case stateAccepted:
	case statePending, stateRejected:
		c.log.Debug("command before the connect was accepted", zap.String("command", cmd.Name))
		return nil
	default:
		return fmt.Errorf("%w: %q", ErrNotConnected, cmd.Name)
	}
	if streamID != 0 {
		if ns := c.streams[streamID]; ns != nil {
			if handled, err := ns.dispatch(cmd); handled {
				return err
			}
		}
	}
	switch cmd.Name {
	case "createStream":
		return c.onCreateStream(cmd)
	case "deleteStream", "closeStream":
		id := streamID
		if n, ok := cmd.ArgNumber(0); ok && cmd.Name == "deleteStream" {
			id = uint32(n)
		}
		if ns := c.streams[id]; ns != nil {
			ns.close(true)
			if cmd.Name == "deleteStream" {
				delete(c.streams, id)
			}
		}
		return nil
	case "releaseStream", "FCPublish", "getStreamLength", "_checkbw":
		if cmd.Name == "FCPublish" {
			if c.fcPublished == nil {
				c.fcPublished = make(map[string]bool)
			}
			name, _ := splitQuery(cmd.ArgString(0))
			c.fcPublished[name] = true
		}
		var result any = amf.Undefined{}
		if cmd.Name == "getStreamLength" {
			result = c.streamLength(cmd.ArgString(0))
		}
		return c.reply(cmd.TxnID, nil, result)
	case "FCUnpublish":
		// onFCUnpublish, the _result, then Unpublish.Success: SRS's order,
		// which FMLE-style encoders are used to.
		name, _ := splitQuery(cmd.ArgString(0))
		var ns *netStream
		for _, s := range c.streams {
			if s.pub != nil && s.pubName == name {
				ns = s
			}
		}
		if ns != nil {
			if err := c.sendCommand(ns.id, "onFCUnpublish", 0, nil,
				protocol.StatusObject(protocol.LevelStatus, protocol.UnpublishSuccess, name+" is now unpublished.")); err != nil {
				return err
			}
		}
		if err := c.reply(cmd.TxnID, nil, amf.Undefined{}); err != nil {
			return err
		}
		if ns != nil {
			ns.stopPublish(true)
		}
		return nil
	case "FCSubscribe":
		name := cmd.ArgString(0)
		return c.sendCommand(0, "onFCSubscribe", 0, nil,
			protocol.StatusObject(protocol.LevelStatus, protocol.PlayStart, "Subscribed to "+name+"."))
	case "FCUnsubscribe":
		return nil
	case "setPeerInfo":
		return c.onSetPeerInfo(cmd)
	case "_result", "_error":
		c.onCallReply(cmd)
		return nil
	}
	c.callApp(cmd)
	return nil
}

// SplitAppPath derives the application and instance names from a connect
// URL's path ("app/instance..."), or from the app property when tcUrl is
// missing or has no path.
func SplitAppPath(tcURL, app string) (appName, instance string) {
	path := ""
	if u, err := url.Parse(strings.Trim(tcURL, "'\"")); err == nil && u.Path != "" && u.Path != "/" {
		path = u.Path
	} else {
		path, _ = splitQuery(app)
	}
	path = strings.Trim(path, "/")
	appName, instance, _ = strings.Cut(path, "/")
	return appName, instance
}

// splitQuery splits "name?query" into its parts.
func splitQuery(s string) (string, string) {
	name, query, _ := strings.Cut(s, "?")
	return name, query
}

func (c *Conn) onConnect(cmd *protocol.Command) error {
	if c.state.Load() != stateNew {
		return errors.New("netconn: second connect on one connection")
	}
	obj, _ := cmd.Object.(amf.Object)
	tcURL := obj.String("tcUrl")
	if tcURL == "" {
		tcURL = obj.String("tcurl")
	}
	appName, instName := SplitAppPath(tcURL, obj.String("app"))
	encoding := 0.0
	if n, ok := obj.Number("objectEncoding"); ok && n == 3 {
		encoding = 3
	}
	inst, err := c.apps.Resolve(appName, instName)
	if err != nil {
		c.log.Info("connect rejected", zap.String("app", appName), zap.Error(err))
		return c.reject(cmd.TxnID, protocol.ConnectInvalidApp, fmt.Sprintf("Application (%s) is not defined.", appName))
	}
	c.mu.Lock()
	c.agent, c.tcURL = obj.String("flashVer"), tcURL
	c.pageURL, c.swfURL = obj.String("pageUrl"), obj.String("swfUrl")
	c.mu.Unlock()
	if err := c.cfg.Auth.Connect(c.tr.Context(), c.authRequest(appName, "", ""), connectQuery(tcURL, obj.String("app"))); err != nil {
		c.log.Info("connect refused", zap.String("app", appName), zap.Error(err))
		return c.reject(cmd.TxnID, protocol.ConnectRejected, denialText(err))
	}
	c.soType = protocol.TypeSharedObjectAMF0
	if encoding == 3 {
		c.soType = protocol.TypeSharedObjectAMF3
	}
	c.log = c.log.WithLazy(zap.String("app", appName), zap.String("instance", inst.Name()))
	c.mu.Lock()
	c.inst, c.objectEncoding = inst, encoding
	c.state.Store(statePending)
	c.mu.Unlock()
	txn := cmd.TxnID
	inst.Connect(c, cmd.Args, func(d apps.Decision) { c.decide(txn, d) })
	return nil
}

// accept queues the transport's messages and the connect _result. It runs
// on whichever goroutine the application decided on.
func (c *Conn) accept(txn float64) error {
	if err := c.tr.ConnectAccepted(c.out); err != nil {
		return err
	}
	c.mu.Lock()
	encoding := c.objectEncoding
	c.mu.Unlock()
	props := amf.Object{
		{Key: "fmsVer", Value: c.cfg.FMSVer},
		{Key: "capabilities", Value: c.cfg.Capabilities},
		{Key: "mode", Value: 1.0},
	}
	extra := []amf.Property{
		{Key: "objectEncoding", Value: encoding},
		{Key: "data", Value: amf.ECMAArray{{Key: "version", Value: c.cfg.ServerVersion}}},
	}
	extra = append(extra, c.tr.ConnectInfo()...)
	info := protocol.StatusObject(protocol.LevelStatus, protocol.ConnectSuccess, "Connection succeeded.", extra...)
	c.log.Info("connected", zap.String("agent", c.agent), zap.Float64("objectEncoding", encoding))
	if err := c.sendCommand(0, "_result", txn, props, info); err != nil {
		return err
	}
	return c.tr.ConnectResultSent(c.out)
}

// refused counts a refusal by a limit.
func (c *Conn) refused(limit string) {
	if c.cfg.Refused != nil {
		c.cfg.Refused(limit)
	}
}

// publishing counts the streams the connection publishes.
func (c *Conn) publishing() int {
	n := 0
	for _, ns := range c.streams {
		if ns.pub != nil {
			n++
		}
	}
	return n
}

// Publishing reports whether the client publishes a stream. Only the
// goroutine that feeds HandleMessage may ask; a transport asks before it
// parks a quiet connection's reader, which a publisher's must not be.
func (c *Conn) Publishing() bool { return c.publishing() > 0 }

// HasStream reports whether the client created NetStream id.
func (c *Conn) HasStream(id uint32) bool {
	c.in.Lock()
	defer c.in.Unlock()
	return c.streams[id] != nil
}

// PeerAddresses are the addresses the client reported with setPeerInfo
// (RTMFP: its local and alternate addresses, for P2P introductions).
func (c *Conn) PeerAddresses() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.peerAddrs
}

// onSetPeerInfo records the addresses an RTMFP client reports. Malformed
// entries (mobile AIR has sent some) are skipped.
func (c *Conn) onSetPeerInfo(cmd *protocol.Command) error {
	var addrs []string
	for _, a := range cmd.Args {
		if s, ok := a.(string); ok && s != "" {
			if _, _, err := net.SplitHostPort(s); err == nil && len(addrs) < 16 {
				addrs = append(addrs, s)
			}
		}
	}
	c.mu.Lock()
	c.peerAddrs = addrs
	c.mu.Unlock()
	if cmd.TxnID != 0 {
		return c.reply(cmd.TxnID, nil, amf.Undefined{})
	}
	return nil
}

// reject answers connect with _error and closes the connection once it is
// sent. extra goes into the information object (application, ex).
func (c *Conn) reject(txn float64, code, description string, extra ...amf.Property) error {
	err := c.sendCommand(0, "_error", txn, nil, protocol.StatusObject(protocol.LevelError, code, description, extra...))
	c.out.CloseAfterFlush(fmt.Errorf("%w: %s", ErrConnectRejected, description))
	return err
}

// Shutdown sends a connected client NetConnection.Connect.AppShutdown
// (the transport closes after that is sent); a connection that never
// connected is closed at once with closeNow, since there is no one to
// tell.
func (c *Conn) Shutdown(closeNow func(error)) {
	if c.Instance() == nil {
		closeNow(ErrShutdown)
		return
	}
	c.Disconnect(protocol.ConnectAppShutdown, "The server is shutting down.", ErrShutdown)
}

// Disconnect tells the client why with an onStatus (NetConnection.Connect.*)
// and closes the connection once that is sent. Safe from any goroutine.
func (c *Conn) Disconnect(code, description string, cause error) {
	level := protocol.LevelStatus
	if code == protocol.ConnectAppShutdown {
		level = protocol.LevelError
	}
	_ = c.sendCommand(0, "onStatus", 0, nil, protocol.StatusObject(level, code, description))
	c.out.CloseAfterFlush(cause)
}

func (c *Conn) onCreateStream(cmd *protocol.Command) error {
	if len(c.streams) >= c.cfg.MaxStreams {
		return c.sendCommand(0, "_error", cmd.TxnID, nil, protocol.StatusObject(protocol.LevelError,
			protocol.CallFailed, fmt.Sprintf("Too many streams (limit %d).", c.cfg.MaxStreams)))
	}
	id := uint32(1)
	for c.streams[id] != nil {
		id++
	}
	c.streams[id] = &netStream{id: id, c: c}
	return c.reply(cmd.TxnID, nil, float64(id))
}

// Close releases everything the connection holds: its publications, its
// subscriptions and its place in the instance. The transport calls it once,
// after its reader has stopped.
func (c *Conn) Close() {
	c.in.Lock()
	defer c.in.Unlock()
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return
	}
	c.closed = true
	state := c.state.Load()
	calls := c.calls
	c.calls = nil
	c.mu.Unlock()
	for id, ns := range c.streams {
		ns.close(false)
		delete(c.streams, id)
	}
	for name, so := range c.sos {
		so.Unsubscribe(c)
		delete(c.sos, name)
	}
	for _, result := range calls {
		result(nil, ErrClosed)
	}
	if state == stateAccepted || state == statePending {
		// A pending client is reported too, so the script forgets it.
		c.inst.Disconnect(c)
	}
}

func (c *Conn) reply(txn float64, obj any, args ...any) error {
	return c.sendCommand(0, "_result", txn, obj, args...)
}

func (c *Conn) sendCommand(streamID uint32, name string, txn float64, obj any, args ...any) error {
	payload, err := protocol.AppendCommand(nil, name, txn, obj, args...)
	if err != nil {
		return fmt.Errorf("encode %s: %w", name, err)
	}
	return c.out.Push(protocol.Message{Type: protocol.TypeCommandAMF0, StreamID: streamID, Payload: payload})
}

func (c *Conn) sendData(streamID uint32, vals ...any) error {
	payload, err := protocol.AppendValues(nil, vals...)
	if err != nil {
		return fmt.Errorf("encode data: %w", err)
	}
	return c.out.Push(protocol.Message{Type: protocol.TypeDataAMF0, StreamID: streamID, Payload: payload})
}

func (c *Conn) sendStatus(streamID uint32, level, code, description string, extra ...amf.Property) error {
	extra = append(extra, amf.Property{Key: "clientid", Value: c.id})
	return c.sendCommand(streamID, "onStatus", 0, nil, protocol.StatusObject(level, code, description, extra...))
}

func (c *Conn) userControl(ev protocol.EventType, streamID uint32) error {
	return c.out.Push(protocol.Message{
		Type:    protocol.TypeUserControl,
		Payload: protocol.AppendUserControl(nil, protocol.UserControl{Event: ev, StreamID: streamID}),
	})
}

// isFlashPlayer tells whether the client's agent string looks like Flash
// Player or AIR ("WIN 32,0,0,465"), which expect NetStream.Data.Start;
// ffmpeg's FLV demuxer would take that message for an extra data stream.
func (c *Conn) isFlashPlayer() bool {
	a := c.agent
	if strings.Contains(a, "FMLE") || strings.Contains(a, "FMSc") {
		return false
	}
	for _, p := range []string{"WIN ", "MAC ", "LNX ", "AND ", "iOS "} {
		// ffmpeg and librtmp claim Flash Player 9,0,124,2.
		if strings.HasPrefix(a, p) && strings.Count(a, ",") == 3 && !strings.HasSuffix(a, "9,0,124,2") {
			return true
		}
	}
	return false
}
