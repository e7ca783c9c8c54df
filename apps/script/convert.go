package script

import (
	"reflect"
	"strconv"
	"time"

	"github.com/dop251/goja"

	"github.com/nimbus-media/nimbus/amf"
)

// maxConvertDepth bounds nesting when converting between AMF and
// JavaScript, so a cyclic script object cannot recurse forever.
const maxConvertDepth = 32

// toJS converts a decoded AMF value to JavaScript (ams-behaviour.md §6.7):
// objects and ECMA arrays become plain objects in wire order, strict arrays
// arrays, dates Dates, byte arrays ArrayBuffers, XML its text.
func (h *host) toJS(v any) goja.Value { return h.toJSDepth(v, 0) }

func (h *host) toJSDepth(v any, depth int) goja.Value {
	vm := h.vm
	if depth > maxConvertDepth {
		return goja.Undefined()
	}
	switch x := v.(type) {
	case nil:
		return goja.Null()
	case amf.Undefined, amf.Unsupported:
		return goja.Undefined()
	case bool, string, float64:
		return vm.ToValue(x)
	case time.Time:
		d, err := vm.New(vm.Get("Date"), vm.ToValue(float64(x.UnixNano())/1e6))
		if err != nil {
			return goja.Undefined()
		}
		return d
	case amf.Object:
		return h.objectToJS(x, depth)
	case amf.ECMAArray:
		return h.objectToJS(amf.Object(x), depth)
	case amf.TypedObject:
		return h.objectToJS(x.Props, depth)
	case *amf.TypedObject:
		return h.objectToJS(x.Props, depth)
	case amf.StrictArray:
		return h.arrayToJS(x, depth)
	case []any:
		return h.arrayToJS(x, depth)
	case *amf.MixedArray:
		o := h.arrayToJS(x.Dense, depth).(*goja.Object)
		for _, p := range x.Assoc {
			_ = o.Set(p.Key, h.toJSDepth(p.Value, depth+1))
		}
		return o
	case amf.ByteArray:
		return vm.ToValue(vm.NewArrayBuffer(append([]byte(nil), x...)))
	case amf.XML:
		return vm.ToValue(string(x))
	case amf.XMLDocument:
		return vm.ToValue(string(x))
	case amf.VectorDouble:
		items := make([]any, len(x.Items))
		for i, n := range x.Items {
			items[i] = n
		}
		return h.arrayToJS(items, depth)
	case amf.VectorInt:
		items := make([]any, len(x.Items))
		for i, n := range x.Items {
			items[i] = float64(n)
		}
		return h.arrayToJS(items, depth)
	case amf.VectorUint:
		items := make([]any, len(x.Items))
		for i, n := range x.Items {
			items[i] = float64(n)
		}
		return h.arrayToJS(items, depth)
	case amf.VectorObject:
		return h.arrayToJS(x.Items, depth)
	}
	return goja.Undefined()
}

func (h *host) objectToJS(props amf.Object, depth int) goja.Value {
	o := h.vm.NewObject()
	for _, p := range props {
		_ = o.Set(p.Key, h.toJSDepth(p.Value, depth+1))
	}
	return o
}

func (h *host) arrayToJS(items []any, depth int) goja.Value {
	vals := make([]any, len(items))
	for i, it := range items {
		vals[i] = h.toJSDepth(it, depth+1)
	}
	return h.vm.NewArray(vals...)
}

var arrayBufferType = reflect.TypeOf(goja.ArrayBuffer{})

// fromJS converts a JavaScript value to AMF: objects keep their own
// enumerable properties in insertion order (functions are skipped),
// arrays become strict arrays, Dates dates, ArrayBuffers byte arrays, and
// numbers are always doubles as ActionScript's Number.
func (h *host) fromJS(v goja.Value) any {
	budget := maxConvertElements
	return h.fromJSDepth(v, 0, &budget)
}

// maxConvertElements bounds the values one conversion from JavaScript
// produces: the conversion is Go code the watchdog cannot interrupt, so a
// sparse array with a huge length must not become a huge AMF array.
const maxConvertElements = 1 << 20

func (h *host) fromJSDepth(v goja.Value, depth int, budget *int) any {
	if v == nil || goja.IsUndefined(v) {
		return amf.Undefined{}
	}
	*budget--
	if goja.IsNull(v) || depth > maxConvertDepth || *budget < 0 {
		return nil
	}
	o, isObj := v.(*goja.Object)
	if !isObj {
		switch x := v.Export().(type) {
		case bool, string, float64:
			return x
		case int64:
			return float64(x)
		}
		return v.String()
	}
	if _, isFn := goja.AssertFunction(o); isFn {
		return amf.Undefined{}
	}
	if o.ExportType() == arrayBufferType {
		if ab, ok := o.Export().(goja.ArrayBuffer); ok {
			return amf.ByteArray(append([]byte(nil), ab.Bytes()...))
		}
	}
	switch o.ClassName() {
	case "Date":
		if t, ok := o.Export().(time.Time); ok {
			return t
		}
	case "String", "Number", "Boolean":
		switch x := o.Export().(type) {
		case bool, string, float64:
			return x
		case int64:
			return float64(x)
		}
	case "Array":
		n := o.Get("length").ToInteger()
		if n < 0 || n > int64(*budget) {
			return amf.StrictArray{}
		}
		arr := make(amf.StrictArray, 0, n)
		for i := int64(0); i < n; i++ {
			arr = append(arr, h.fromJSDepth(o.Get(strconv.FormatInt(i, 10)), depth+1, budget))
		}
		return arr
	}
	keys := o.Keys()
	obj := make(amf.Object, 0, len(keys))
	for _, k := range keys {
		pv := o.Get(k)
		if po, ok := pv.(*goja.Object); ok {
			if _, isFn := goja.AssertFunction(po); isFn {
				continue
			}
		}
		obj = append(obj, amf.Property{Key: k, Value: h.fromJSDepth(pv, depth+1, budget)})
	}
	return obj
}

// argsToJS converts call arguments.
func (h *host) argsToJS(args []any) []goja.Value {
	out := make([]goja.Value, len(args))
	for i, a := range args {
		out[i] = h.toJS(a)
	}
	return out
}

// argsFromJS converts script arguments for the wire.
func (h *host) argsFromJS(args []goja.Value) []any {
	out := make([]any, len(args))
	for i, a := range args {
		out[i] = h.fromJS(a)
	}
	return out
}
