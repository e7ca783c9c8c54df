package netconn

import (
	"fmt"
	"strings"
	"testing"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/protocol"
)

func (cl *client) so(typ protocol.Type, m protocol.SharedObjectMessage) {
	cl.t.Helper()
	b, err := protocol.AppendSharedObject(nil, typ, &m)
	if err != nil {
		cl.t.Fatal(err)
	}
	if err := cl.c.HandleMessage(protocol.Message{Type: typ, Payload: b}); err != nil {
		cl.t.Fatalf("shared object message: %v", err)
	}
}

// soEvents decodes the SharedObject messages queued for the client as
// "type v<version> Event key" lines.
func (cl *client) soEvents() []string {
	cl.t.Helper()
	var out []string
	for {
		o, ok := cl.c.Outbox().Next()
		if !ok {
			return out
		}
		if o.Type != protocol.TypeSharedObjectAMF0 && o.Type != protocol.TypeSharedObjectAMF3 {
			continue
		}
		var m protocol.SharedObjectMessage
		if err := protocol.DecodeSharedObject(cl.dec, o.Type, o.Payload, &m); err != nil {
			cl.t.Fatal(err)
		}
		for _, ev := range m.Events {
			s := fmt.Sprintf("%d v%d %v", o.Type, m.Version, ev.Type)
			if ev.Key != "" {
				s += " " + ev.Key
			}
			if ev.Type == protocol.SOChange {
				s += fmt.Sprintf("=%v", ev.Value)
			}
			out = append(out, s)
		}
	}
}

func TestSharedObjectDispatch(t *testing.T) {
	h := newHarness(t)
	a := h.connect("WIN 32,0,0,465")
	b := h.connect("WIN 32,0,0,465")
	a.drain()
	b.drain()
	// b negotiated AMF3 in the real world; here it just sends type 16.
	b.c.soType = protocol.TypeSharedObjectAMF3
	const t19, t16 = protocol.TypeSharedObjectAMF0, protocol.TypeSharedObjectAMF3

	a.so(t19, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{{Type: protocol.SOUse}}})
	b.so(t16, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{{Type: protocol.SOUse}}})
	expect(t, a.soEvents(), "19 v0 UseSuccess", "19 v0 Clear")
	expect(t, b.soEvents(), "16 v0 UseSuccess", "16 v0 Clear")

	a.so(t19, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{
		{Type: protocol.SORequestChange, Key: "x", Value: 1.0},
		{Type: protocol.SORequestChange, Key: "y", Value: "two"},
	}})
	expect(t, a.soEvents(), "19 v1 Success x", "19 v2 Success y")
	expect(t, b.soEvents(), "16 v1 Change x=1", "16 v2 Change y=two")

	b.so(t16, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{
		{Type: protocol.SORequestRemove, Key: "x"},
		{Type: protocol.SOSendMessage, Key: "onMsg", Args: []any{"hello"}},
	}})
	expect(t, a.soEvents(), "19 v3 Remove x", "19 v3 SendMessage onMsg")
	expect(t, b.soEvents(), "16 v3 Success x", "16 v3 SendMessage onMsg")

	// Persistence mismatch: Status BadPersistence.
	b.so(t16, protocol.SharedObjectMessage{Name: "room", Persistent: true, Events: []protocol.SOEvent{{Type: protocol.SOUse}}})
	expect(t, b.soEvents(), "16 v3 UseSuccess", "16 v3 Clear", "16 v3 Change y=two")
	a.so(t19, protocol.SharedObjectMessage{Name: "other", Events: []protocol.SOEvent{{Type: protocol.SOUse}}})
	a.soEvents()
	c := h.connect("WIN 32,0,0,465")
	c.drain()
	c.so(t19, protocol.SharedObjectMessage{Name: "other", Persistent: true, Events: []protocol.SOEvent{{Type: protocol.SOUse}}})
	expect(t, c.soEvents(), "19 v0 Status "+protocol.SOBadPersistence)

	// Events for a SharedObject the client does not use are ignored;
	// after Release the client hears nothing more.
	c.so(t19, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{{Type: protocol.SORequestChange, Key: "z", Value: true}}})
	b.so(t16, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{{Type: protocol.SORelease}}})
	a.so(t19, protocol.SharedObjectMessage{Name: "room", Events: []protocol.SOEvent{{Type: protocol.SORequestChange, Key: "w", Value: amf.Object{}}}})
	expect(t, b.soEvents())
	expect(t, a.soEvents(), "19 v4 Success w")

	// Closing a client unsubscribes it.
	a.c.Close()
	inst := mustInstance(t, h)
	for _, so := range inst.SharedObjects() {
		if so.Subscribers() != 0 && so.Name() == "room" {
			t.Errorf("room keeps %d subscribers", so.Subscribers())
		}
	}
}

func TestSharedObjectBeforeConnect(t *testing.T) {
	h := newHarness(t)
	tr := &fakeTransport{}
	cl := &client{t: t, tr: tr, dec: amf.NewDecoder(), c: NewConn("x", tr, h.reg, &Config{}, nil)}
	b, _ := protocol.AppendSharedObject(nil, protocol.TypeSharedObjectAMF0, &protocol.SharedObjectMessage{Name: "s", Events: []protocol.SOEvent{{Type: protocol.SOUse}}})
	err := cl.c.HandleMessage(protocol.Message{Type: protocol.TypeSharedObjectAMF0, Payload: b})
	if err == nil || !strings.Contains(err.Error(), "before connect") {
		t.Errorf("err = %v", err)
	}
	connected := h.connect("WIN 32,0,0,465")
	if err := connected.c.HandleMessage(protocol.Message{Type: protocol.TypeSharedObjectAMF0, Payload: []byte{0, 9}}); err == nil {
		t.Error("truncated shared object message accepted")
	}
}
