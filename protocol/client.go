package protocol

import (
	"fmt"

	"github.com/nimbus-media/nimbus/amf"
)

// MessagePipe is what a NetConnection client needs from its transport:
// sending a message, and the next message received (its payload valid
// until the next call). RTMP and RTMFP clients provide one each.
type MessagePipe interface {
	WriteMessage(m Message) error
	ReadMessage() (Message, error)
}

// StatusError is a status or _error a server answered with.
type StatusError struct {
	Level, Code, Description string
	Info                     amf.Object
}

func (e *StatusError) Error() string {
	return fmt.Sprintf("%s (%s)", e.Code, e.Description)
}

func statusError(v any) error {
	info, _ := v.(amf.Object)
	return &StatusError{Level: info.String("level"), Code: info.String("code"), Description: info.String("description"), Info: info}
}

// ClientConn is the client side of a NetConnection, the same over every
// transport: connect, calls and their results, createStream, publish,
// play and status waits. Reading (ReadMessage and the methods that wait for
// a reply) must happen on one goroutine; messages that arrive while a
// method waits are kept for ReadMessage.
type ClientConn struct {
	pipe    MessagePipe
	amf3    bool
	dec     *amf.Decoder
	txn     float64
	pending []Message
	props   amf.Object
}

// NewClientConn makes a NetConnection client over pipe. With amf3, commands
// after connect are sent as type 17 with AMF3 values, as Flash Player does
// once objectEncoding 3 is negotiated.
func NewClientConn(pipe MessagePipe, amf3 bool) *ClientConn {
	return &ClientConn{pipe: pipe, amf3: amf3, dec: amf.NewDecoder()}
}

// Connect sends connect with the command object and extra arguments and
// returns the server's information object. connect itself is always AMF0:
// no encoding has been negotiated yet.
func (c *ClientConn) Connect(obj amf.Object, args ...any) (amf.Object, error) {
	res, err := c.call(0, "connect", obj, false, args...)
	if err != nil {
		return nil, err
	}
	c.props, _ = res.Object.(amf.Object)
	info, _ := res.Arg(0).(amf.Object)
	return info, nil
}

// ServerProperties is the connect result's properties object (fmsVer,
// capabilities, mode).
func (c *ClientConn) ServerProperties() amf.Object { return c.props }

// AppendCommandAMF3 encodes a command as Flash Player does after
// negotiating AMF3: a zero format byte, the name and transaction ID in AMF0
// and every other value switched to AMF3 with the 0x11 marker, sharing one
// set of AMF3 reference tables.
func AppendCommandAMF3(b []byte, name string, txn float64, obj any, args ...any) ([]byte, error) {
	b = append(b, 0)
	var err error
	if b, err = amf.AppendAMF0(b, name); err != nil {
		return b, err
	}
	if b, err = amf.AppendAMF0(b, txn); err != nil {
		return b, err
	}
	var enc amf.Encoder
	for _, v := range append([]any{obj}, args...) {
		b = append(b, 0x11)
		if b, err = enc.AppendAMF3(b, v); err != nil {
			return b, err
		}
	}
	return b, nil
}

func (c *ClientConn) encode(streamID uint32, name string, txn float64, obj any, amf3 bool, args ...any) (Message, error) {
	if amf3 {
		b, err := AppendCommandAMF3(nil, name, txn, obj, args...)
		return Message{Type: TypeCommandAMF3, StreamID: streamID, Payload: b}, err
	}
	b, err := AppendCommand(nil, name, txn, obj, args...)
	return Message{Type: TypeCommandAMF0, StreamID: streamID, Payload: b}, err
}

// Command sends a command without waiting for a reply.
func (c *ClientConn) Command(streamID uint32, name string, txn float64, obj any, args ...any) error {
	m, err := c.encode(streamID, name, txn, obj, c.amf3, args...)
	if err != nil {
		return err
	}
	return c.pipe.WriteMessage(m)
}

// Call invokes a server method and waits for its _result (or _error, as a
// *StatusError).
func (c *ClientConn) Call(name string, args ...any) (Command, error) {
	return c.call(0, name, nil, c.amf3, args...)
}

func (c *ClientConn) call(streamID uint32, name string, obj any, amf3 bool, args ...any) (Command, error) {
	c.txn++
	txn := c.txn
	m, err := c.encode(streamID, name, txn, obj, amf3, args...)
	if err != nil {
		return Command{}, err
	}
	if err := c.pipe.WriteMessage(m); err != nil {
		return Command{}, err
	}
	for {
		m, err := c.pipe.ReadMessage()
		if err != nil {
			return Command{}, err
		}
		if m.Type == TypeCommandAMF0 || m.Type == TypeCommandAMF3 {
			cmd, err := DecodeCommand(c.dec, m.Type, m.Payload)
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

func (c *ClientConn) keep(m Message) {
	m.Payload = append([]byte(nil), m.Payload...)
	c.pending = append(c.pending, m)
}

// CreateStream creates a NetStream and returns its ID.
func (c *ClientConn) CreateStream() (uint32, error) {
	res, err := c.Call("createStream")
	if err != nil {
		return 0, err
	}
	id, ok := res.ArgNumber(0)
	if !ok || id < 1 {
		return 0, fmt.Errorf("createStream returned %v", res.Arg(0))
	}
	return uint32(id), nil
}

// Publish starts publishing name on streamID and waits for
// NetStream.Publish.Start; an error status comes back as *StatusError.
func (c *ClientConn) Publish(streamID uint32, name, kind string) error {
	if kind == "" {
		kind = "live"
	}
	if err := c.Command(streamID, "publish", 0, nil, name, kind); err != nil {
		return err
	}
	_, err := c.WaitStatus(streamID, PublishStart)
	return err
}

// Play asks to play name from start (-2000 live or recorded, -1000 live
// only, in milliseconds as Flash sends them) and waits for
// NetStream.Play.Start.
func (c *ClientConn) Play(streamID uint32, name string, start float64) error {
	if err := c.Command(streamID, "play", 0, nil, name, start); err != nil {
		return err
	}
	_, err := c.WaitStatus(streamID, PlayStart)
	return err
}

// WaitStatus reads until an onStatus with the given code arrives on
// streamID and returns its info object. An error-level onStatus on that
// stream ends the wait with a *StatusError.
func (c *ClientConn) WaitStatus(streamID uint32, code string) (amf.Object, error) {
	for {
		m, err := c.pipe.ReadMessage()
		if err != nil {
			return nil, err
		}
		if m.StreamID == streamID && (m.Type == TypeCommandAMF0 || m.Type == TypeCommandAMF3) {
			cmd, err := DecodeCommand(c.dec, m.Type, m.Payload)
			if err == nil && cmd.Name == "onStatus" {
				info, _ := cmd.Arg(0).(amf.Object)
				if info.String("code") == code {
					return info, nil
				}
				if info.String("level") == LevelError {
					return info, statusError(info)
				}
			}
		}
		c.keep(m)
	}
}

// ReadMessage returns the next message, after any kept while waiting for
// replies. The payload is valid until the next call.
func (c *ClientConn) ReadMessage() (Message, error) {
	if len(c.pending) > 0 {
		m := c.pending[0]
		c.pending[0] = Message{}
		c.pending = c.pending[1:]
		return m, nil
	}
	return c.pipe.ReadMessage()
}

// DecodeCommand decodes a command or data message's AMF values.
func (c *ClientConn) DecodeCommand(m Message) (Command, error) {
	return DecodeCommand(c.dec, m.Type, m.Payload)
}
