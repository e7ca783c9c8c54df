package script

import (
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/dop251/goja"
	"go.uber.org/zap"

	"github.com/nimbus-media/nimbus/apps"
	"github.com/nimbus-media/nimbus/protocol"
)

// errKicked is the close cause of a client the script disconnected.
var errKicked = errors.New("script: disconnected by the application")

// clientBuiltins are the Client methods of the host; a player cannot call
// them with NetConnection.call.
var clientBuiltins = map[string]bool{
	"call": true, "setBandwidthLimit": true, "getBandwidthLimit": true, "ping": true,
	"getStats": true, "constructor": true, "__resolve": true,
}

// client is the script's side of a connection.
type client struct {
	c       apps.Client
	obj     *goja.Object
	decide  func(apps.Decision) // set while the connect is undecided
	pending *time.Timer         // rejects a connect left pending too long
	joined  bool                // accepted: in application.clients
}

func (c *client) stopPending() {
	if c.pending != nil {
		c.pending.Stop()
		c.pending = nil
	}
}

// installGlobals defines the host objects in a fresh runtime.
func (h *host) installGlobals() {
	vm := h.vm
	h.objectProto = vm.Get("Object").ToObject(vm).Get("prototype").ToObject(vm)
	h.app = vm.NewObject()
	_ = h.app.Set("name", h.inst.Path())
	_ = h.app.Set("clients", vm.NewArray())
	_ = h.app.Set("server", "Nimbus")
	_ = h.app.Set("acceptConnection", h.acceptConnection)
	_ = h.app.Set("rejectConnection", h.rejectConnection)
	_ = h.app.Set("redirectConnection", h.redirectConnection)
	_ = h.app.Set("broadcastMsg", h.broadcastMsg)
	_ = h.app.Set("disconnect", h.disconnect)
	_ = vm.Set("application", h.app)

	// Client is a constructor so that scripts can extend Client.prototype,
	// the usual way of defining methods players call.
	ctor, err := vm.RunString("(function Client() {})")
	if err != nil {
		panic(err) // a constant expression
	}
	h.clientProto = ctor.ToObject(vm).Get("prototype").ToObject(vm)
	_ = h.clientProto.Set("call", h.clientCall)
	_ = h.clientProto.Set("setBandwidthLimit", h.clientSetBandwidthLimit)
	_ = h.clientProto.Set("getBandwidthLimit", func(goja.FunctionCall) goja.Value { return vm.ToValue(0) })
	_ = h.clientProto.Set("ping", func(goja.FunctionCall) goja.Value { return vm.ToValue(true) })
	_ = h.clientProto.Set("getStats", h.clientGetStats)
	_ = vm.Set("Client", ctor)

	_ = vm.Set("trace", h.trace)
	_ = vm.Set("load", h.load)
	_ = vm.Set("setInterval", func(call goja.FunctionCall) goja.Value { return h.setTimer(call, true) })
	_ = vm.Set("setTimeout", func(call goja.FunctionCall) goja.Value { return h.setTimer(call, false) })
	_ = vm.Set("clearInterval", h.clearTimer)
	_ = vm.Set("clearTimeout", h.clearTimer)
	h.installSharedObject()
	h.installStream()
}

func (h *host) trace(call goja.FunctionCall) goja.Value {
	parts := make([]string, len(call.Arguments))
	for i, a := range call.Arguments {
		parts[i] = a.String()
	}
	h.log.Info("trace", zap.String("msg", strings.Join(parts, " ")))
	return goja.Undefined()
}

// load evaluates another file of the application folder in the global
// scope (AMS load()).
func (h *host) load(name string) goja.Value {
	dir := h.inst.Dir()
	path := filepath.Join(dir, filepath.FromSlash(name))
	if rel, err := filepath.Rel(dir, path); err != nil || !filepath.IsLocal(rel) {
		panic(h.vm.NewGoError(fmt.Errorf("%w: %q", ErrLoadPath, name)))
	}
	src, err := os.ReadFile(path)
	if err != nil {
		panic(h.vm.NewGoError(err))
	}
	v, err := h.vm.RunScript(name, string(src))
	if err != nil {
		panic(err)
	}
	return v
}

// newClient makes the script object for a connecting client.
func (h *host) newClient(c apps.Client) *client {
	info := c.Info()
	obj := h.vm.CreateObject(h.clientProto)
	ip := info.RemoteAddr
	if host, _, err := net.SplitHostPort(ip); err == nil {
		ip = host
	}
	for _, p := range []struct {
		k string
		v any
	}{
		{"id", info.ID}, {"ip", ip}, {"agent", info.Agent}, {"referrer", info.Referrer},
		{"pageUrl", info.PageURL}, {"uri", info.URI}, {"protocol", info.Protocol},
		{"farID", info.FarID}, {"readAccess", "/"}, {"writeAccess", "/"},
	} {
		_ = obj.Set(p.k, p.v)
	}
	jc := &client{c: c, obj: obj}
	h.clients[c] = jc
	h.byObject[obj] = jc
	return jc
}

// lookup finds the client behind a script value.
func (h *host) lookup(v goja.Value) *client {
	o, ok := v.(*goja.Object)
	if !ok {
		return nil
	}
	return h.byObject[o]
}

func (h *host) forget(jc *client) {
	jc.stopPending()
	delete(h.clients, jc.c)
	delete(h.byObject, jc.obj)
	if jc.joined {
		jc.joined = false
		for i, o := range h.order {
			if o == jc {
				h.order = append(h.order[:i], h.order[i+1:]...)
				break
			}
		}
		h.syncClientList()
	}
}

// syncClientList rebuilds application.clients.
func (h *host) syncClientList() {
	vals := make([]any, len(h.order))
	for i, jc := range h.order {
		vals[i] = jc.obj
	}
	_ = h.app.Set("clients", h.vm.NewArray(vals...))
}

// settle delivers a connect decision once.
func (h *host) settle(jc *client, d apps.Decision) bool {
	if jc == nil || jc.decide == nil {
		return false
	}
	decide := jc.decide
	jc.decide = nil
	jc.stopPending()
	if d.Accept {
		jc.joined = true
		h.order = append(h.order, jc)
		h.syncClientList()
	} else {
		h.forget(jc)
	}
	decide(d)
	return true
}

// Connect implements apps.Hooks (application.onConnect).
func (h *host) Connect(c apps.Client, args []any, decide func(apps.Decision)) {
	ok := h.post(event{
		run:    func() { h.onConnect(c, args, decide) },
		cancel: func() { decide(apps.Decision{Description: "Application is not running."}) },
	})
	if !ok {
		decide(apps.Decision{Description: "Application is busy or not running."})
	}
}

func (h *host) onConnect(c apps.Client, args []any, decide func(apps.Decision)) {
	jc := h.newClient(c)
	jc.decide = decide
	fn, ok := goja.AssertFunction(h.app.Get("onConnect"))
	if !ok {
		h.settle(jc, apps.Decision{Accept: true})
		return
	}
	res, err := fn(h.app, append([]goja.Value{jc.obj}, h.argsToJS(args)...)...)
	if !h.check("onConnect", err) {
		h.settle(jc, apps.Decision{Description: "Connection rejected: application error."})
		return
	}
	if jc.decide == nil {
		return // decided inside onConnect
	}
	switch {
	case res == nil || goja.IsUndefined(res) || goja.IsNull(res):
		// Pending: the script calls acceptConnection or rejectConnection later.
		jc.pending = time.AfterFunc(h.cfg.PendingTimeout, func() {
			h.post(event{run: func() {
				if h.settle(jc, apps.Decision{Description: "Connection rejected: the application did not decide in time."}) {
					h.log.Warn("pending connect timed out", zap.String("client", c.ID()))
				}
			}})
		})
	case res.ToBoolean():
		h.settle(jc, apps.Decision{Accept: true})
	default:
		h.settle(jc, apps.Decision{Description: "Connection rejected by the application."})
	}
}

func (h *host) acceptConnection(client goja.Value) bool {
	return h.settle(h.lookup(client), apps.Decision{Accept: true})
}

func (h *host) rejectConnection(client, errObj goja.Value) bool {
	d := apps.Decision{Description: "Connection rejected by the application."}
	if errObj != nil && !goja.IsUndefined(errObj) {
		d.Application = h.fromJS(errObj)
	}
	return h.settle(h.lookup(client), d)
}

func (h *host) redirectConnection(client goja.Value, url string, description, errObj goja.Value) bool {
	d := apps.Decision{Redirect: url}
	if description != nil && !goja.IsUndefined(description) {
		d.Description = description.String()
	}
	if errObj != nil && !goja.IsUndefined(errObj) {
		d.Application = h.fromJS(errObj)
	}
	return h.settle(h.lookup(client), d)
}

func (h *host) broadcastMsg(call goja.FunctionCall) goja.Value {
	method := call.Argument(0).String()
	args := h.argsFromJS(call.Arguments[min(1, len(call.Arguments)):])
	for _, jc := range h.order {
		if err := jc.c.Call(method, args, nil); err != nil {
			h.log.Debug("broadcastMsg not delivered", zap.String("client", jc.c.ID()), zap.Error(err))
		}
	}
	return goja.Undefined()
}

func (h *host) disconnect(client goja.Value) bool {
	jc := h.lookup(client)
	if jc == nil {
		return false
	}
	jc.c.Disconnect(protocol.ConnectClosed, "Disconnected by the application.", errKicked)
	return true
}

// Disconnect implements apps.Hooks (application.onDisconnect).
func (h *host) Disconnect(c apps.Client) {
	h.post(event{run: func() {
		jc := h.clients[c]
		if jc == nil {
			return
		}
		if fn, ok := goja.AssertFunction(h.app.Get("onDisconnect")); ok && jc.joined {
			_, err := fn(h.app, jc.obj)
			h.check("onDisconnect", err)
		}
		h.forget(jc)
	}})
}

// Publish implements apps.Hooks (application.onPublish).
func (h *host) Publish(c apps.Client, name string) { h.streamEvent("onPublish", c, name) }

// Unpublish implements apps.Hooks (application.onUnpublish).
func (h *host) Unpublish(c apps.Client, name string) { h.streamEvent("onUnpublish", c, name) }

func (h *host) streamEvent(handler string, c apps.Client, name string) {
	h.post(event{run: func() {
		jc := h.clients[c]
		fn, ok := goja.AssertFunction(h.app.Get(handler))
		if jc == nil || !ok {
			return
		}
		_, err := fn(h.app, jc.obj, h.streamObject(name).obj)
		h.check(handler, err)
	}})
}

// Call implements apps.Hooks: a player's NetConnection.call of a method
// of its Client object (own or inherited from Client.prototype).
func (h *host) Call(c apps.Client, method string, args []any, reply func(any, error)) {
	ok := h.post(event{
		run:    func() { h.onCall(c, method, args, reply) },
		cancel: func() { reply(nil, ErrStopped) },
	})
	if !ok {
		reply(nil, ErrBusy)
	}
}

func (h *host) onCall(c apps.Client, method string, args []any, reply func(any, error)) {
	jc := h.clients[c]
	if jc == nil || clientBuiltins[method] {
		reply(nil, apps.ErrMethodNotFound)
		return
	}
	fn, ok := h.ownMethod(jc.obj, method)
	if !ok {
		reply(nil, apps.ErrMethodNotFound)
		return
	}
	res, err := fn(jc.obj, h.argsToJS(args)...)
	if !h.check(method, err) {
		var ex *goja.Exception
		if errors.As(err, &ex) {
			err = errors.New(ex.Value().String())
		}
		reply(nil, err)
		return
	}
	reply(h.fromJS(res), nil)
}

// ownMethod finds a method the script defined on o or on a prototype of
// o other than Object.prototype, so that a peer cannot call toString,
// hasOwnProperty or other built-ins by name.
func (h *host) ownMethod(o *goja.Object, name string) (goja.Callable, bool) {
	for p := o; p != nil && p != h.objectProto; p = p.Prototype() {
		if slices.Contains(p.GetOwnPropertyNames(), name) {
			return goja.AssertFunction(p.Get(name))
		}
	}
	return nil, false
}

// clientCall is Client.call(method, resultObj, ...args): the client's
// _result reaches resultObj.onResult, its _error resultObj.onStatus.
func (h *host) clientCall(call goja.FunctionCall) goja.Value {
	jc := h.lookup(call.This)
	if jc == nil {
		return h.vm.ToValue(false)
	}
	method := call.Argument(0).String()
	var args []any
	if len(call.Arguments) > 2 {
		args = h.argsFromJS(call.Arguments[2:])
	}
	var result func(any, error)
	if ro, ok := call.Argument(1).(*goja.Object); ok {
		result = func(v any, err error) {
			h.post(event{run: func() { h.callResult(method, ro, v, err) }})
		}
	}
	if err := jc.c.Call(method, args, result); err != nil {
		h.log.Debug("client.call failed", zap.String("client", jc.c.ID()), zap.String("method", method), zap.Error(err))
		return h.vm.ToValue(false)
	}
	return h.vm.ToValue(true)
}

func (h *host) callResult(method string, ro *goja.Object, v any, err error) {
	handler, arg := "onResult", h.toJS(v)
	if err != nil {
		handler = "onStatus"
		var ce *apps.CallError
		if errors.As(err, &ce) {
			arg = h.toJS(ce.Info)
		} else {
			info := h.vm.NewObject()
			_ = info.Set("level", "error")
			_ = info.Set("code", protocol.CallFailed)
			_ = info.Set("description", err.Error())
			arg = info
		}
	}
	if fn, ok := goja.AssertFunction(ro.Get(handler)); ok {
		_, err := fn(ro, arg)
		h.check(method+" "+handler, err)
	}
}

func (h *host) clientSetBandwidthLimit(call goja.FunctionCall) goja.Value {
	if jc := h.lookup(call.This); jc != nil {
		h.log.Debug("setBandwidthLimit is advisory only", zap.String("client", jc.c.ID()),
			zap.Int64("serverToClient", call.Argument(0).ToInteger()), zap.Int64("clientToServer", call.Argument(1).ToInteger()))
	}
	return goja.Undefined()
}

func (h *host) clientGetStats(call goja.FunctionCall) goja.Value {
	jc := h.lookup(call.This)
	if jc == nil {
		return goja.Undefined()
	}
	info := jc.c.Info()
	o := h.vm.NewObject()
	_ = o.Set("bytes_in", float64(info.BytesIn))
	_ = o.Set("bytes_out", float64(info.BytesOut))
	_ = o.Set("ping_rtt", float64(info.RTT.Milliseconds()))
	return o
}
