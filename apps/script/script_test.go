package script

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"go.uber.org/goleak"
	"go.uber.org/zap"
	"go.uber.org/zap/zaptest/observer"

	"github.com/nimbus-media/nimbus/amf"
	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/internal/testtools"
	"github.com/nimbus-media/nimbus/protocol"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// fakeClient records the calls the script makes to it.
type fakeClient struct {
	id string
	mu sync.Mutex
	// calls are "method args" strings; replies answers calls with a result.
	calls   []string
	replies func(method string) (any, error)
	kicked  string
}

func (c *fakeClient) ID() string       { return c.id }
func (c *fakeClient) Protocol() string { return "rtmp" }
func (c *fakeClient) Info() apps.ClientInfo {
	return apps.ClientInfo{ID: c.id, Protocol: "rtmp", RemoteAddr: "192.0.2.1:5000", Agent: "WIN 32,0,0,1", Referrer: "http://x/a.swf"}
}
func (c *fakeClient) Disconnect(code, _ string, _ error) {
	c.mu.Lock()
	c.kicked = code
	c.mu.Unlock()
}
func (c *fakeClient) Call(method string, args []any, result func(any, error)) error {
	c.mu.Lock()
	c.calls = append(c.calls, fmt.Sprint(method, " ", args))
	replies := c.replies
	c.mu.Unlock()
	if result != nil && replies != nil {
		go result(replies(method))
	}
	return nil
}
func (c *fakeClient) called() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]string(nil), c.calls...)
}

type env struct {
	t    testing.TB
	dir  string
	reg  *apps.Registry
	inst *apps.Instance
	logs *observer.ObservedLogs
}

// newEnv writes files into a fresh application folder "app" and starts
// its instance with the engine.
func newEnv(t testing.TB, cfg Config, files map[string]string) *env {
	t.Helper()
	dir := t.TempDir()
	for name, src := range files {
		p := filepath.Join(dir, "app", name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(p, []byte(src), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	core, logs := observer.New(zap.DebugLevel)
	cfg.Log = zap.New(core)
	reg := apps.NewRegistry(apps.Config{Dir: dir, Engine: NewEngine(cfg)})
	inst, err := reg.Resolve("app", "")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = reg.Unload("app") })
	return &env{t: t, dir: dir, reg: reg, inst: inst, logs: logs}
}

// connect runs the connect hook and waits for the decision.
func (e *env) connect(c apps.Client, args ...any) apps.Decision {
	e.t.Helper()
	ch := make(chan apps.Decision, 1)
	e.inst.Connect(c, args, func(d apps.Decision) { ch <- d })
	select {
	case d := <-ch:
		if d.Accept {
			e.inst.AddClient(c)
		}
		return d
	case <-time.After(5 * time.Second):
		e.t.Fatal("no connect decision")
		return apps.Decision{}
	}
}

func (e *env) call(c apps.Client, method string, args ...any) (any, error) {
	e.t.Helper()
	type res struct {
		v   any
		err error
	}
	ch := make(chan res, 1)
	e.inst.Call(c, method, args, func(v any, err error) { ch <- res{v, err} })
	select {
	case r := <-ch:
		return r.v, r.err
	case <-time.After(5 * time.Second):
		e.t.Fatal("no call reply")
		return nil, nil
	}
}

// traces waits until n trace lines were logged and returns them.
func (e *env) traces(n int) []string {
	e.t.Helper()
	deadline := time.Now().Add(5 * time.Second)
	for {
		var out []string
		for _, l := range e.logs.FilterMessage("trace").All() {
			out = append(out, l.ContextMap()["msg"].(string))
		}
		if len(out) >= n {
			return out
		}
		if time.Now().After(deadline) {
			e.t.Fatalf("got traces %q, want %d", out, n)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

func TestConnectDecisions(t *testing.T) {
	e := newEnv(t, Config{PendingTimeout: 200 * time.Millisecond}, map[string]string{"main.js": `
		var pending = [];
		application.onConnect = function (client, token) {
			switch (token) {
			case "yes": return true;
			case "no": return false;
			case "reason": application.rejectConnection(client, {message: "bad token", code: 7}); return;
			case "throw": throw new Error("boom");
			case "redirect": application.redirectConnection(client, "rtmp://elsewhere/app", "Moved"); return;
			case "later": pending.push(client); return;
			case "never": return null;
			}
		};
		application.release = function () {
			while (pending.length) application.acceptConnection(pending.shift());
		};
		Client.prototype.release = function () { application.release(); return application.clients.length; };
	`})
	tests := []struct {
		token    string
		accept   bool
		desc     string
		app      any
		redirect string
	}{
		{"yes", true, "", nil, ""},
		{"no", false, "Connection rejected by the application.", nil, ""},
		{"reason", false, "Connection rejected by the application.", amf.Object{{Key: "message", Value: "bad token"}, {Key: "code", Value: 7.0}}, ""},
		{"throw", false, "Connection rejected: application error.", nil, ""},
		{"redirect", false, "Moved", nil, "rtmp://elsewhere/app"},
		{"never", false, "Connection rejected: the application did not decide in time.", nil, ""},
	}
	for _, tc := range tests {
		t.Run(tc.token, func(t *testing.T) {
			d := e.connect(&fakeClient{id: tc.token}, tc.token)
			if d.Accept != tc.accept || d.Description != tc.desc || d.Redirect != tc.redirect || fmt.Sprint(d.Application) != fmt.Sprint(tc.app) {
				t.Errorf("decision %+v", d)
			}
		})
	}
	// A pending connect is accepted later, from another client's call.
	later := &fakeClient{id: "later"}
	ch := make(chan apps.Decision, 1)
	e.inst.Connect(later, []any{"later"}, func(d apps.Decision) { ch <- d })
	select {
	case d := <-ch:
		t.Fatalf("pending connect decided at once: %+v", d)
	case <-time.After(50 * time.Millisecond):
	}
	n, err := e.call(&fakeClient{id: "nobody"}, "release")
	if !errors.Is(err, apps.ErrMethodNotFound) {
		t.Errorf("call from an unknown client: %v %v", n, err)
	}
	yes := &fakeClient{id: "yes2"}
	e.connect(yes, "yes")
	n, err = e.call(yes, "release")
	if err != nil || n != 3.0 { // yes, yes2 and later
		t.Errorf("release() = %v, %v; want 3 clients", n, err)
	}
	if d := <-ch; !d.Accept {
		t.Errorf("later decision %+v", d)
	}
}

// TestRunawayScriptInterrupted: a handler that never returns is
// interrupted after the timeout; the client is rejected, the error logged,
// and the next client is served normally.
func TestRunawayScriptInterrupted(t *testing.T) {
	e := newEnv(t, Config{Timeout: 100 * time.Millisecond}, map[string]string{"main.js": `
		var n = 0;
		application.onConnect = function (client) {
			n++;
			if (n == 1) { while (true) {} }
			return true;
		};
		Client.prototype.spin = function () { for (;;) {} };
	`})
	start := time.Now()
	if d := e.connect(&fakeClient{id: "1"}); d.Accept {
		t.Fatal("runaway onConnect accepted the client")
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("interrupt took %v", el)
	}
	c := &fakeClient{id: "2"}
	if d := e.connect(c); !d.Accept {
		t.Fatalf("next client rejected: %+v", d)
	}
	if _, err := e.call(c, "spin"); err == nil {
		t.Error("runaway method returned no error")
	}
	if n := e.logs.FilterMessage("script interrupted").Len(); n != 2 {
		t.Errorf("%d interruptions logged, want 2", n)
	}
}

func TestClientMethodsAndCalls(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.js": `
		Client.prototype.add = function (a, b) { return a + b; };
		Client.prototype.fail = function () { throw new Error("no way"); };
		Client.prototype.echo = function (v) { return v; };
		application.onConnect = function (client) {
			client.whoami = function () { return this.id + " " + this.ip + " " + this.protocol + " " + this.agent + " " + this.referrer; };
			return true;
		};
		Client.prototype.ask = function () {
			var self = this;
			this.call("question", {
				onResult: function (v) { trace("answer " + v + " from " + self.id); },
				onStatus: function (info) { trace("status " + info.code); }
			}, 42, "x");
			application.broadcastMsg("notice", "all");
			return true;
		};
	`})
	c := &fakeClient{id: "7", replies: func(m string) (any, error) {
		if m == "question" {
			return "yes", nil
		}
		return nil, &apps.CallError{Info: amf.Object{{Key: "code", Value: "Nope"}}}
	}}
	e.connect(c)
	tests := []struct {
		method  string
		args    []any
		want    any
		wantErr string
	}{
		{"add", []any{2.0, 3.0}, 5.0, ""},
		{"whoami", nil, "7 192.0.2.1 rtmp WIN 32,0,0,1 http://x/a.swf", ""},
		{"echo", []any{amf.Object{{Key: "a", Value: amf.StrictArray{1.0, "b", nil}}}}, amf.Object{{Key: "a", Value: amf.StrictArray{1.0, "b", nil}}}, ""},
		{"fail", nil, nil, "Error: no way"},
		{"missing", nil, nil, apps.ErrMethodNotFound.Error()},
		{"call", nil, nil, apps.ErrMethodNotFound.Error()},
		{"ask", nil, true, ""},
	}
	for _, tc := range tests {
		got, err := e.call(c, tc.method, tc.args...)
		if tc.wantErr != "" {
			if err == nil || err.Error() != tc.wantErr {
				t.Errorf("%s: err %v, want %q", tc.method, err, tc.wantErr)
			}
			continue
		}
		if err != nil || fmt.Sprint(got) != fmt.Sprint(tc.want) {
			t.Errorf("%s = %#v, %v; want %#v", tc.method, got, err, tc.want)
		}
	}
	if got := e.traces(1); got[0] != "answer yes from 7" {
		t.Errorf("traces %q", got)
	}
	if got := c.called(); len(got) != 2 || got[0] != "question [42 x]" || got[1] != "notice [all]" {
		t.Errorf("calls to the client %q", got)
	}
}

func TestLifecycleTimersAndLoad(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{
		"main.js": `
			load("lib/util.js");
			var ticks = 0, id;
			application.onAppStart = function () {
				trace("start " + application.name + " " + helper());
				id = setInterval(function (step) {
					ticks += step;
					if (ticks == 3) { clearInterval(id); trace("ticked " + ticks); }
				}, 5, 1);
				setTimeout(function () { trace("timeout"); }, 1);
				var obj = {m: function () { trace("method timer " + this.tag); }, tag: "t"};
				setTimeout(obj, "m", 1);
			};
			application.onAppStop = function (info) { trace("stop " + info.code); };
			Client.prototype.escape = function () { load("../../etc/passwd"); };
		`,
		"lib/util.js": `function helper() { return "helped"; }`,
	})
	got := e.traces(4)
	want := map[string]bool{"start app/_definst_ helped": true, "timeout": true, "method timer t": true, "ticked 3": true}
	for _, g := range got {
		if !want[g] {
			t.Errorf("unexpected trace %q", g)
		}
	}
	c := &fakeClient{id: "1"}
	e.connect(c)
	if _, err := e.call(c, "escape"); err == nil || !strings.Contains(err.Error(), "leaves the application folder") {
		t.Errorf("load outside the folder: %v", err)
	}
	if err := e.reg.Unload("app"); err != nil {
		t.Fatal(err)
	}
	if got := e.traces(5); got[4] != "stop Application.Shutdown" {
		t.Errorf("last trace %q", got[4])
	}
	if c.kicked != protocol.ConnectAppShutdown {
		t.Errorf("client told %q at unload", c.kicked)
	}
}

// soRecorder is a SharedObject subscriber.
type soRecorder struct {
	mu  sync.Mutex
	got []string
}

func (r *soRecorder) SendSharedObject(m *protocol.SharedObjectMessage) {
	r.mu.Lock()
	defer r.mu.Unlock()
	for _, ev := range m.Events {
		r.got = append(r.got, fmt.Sprintf("v%d %v %s %v %v", m.Version, ev.Type, ev.Key, ev.Value, ev.Args))
	}
}

func (r *soRecorder) events() []string {
	r.mu.Lock()
	defer r.mu.Unlock()
	return append([]string(nil), r.got...)
}

func TestSharedObjectScript(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.js": `
		var users;
		application.onAppStart = function () {
			users = SharedObject.get("users", false);
			users.onSync = function (list) {
				for (var i = 0; i < list.length; i++) trace("sync " + list[i].code + " " + list[i].name + " old=" + list[i].oldValue);
			};
			users.hello = function (who) {
				trace("hello from " + who);
				users.lock();
				users.setProperty("greeted", who);
				users.setProperty("count", users.getPropertyNames().length);
				users.unlock();
				users.send("welcome", who);
			};
			trace("ready");
		};
	`})
	e.traces(1)
	so, err := e.inst.SharedObject("users", false)
	if err != nil {
		t.Fatal(err)
	}
	r := &soRecorder{}
	if err := so.Subscribe(r); err != nil {
		t.Fatal(err)
	}
	if err := so.RequestChange(r, "alice", "online"); err != nil {
		t.Fatal(err)
	}
	so.SendMessage(r, "hello", []any{"alice"})
	got := e.traces(3)[1:]
	if got[0] != "sync change alice old=null" || got[1] != "hello from alice" {
		t.Errorf("traces %q", got)
	}
	testtools.WaitFor(t, 5*time.Second, "the condition", func() bool { return len(r.events()) == 7 })
	want := []string{
		"v0 UseSuccess  <nil> []", "v0 Clear  <nil> []", "v1 Success alice <nil> []",
		"v1 SendMessage hello <nil> [alice]",
		"v3 Change greeted alice []", "v3 Change count 2 []",
		"v3 SendMessage welcome <nil> [alice]",
	}
	if fmt.Sprint(r.events()) != fmt.Sprint(want) {
		t.Errorf("subscriber got\n%q\nwant\n%q", r.events(), want)
	}
}

func TestConversionRoundTrip(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.js": ""})
	h := newHost(Config{}.withDefaults(), e.inst)
	when := time.UnixMilli(1700000000123).UTC()
	tests := []struct {
		in, want any
	}{
		{nil, nil},
		{amf.Undefined{}, amf.Undefined{}},
		{true, true},
		{"s", "s"},
		{1.5, 1.5},
		{when, when},
		{amf.Object{{Key: "b", Value: 1.0}, {Key: "a", Value: "x"}}, amf.Object{{Key: "b", Value: 1.0}, {Key: "a", Value: "x"}}},
		{amf.ECMAArray{{Key: "k", Value: false}}, amf.Object{{Key: "k", Value: false}}},
		{amf.StrictArray{1.0, amf.StrictArray{"n"}}, amf.StrictArray{1.0, amf.StrictArray{"n"}}},
		{[]any{"x"}, amf.StrictArray{"x"}},
		{&amf.TypedObject{Class: "C", Props: amf.Object{{Key: "p", Value: 2.0}}}, amf.Object{{Key: "p", Value: 2.0}}},
		{amf.ByteArray{1, 2, 3}, amf.ByteArray{1, 2, 3}},
		{amf.XML("<a/>"), "<a/>"},
		{amf.VectorInt{Items: []int32{-1, 2}}, amf.StrictArray{-1.0, 2.0}},
	}
	for _, tc := range tests {
		got := h.fromJS(h.toJS(tc.in))
		if gt, ok := got.(time.Time); ok {
			got = gt.UTC()
		}
		if fmt.Sprintf("%#v", got) != fmt.Sprintf("%#v", tc.want) {
			t.Errorf("%#v -> %#v, want %#v", tc.in, got, tc.want)
		}
	}
	// Cycles are cut at the depth limit instead of recursing forever.
	v, err := h.vm.RunString("var o = {}; o.self = o; o")
	if err != nil {
		t.Fatal(err)
	}
	depth := 0
	for x := h.fromJS(v); x != nil; depth++ {
		x, _ = x.(amf.Object).Get("self")
	}
	if depth != maxConvertDepth+1 {
		t.Errorf("cycle cut at depth %d", depth)
	}
	// A sparse array with a huge length becomes an empty array, not a
	// huge allocation.
	v, err = h.vm.RunString("var a = []; a.length = 4e9 - 1; a")
	if err != nil {
		t.Fatal(err)
	}
	if arr, _ := h.fromJS(v).(amf.StrictArray); len(arr) != 0 {
		t.Errorf("sparse array converted to %d elements", len(arr))
	}
}

func TestLoadErrors(t *testing.T) {
	dir := t.TempDir()
	if err := os.MkdirAll(filepath.Join(dir, "bad"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, "bad", "main.asc"), []byte("function ( {"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.MkdirAll(filepath.Join(dir, "plain"), 0o755); err != nil {
		t.Fatal(err)
	}
	reg := apps.NewRegistry(apps.Config{Dir: dir, Engine: NewEngine(Config{})})
	bad, _ := reg.Resolve("bad", "")
	if bad.LoadError() == nil {
		t.Error("syntax error not reported")
	}
	plain, _ := reg.Resolve("plain", "")
	if plain.LoadError() != nil {
		t.Errorf("app without a script: %v", plain.LoadError())
	}
	_ = reg.Unload("bad")
	_ = reg.Unload("plain")
}

// TestQueueFull: events beyond the queue are refused at once instead of
// blocking the connection's goroutine.
func TestQueueFull(t *testing.T) {
	e := newEnv(t, Config{QueueSize: 2, Timeout: time.Second}, map[string]string{"main.js": `
		Client.prototype.slow = function () { var t = Date.now(); while (Date.now() - t < 200) {} return 1; };
	`})
	c := &fakeClient{id: "1"}
	e.connect(c)
	var wg sync.WaitGroup
	var mu sync.Mutex
	var busy int
	for i := 0; i < 6; i++ {
		wg.Add(1)
		e.inst.Call(c, "slow", nil, func(_ any, err error) {
			if errors.Is(err, ErrBusy) {
				mu.Lock()
				busy++
				mu.Unlock()
			}
			wg.Done()
		})
	}
	wg.Wait()
	if busy == 0 {
		t.Error("no call was refused with a full queue")
	}
}

// TestBuiltinsNotCallable: players cannot reach host methods or
// Object.prototype built-ins through NetConnection.call.
func TestBuiltinsNotCallable(t *testing.T) {
	e := newEnv(t, Config{}, map[string]string{"main.js": `Client.prototype.ok = function () { return "ok"; };`})
	c := &fakeClient{id: "1"}
	e.connect(c)
	for _, m := range []string{"toString", "hasOwnProperty", "valueOf", "constructor", "call", "getStats", "__proto__"} {
		if _, err := e.call(c, m); !errors.Is(err, apps.ErrMethodNotFound) {
			t.Errorf("%s: err = %v, want ErrMethodNotFound", m, err)
		}
	}
	if v, err := e.call(c, "ok"); v != "ok" || err != nil {
		t.Errorf("ok() = %v, %v", v, err)
	}
}

// TestStopRejectsPendingConnects: a connect left pending when the
// instance unloads is rejected rather than left waiting.
func TestStopRejectsPendingConnects(t *testing.T) {
	e := newEnv(t, Config{PendingTimeout: time.Hour}, map[string]string{"main.js": `application.onConnect = function () {};`})
	ch := make(chan apps.Decision, 1)
	e.inst.Connect(&fakeClient{id: "1"}, nil, func(d apps.Decision) { ch <- d })
	time.Sleep(20 * time.Millisecond)
	if err := e.reg.Unload("app"); err != nil {
		t.Fatal(err)
	}
	select {
	case d := <-ch:
		if d.Accept {
			t.Error("pending connect accepted at unload")
		}
	case <-time.After(5 * time.Second):
		t.Fatal("pending connect never decided")
	}
}
