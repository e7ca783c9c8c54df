package netconn

import (
	"errors"
	"sync"
	"testing"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol"
)

// scriptHooks is an application whose decisions the test makes by hand.
type scriptHooks struct {
	mu       sync.Mutex
	decide   []func(apps.Decision)
	args     [][]any
	events   []string
	methods  map[string]func(args []any) (any, error)
	accepted bool // decide at once with Accept
}

func (h *scriptHooks) Connect(c apps.Client, args []any, decide func(apps.Decision)) {
	h.mu.Lock()
	h.args = append(h.args, args)
	if h.accepted {
		h.mu.Unlock()
		decide(apps.Decision{Accept: true})
		return
	}
	h.decide = append(h.decide, decide)
	h.mu.Unlock()
}
func (h *scriptHooks) record(s string) {
	h.mu.Lock()
	h.events = append(h.events, s)
	h.mu.Unlock()
}
func (h *scriptHooks) Disconnect(c apps.Client)          { h.record("disconnect " + c.ID()) }
func (h *scriptHooks) Publish(c apps.Client, s string)   { h.record("publish " + s) }
func (h *scriptHooks) Unpublish(c apps.Client, s string) { h.record("unpublish " + s) }
func (h *scriptHooks) Stop()                             {}
func (h *scriptHooks) Call(c apps.Client, m string, args []any, reply func(any, error)) {
	if f := h.methods[m]; f != nil {
		reply(f(args))
		return
	}
	reply(nil, apps.ErrMethodNotFound)
}

type hooksEngine struct{ h apps.Hooks }

func (e hooksEngine) Start(*apps.Instance) (apps.Hooks, error) { return e.h, nil }

func newScriptHarness(t *testing.T, h *scriptHooks) *harness {
	return &harness{t: t, reg: apps.NewRegistry(apps.Config{Apps: []string{"live"}, Engine: hooksEngine{h}})}
}

// TestPendingConnect: a connect the application leaves pending gets no
// reply, commands meanwhile are ignored, and the later decision is sent.
func TestPendingConnect(t *testing.T) {
	tests := []struct {
		name     string
		decision apps.Decision
		want     string
		wantApp  any
		redirect string
	}{
		{"accept", apps.Decision{Accept: true}, "_result " + protocol.ConnectSuccess, nil, ""},
		{"reject with error object", apps.Decision{Description: "bad token", Application: amf.Object{{Key: "reason", Value: "token"}}},
			"_error " + protocol.ConnectRejected, amf.Object{{Key: "reason", Value: "token"}}, ""},
		{"redirect", apps.Decision{Redirect: "rtmp://other/app"}, "_error " + protocol.ConnectRejected, nil, "rtmp://other/app"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			hooks := &scriptHooks{}
			h := newScriptHarness(t, hooks)
			cl := h.connect("WIN 32,0,0,465")
			expect(t, cl.drain())
			cl.command(0, "createStream", nil) // before the decision: ignored
			expect(t, cl.drain())
			hooks.decide[0](tc.decision)
			hooks.decide[0](apps.Decision{Accept: true}) // a second decision is ignored
			var got []string
			var info amf.Object
			for {
				o, ok := cl.c.Outbox().Next()
				if !ok {
					break
				}
				got = append(got, cl.describe(o.Message))
				if cmd, err := protocol.DecodeCommand(cl.dec, o.Type, o.Payload); err == nil && cmd.Name == "_error" {
					info, _ = cmd.Arg(0).(amf.Object)
				}
			}
			if tc.decision.Accept {
				expect(t, got, "WindowAckSize", tc.want)
				if n := len(mustInstance(t, h).Clients()); n != 1 {
					t.Errorf("%d clients in the instance, want 1", n)
				}
				return
			}
			expect(t, got, tc.want)
			if v, _ := info.Get("application"); !equalAMF(v, tc.wantApp) {
				t.Errorf("info.application = %#v, want %#v", v, tc.wantApp)
			}
			ex, _ := info.Get("ex")
			exObj, _ := ex.(amf.Object)
			if exObj.String("redirect") != tc.redirect {
				t.Errorf("ex = %#v, want redirect %q", ex, tc.redirect)
			}
			if cl.c.Outbox().Closing() == nil {
				t.Error("rejected connection not closing")
			}
			if n := len(mustInstance(t, h).Clients()); n != 0 {
				t.Errorf("%d clients in the instance after a rejection", n)
			}
		})
	}
}

func equalAMF(a, b any) bool {
	ao, _ := a.(amf.Object)
	bo, _ := b.(amf.Object)
	if a == nil || b == nil {
		return a == nil && b == nil
	}
	return len(ao) == len(bo) && (len(ao) == 0 || ao[0] == bo[0])
}

// TestConnectDecidedAfterClose: a decision that comes after the client
// left neither replies nor adds the client to the instance.
func TestConnectDecidedAfterClose(t *testing.T) {
	hooks := &scriptHooks{}
	h := newScriptHarness(t, hooks)
	cl := h.connect("WIN 32,0,0,465")
	cl.c.Close()
	hooks.decide[0](apps.Decision{Accept: true})
	expect(t, cl.drain())
	if n := len(mustInstance(t, h).Clients()); n != 0 {
		t.Errorf("%d clients after a late accept", n)
	}
	if len(hooks.events) != 1 || hooks.events[0] != "disconnect c1" {
		t.Errorf("hook events %q, want the pending client's disconnect", hooks.events)
	}
}

func TestScriptHooksSeeLifecycle(t *testing.T) {
	hooks := &scriptHooks{accepted: true, methods: map[string]func([]any) (any, error){
		"add":  func(a []any) (any, error) { return a[0].(float64) + a[1].(float64), nil },
		"fail": func([]any) (any, error) { return nil, errors.New("boom") },
	}}
	h := newScriptHarness(t, hooks)
	cl := h.connect("FMLE/3.0")
	cl.drain()
	if got := hooks.args[0]; len(got) != 0 {
		t.Errorf("connect args %v", got)
	}
	cl.command(0, "createStream", nil)
	cl.command(1, "publish", nil, "s", "live")
	cl.command(1, "publish", nil, false)
	cl.drain()

	cl.command(0, "add", nil, 2.0, 3.0)
	cl.command(0, "fail", nil)
	cl.command(0, "missing", nil)
	var results []any
	for {
		o, ok := cl.c.Outbox().Next()
		if !ok {
			break
		}
		cmd, _ := protocol.DecodeCommand(cl.dec, o.Type, o.Payload)
		info, _ := cmd.Arg(0).(amf.Object)
		if cmd.Name == "_error" {
			results = append(results, info.String("description"))
		} else {
			results = append(results, cmd.Arg(0))
		}
	}
	want := []any{5.0, "Method fail failed: boom", "Method not found (missing)."}
	if len(results) != len(want) || results[0] != want[0] || results[1] != want[1] || results[2] != want[2] {
		t.Errorf("call replies %v, want %v", results, want)
	}
	cl.c.Close()
	if got := hooks.events; len(got) != 3 || got[0] != "publish s" || got[1] != "unpublish s" || got[2] != "disconnect c1" {
		t.Errorf("hook events %q", got)
	}
}

// TestServerCall: Conn.Call sends the command with a transaction ID and
// routes the client's _result or _error to the callback; pending calls fail
// with ErrClosed when the connection closes.
func TestServerCall(t *testing.T) {
	h := newHarness(t)
	cl := h.connect("WIN 32,0,0,465")
	cl.drain()
	type res struct {
		v   any
		err error
	}
	var got []res
	cb := func(v any, err error) { got = append(got, res{v, err}) }
	for i := 0; i < 3; i++ {
		if err := cl.c.Call("onMessage", []any{"hi"}, cb); err != nil {
			t.Fatal(err)
		}
	}
	if err := cl.c.Call("notify", nil, nil); err != nil {
		t.Fatal(err)
	}
	var txns []float64
	for {
		o, ok := cl.c.Outbox().Next()
		if !ok {
			break
		}
		cmd, _ := protocol.DecodeCommand(cl.dec, o.Type, o.Payload)
		txns = append(txns, cmd.TxnID)
	}
	if len(txns) != 4 || txns[0] != 1 || txns[1] != 2 || txns[2] != 3 || txns[3] != 0 {
		t.Fatalf("transaction IDs %v", txns)
	}
	reply := func(name string, txn float64, v any) {
		b, _ := protocol.AppendCommand(nil, name, txn, nil, v)
		if err := cl.c.HandleMessage(protocol.Message{Type: protocol.TypeCommandAMF0, Payload: b}); err != nil {
			t.Fatal(err)
		}
	}
	reply("_result", 2, "ok")
	reply("_error", 1, amf.Object{{Key: "code", Value: "x"}})
	reply("_result", 99, "unknown txn")
	cl.c.Close()
	if len(got) != 3 || got[0].v != "ok" || got[0].err != nil {
		t.Fatalf("results %+v", got)
	}
	var ce *apps.CallError
	if !errors.As(got[1].err, &ce) || !errors.Is(got[2].err, ErrClosed) {
		t.Errorf("errors %v, %v", got[1].err, got[2].err)
	}
	if err := cl.c.Call("late", nil, cb); !errors.Is(err, ErrClosed) {
		t.Errorf("call after close: %v", err)
	}
}
