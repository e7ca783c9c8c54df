package protocol

import (
	"errors"
	"io"
	"testing"

	"github.com/nimbus-media/nimbus/amf"
)

// loopPipe is a MessagePipe that records what is written and replays a
// script of incoming messages.
type loopPipe struct {
	written []Message
	in      []Message
}

func (p *loopPipe) WriteMessage(m Message) error {
	m.Payload = append([]byte(nil), m.Payload...)
	p.written = append(p.written, m)
	return nil
}

func (p *loopPipe) ReadMessage() (Message, error) {
	if len(p.in) == 0 {
		return Message{}, io.EOF
	}
	m := p.in[0]
	p.in = p.in[1:]
	return m, nil
}

func soMsg(t *testing.T, typ Type, m SharedObjectMessage) Message {
	t.Helper()
	b, err := AppendSharedObject(nil, typ, &m)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Type: typ, Payload: b}
}

func cmdMsg(t *testing.T, name string, txn float64, args ...any) Message {
	t.Helper()
	b, err := AppendCommand(nil, name, txn, nil, args...)
	if err != nil {
		t.Fatal(err)
	}
	return Message{Type: TypeCommandAMF0, Payload: b}
}

func TestClientSharedObjects(t *testing.T) {
	for _, amf3 := range []bool{false, true} {
		want := TypeSharedObjectAMF0
		if amf3 {
			want = TypeSharedObjectAMF3
		}
		p := &loopPipe{}
		c := NewClientConn(p, amf3)
		if err := c.UseSharedObject("users", true); err != nil {
			t.Fatal(err)
		}
		if err := c.SetSharedObjectProperty("users", true, "k", "v"); err != nil {
			t.Fatal(err)
		}
		var got []SOEventType
		for _, m := range p.written {
			if m.Type != want {
				t.Errorf("amf3=%v: sent type %v, want %v", amf3, m.Type, want)
			}
			var so SharedObjectMessage
			if err := DecodeSharedObject(amf.NewDecoder(), m.Type, m.Payload, &so); err != nil {
				t.Fatal(err)
			}
			if so.Name != "users" || !so.Persistent {
				t.Errorf("header %+v", so)
			}
			got = append(got, so.Events[0].Type)
		}
		if len(got) != 2 || got[0] != SOUse || got[1] != SORequestChange {
			t.Errorf("amf3=%v: events %v", amf3, got)
		}
	}
}

// TestClientWaitsKeepOrder: ReadSharedObject and WaitCommand take the
// first matching message, from those kept earlier too, and leave the rest
// for ReadMessage in order.
func TestClientWaitsKeepOrder(t *testing.T) {
	p := &loopPipe{in: []Message{
		cmdMsg(t, "onStatus", 0),
		cmdMsg(t, "onMessage", 3, "hello"),
		soMsg(t, TypeSharedObjectAMF0, SharedObjectMessage{Name: "a", Version: 1, Events: []SOEvent{{Type: SOChange, Key: "x", Value: 1.0}}}),
		soMsg(t, TypeSharedObjectAMF0, SharedObjectMessage{Name: "a", Version: 2, Events: []SOEvent{{Type: SOClear}}}),
	}}
	c := NewClientConn(p, false)
	so, err := c.ReadSharedObject()
	if err != nil || so.Version != 1 || so.Events[0].Key != "x" {
		t.Fatalf("first SO %+v, %v", so, err)
	}
	call, err := c.WaitCommand("onMessage")
	if err != nil || call.TxnID != 3 || call.ArgString(0) != "hello" {
		t.Fatalf("call %+v, %v", call, err)
	}
	if err := c.Reply(&call, "ok", false); err != nil {
		t.Fatal(err)
	}
	if err := c.Reply(&call, amf.Object{{Key: "code", Value: "x"}}, true); err != nil {
		t.Fatal(err)
	}
	for i, want := range []string{"_result", "_error"} {
		cmd, err := DecodeCommand(amf.NewDecoder(), p.written[i].Type, p.written[i].Payload)
		if err != nil || cmd.Name != want || cmd.TxnID != 3 {
			t.Errorf("reply %d: %+v %v", i, cmd, err)
		}
	}
	so, err = c.ReadSharedObject()
	if err != nil || so.Version != 2 {
		t.Fatalf("second SO %+v, %v", so, err)
	}
	m, err := c.ReadMessage()
	if err != nil {
		t.Fatal(err)
	}
	if cmd, _ := c.DecodeCommand(m); cmd.Name != "onStatus" {
		t.Errorf("kept message %q", cmd.Name)
	}
	if _, err := c.ReadSharedObject(); !errors.Is(err, io.EOF) {
		t.Errorf("at the end: %v", err)
	}
}
