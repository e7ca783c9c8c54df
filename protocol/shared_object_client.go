package protocol

// Client side of remote SharedObjects and of server-to-client calls, for
// every transport's ClientConn.

// soType is the SharedObject message type for the negotiated encoding.
func (c *ClientConn) soType() Type {
	if c.amf3 {
		return TypeSharedObjectAMF3
	}
	return TypeSharedObjectAMF0
}

// SendSharedObject sends a SharedObject message (Use, Release,
// RequestChange, RequestRemove, SendMessage events) as type 19, or 16 when
// AMF3 was negotiated, as Flash Player does.
func (c *ClientConn) SendSharedObject(m *SharedObjectMessage) error {
	t := c.soType()
	b, err := AppendSharedObject(nil, t, m)
	if err != nil {
		return err
	}
	return c.pipe.WriteMessage(Message{Type: t, Payload: b})
}

// UseSharedObject subscribes to a remote SharedObject
// (SharedObject.getRemote(name, uri, persistent).connect(nc)). The server
// answers with UseSuccess, Clear and the slots: see ReadSharedObject.
func (c *ClientConn) UseSharedObject(name string, persistent bool) error {
	return c.SendSharedObject(&SharedObjectMessage{Name: name, Persistent: persistent, Events: []SOEvent{{Type: SOUse}}})
}

// SetSharedObjectProperty asks the server to change a slot (so.setProperty
// or so.data[key] = value).
func (c *ClientConn) SetSharedObjectProperty(name string, persistent bool, key string, value any) error {
	return c.SendSharedObject(&SharedObjectMessage{Name: name, Persistent: persistent,
		Events: []SOEvent{{Type: SORequestChange, Key: key, Value: value}}})
}

// ReadSharedObject reads until a SharedObject message arrives (one kept
// earlier comes first) and decodes it; other messages are kept for
// ReadMessage.
func (c *ClientConn) ReadSharedObject() (SharedObjectMessage, error) {
	var out SharedObjectMessage
	m, err := c.next(func(m Message) bool { return m.Type == TypeSharedObjectAMF0 || m.Type == TypeSharedObjectAMF3 })
	if err != nil {
		return out, err
	}
	err = DecodeSharedObject(c.dec, m.Type, m.Payload, &out)
	return out, err
}

// WaitCommand reads until the server sends the command name on the
// NetConnection (stream 0) — a server-to-client call such as a script's
// client.call — and returns it; other messages are kept.
func (c *ClientConn) WaitCommand(name string) (Command, error) {
	var cmd Command
	_, err := c.next(func(m Message) bool {
		if m.StreamID != 0 || (m.Type != TypeCommandAMF0 && m.Type != TypeCommandAMF3) {
			return false
		}
		x, err := DecodeCommand(c.dec, m.Type, m.Payload)
		if err != nil || x.Name != name {
			return false
		}
		cmd = x
		return true
	})
	return cmd, err
}

// Reply answers a server-to-client call: _result with value, or _error
// with an info object when fail is set. A call with transaction 0 expects
// no answer.
func (c *ClientConn) Reply(call *Command, value any, fail bool) error {
	name := "_result"
	if fail {
		name = "_error"
	}
	return c.Command(0, name, call.TxnID, nil, value)
}

// next returns the first message match accepts: from those kept earlier,
// then from the transport, keeping the others in order. The returned
// payload is the caller's.
func (c *ClientConn) next(match func(Message) bool) (Message, error) {
	for i, m := range c.pending {
		if match(m) {
			c.pending = append(c.pending[:i], c.pending[i+1:]...)
			return m, nil
		}
	}
	for {
		m, err := c.pipe.ReadMessage()
		if err != nil {
			return m, err
		}
		if match(m) {
			m.Payload = append([]byte(nil), m.Payload...)
			return m, nil
		}
		c.keep(m)
	}
}
