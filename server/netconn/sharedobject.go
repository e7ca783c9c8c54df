package netconn

import (
	"errors"
	"fmt"

	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol"
)

// maxSharedObjects bounds the SharedObjects one connection may use.
const maxSharedObjects = 64

// handleSharedObject applies a client's SharedObject message (types 19/16,
// or the same body over RTMFP): Use, Release, RequestChange, RequestRemove
// and SendMessage. Server-to-client events from a client are ignored.
func (c *Conn) handleSharedObject(m protocol.Message) error {
	switch c.state.Load() {
	case stateAccepted:
	case stateNew:
		return fmt.Errorf("%w: shared object message", ErrNotConnected)
	default:
		return nil
	}
	if err := protocol.DecodeSharedObject(c.dec, m.Type, m.Payload, &c.soMsg); err != nil {
		return fmt.Errorf("decode shared object: %w", err)
	}
	name := c.soMsg.Name
	for i := range c.soMsg.Events {
		ev := &c.soMsg.Events[i]
		if ev.Type == protocol.SOUse {
			c.useSharedObject(name, c.soMsg.Persistent)
			continue
		}
		so := c.sos[name]
		if so == nil {
			c.log.Debug("shared object event before use", zap.String("so", name), zap.Stringer("event", ev.Type))
			continue
		}
		switch ev.Type {
		case protocol.SORelease:
			so.Unsubscribe(c)
			delete(c.sos, name)
		case protocol.SORequestChange:
			c.soResult(so.RequestChange(c, ev.Key, ev.Value), name)
		case protocol.SORequestRemove:
			c.soResult(so.RequestRemove(c, ev.Key), name)
		case protocol.SOSendMessage:
			so.SendMessage(c, ev.Key, ev.Args)
		default:
			c.log.Debug("ignored shared object event", zap.String("so", name), zap.Stringer("event", ev.Type))
		}
	}
	return nil
}

func (c *Conn) useSharedObject(name string, persistent bool) {
	if so := c.sos[name]; so != nil {
		c.soResult(so.Subscribe(c), name) // a second Use resynchronises
		return
	}
	if len(c.sos) >= maxSharedObjects {
		c.soStatus(name, persistent, protocol.SONoReadAccess, protocol.LevelError)
		return
	}
	so, err := c.inst.SharedObject(name, persistent)
	if errors.Is(err, apps.ErrBadPersistence) {
		c.soStatus(name, persistent, protocol.SOBadPersistence, protocol.LevelError)
		return
	}
	if err != nil {
		c.log.Info("shared object refused", zap.String("so", name), zap.Error(err))
		c.soStatus(name, persistent, protocol.SONoReadAccess, protocol.LevelError)
		return
	}
	if err := so.Subscribe(c); err != nil {
		c.soResult(err, name)
		return
	}
	if c.sos == nil {
		c.sos = make(map[string]*apps.SharedObject)
	}
	c.sos[name] = so
}

func (c *Conn) soResult(err error, name string) {
	if errors.Is(err, apps.ErrSOLimit) {
		c.refused("shared_object")
	}
	if err != nil && !errors.Is(err, apps.ErrLocked) {
		c.log.Debug("shared object request failed", zap.String("so", name), zap.Error(err))
	}
}

// soStatus sends a Status event (code, level) for SharedObject name.
func (c *Conn) soStatus(name string, persistent bool, code, level string) {
	c.SendSharedObject(&protocol.SharedObjectMessage{Name: name, Persistent: persistent,
		Events: []protocol.SOEvent{{Type: protocol.SOStatus, Key: code, Value: level}}})
}

// SendSharedObject implements apps.SharedObjectSubscriber: it encodes m in
// the client's object encoding and queues it. A client too slow to take
// its SharedObject updates is closed rather than allowed to grow the queue.
func (c *Conn) SendSharedObject(m *protocol.SharedObjectMessage) {
	payload, err := protocol.AppendSharedObject(nil, c.soType, m)
	if err != nil {
		c.log.Warn("cannot encode shared object message", zap.String("so", m.Name), zap.Error(err))
		return
	}
	if err := c.out.Push(protocol.Message{Type: c.soType, Payload: payload}); err != nil {
		c.log.Warn("shared object update dropped; closing", zap.String("so", m.Name), zap.Error(err))
		c.tr.Close(err)
	}
}
