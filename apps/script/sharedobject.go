package script

import (
	"github.com/dop251/goja"

	"github.com/nimbus-media/nimbus/apps"
)

// sharedObject is the script object of a SharedObject (AMS SSAS
// SharedObject class).
type sharedObject struct {
	so  *apps.SharedObject
	obj *goja.Object
}

func (h *host) installSharedObject() {
	ns := h.vm.NewObject()
	_ = ns.Set("get", h.getSharedObject)
	_ = ns.Set("commit", func(goja.FunctionCall) goja.Value {
		for _, so := range h.sos {
			so.so.Flush()
		}
		return h.vm.ToValue(true)
	})
	_ = h.vm.Set("SharedObject", ns)
}

// getSharedObject is SharedObject.get(name, persistent): the same script
// object for the same SharedObject, so handlers set on it stay.
func (h *host) getSharedObject(name string, persistent bool) *goja.Object {
	if s := h.sos[name]; s != nil && s.so.Persistent() == persistent {
		return s.obj
	}
	so, err := h.inst.SharedObject(name, persistent)
	if err != nil {
		panic(h.vm.NewGoError(err))
	}
	s := &sharedObject{so: so, obj: h.vm.NewObject()}
	h.sos[name] = s
	vm, o := h.vm, s.obj
	_ = o.Set("name", name)
	_ = o.DefineAccessorProperty("version", vm.ToValue(func() float64 { return float64(so.Version()) }), nil, goja.FLAG_FALSE, goja.FLAG_TRUE)
	_ = o.Set("getProperty", func(key string) goja.Value {
		v, ok := so.Get(key)
		if !ok {
			return goja.Undefined()
		}
		return h.toJS(v)
	})
	_ = o.Set("setProperty", func(key string, v goja.Value) { so.Set(key, h.fromJS(v)) })
	_ = o.Set("getPropertyNames", func() goja.Value {
		names := so.Names()
		vals := make([]any, len(names))
		for i, n := range names {
			vals[i] = n
		}
		return vm.NewArray(vals...)
	})
	_ = o.Set("size", so.Size)
	_ = o.Set("send", func(call goja.FunctionCall) goja.Value {
		so.SendMessage(nil, call.Argument(0).String(), h.argsFromJS(call.Arguments[min(1, len(call.Arguments)):]))
		return vm.ToValue(true)
	})
	_ = o.Set("clear", func() bool { so.Clear(); return true })
	_ = o.Set("lock", so.Lock)
	_ = o.Set("unlock", so.Unlock)
	_ = o.Set("flush", func() bool { so.Flush(); return true })
	_ = o.Set("close", func() {
		so.Release()
		delete(h.sos, name)
	})
	so.Hold()
	so.SetHandlers(func(list []apps.SyncEvent) {
		h.post(event{run: func() { h.onSync(s, list) }})
	}, func(handler string, args []any) {
		h.post(event{run: func() { h.onSOMessage(s, handler, args) }})
	})
	return o
}

// onSync calls so.onSync(list) with AMS's {code, name, oldValue} entries.
func (h *host) onSync(s *sharedObject, list []apps.SyncEvent) {
	fn, ok := goja.AssertFunction(s.obj.Get("onSync"))
	if !ok {
		return
	}
	vals := make([]any, len(list))
	for i, ev := range list {
		o := h.vm.NewObject()
		_ = o.Set("code", ev.Code)
		_ = o.Set("name", ev.Name)
		_ = o.Set("oldValue", h.toJS(ev.OldValue))
		vals[i] = o
	}
	_, err := fn(s.obj, h.vm.NewArray(vals...))
	h.check("onSync", err)
}

// soBuiltins are the host's SharedObject members; a client's so.send
// cannot call them.
var soBuiltins = map[string]bool{
	"getProperty": true, "setProperty": true, "getPropertyNames": true, "size": true, "send": true,
	"clear": true, "lock": true, "unlock": true, "flush": true, "close": true, "onSync": true,
}

// onSOMessage calls the handler a client named in so.send(handler, ...).
func (h *host) onSOMessage(s *sharedObject, handler string, args []any) {
	if soBuiltins[handler] {
		return
	}
	if fn, ok := h.ownMethod(s.obj, handler); ok {
		_, err := fn(s.obj, h.argsToJS(args)...)
		h.check(handler, err)
	}
}
