package amf

// This file defines the Go value model shared by the AMF0 and AMF3 codecs.
// Scalars use Go's own types (nil, bool, float64, string, time.Time); the
// AMF-specific kinds have named types so that a type switch recovers exactly
// what was on the wire and the encoder can write it back unchanged.

// Undefined is the ActionScript undefined value (AMF0 0x06, AMF3 0x00).
// nil stands for null.
type Undefined struct{}

// Unsupported is the AMF0 unsupported marker (0x0D), which a sender writes in
// place of a value it could not serialise. AMF3 has no such marker; the AMF3
// encoder writes Unsupported as undefined.
type Unsupported struct{}

// Property is one member of an object or associative array. AMF objects
// are ordered on the wire, and command handlers and signatures (Adobe auth)
// depend on that order, so the model keeps it instead of using a map.
type Property struct {
	Key   string
	Value any
}

// Object is an anonymous ActionScript object (AMF0 0x03; AMF3 0x0A with an
// empty class name). Decoded objects keep wire order; an AMF3 object whose
// class has no alias is decoded as an Object with its sealed members first.
type Object []Property

// ECMAArray is an AMF0 ECMA (associative) array (0x08). AMF3 has no separate
// type: the AMF3 encoder writes it as an array with only an associative part,
// which decodes as a *MixedArray.
type ECMAArray []Property

// StrictArray is a dense array (AMF0 0x0A; AMF3 0x09 without an associative
// part). The encoder also accepts a plain []any.
type StrictArray []any

// TypedObject is an instance of a class with a registered alias (AMF0 0x10;
// AMF3 0x0A with a non-empty class name).
//
// Dynamic and Sealed carry the AMF3 traits so that a decoded object is
// re-encoded with the same traits: Props[:Sealed] are the sealed members in
// trait order and Props[Sealed:] are dynamic members. When Dynamic is false
// every property is written as a sealed member and Sealed is ignored, so a
// TypedObject built by hand needs only Class and Props. AMF0 has no traits;
// AMF0 typed objects decode with Dynamic false and Sealed == len(Props).
type TypedObject struct {
	Class   string
	Props   Object
	Dynamic bool
	Sealed  int
}

// MixedArray is an AMF3 array with a non-empty associative part. An AMF3
// array without one decodes as a StrictArray.
type MixedArray struct {
	Dense []any
	Assoc Object
}

// XMLDocument is a legacy flash.xml.XMLDocument, serialised as its text
// (AMF0 0x0F, AMF3 0x07).
type XMLDocument string

// XML is an E4X XML value, serialised as its text (AMF3 0x0B). In AMF0 it is
// written through the AMF3 switch marker.
type XML string

// ByteArray is a flash.utils.ByteArray (AMF3 0x0C). A plain []byte is not
// accepted by the encoder, so that binary data is never sent by accident as
// something else.
type ByteArray []byte

// VectorInt is a Vector.<int> (AMF3 0x0D). Fixed is the vector's fixed-length
// flag.
type VectorInt struct {
	Fixed bool
	Items []int32
}

// VectorUint is a Vector.<uint> (AMF3 0x0E).
type VectorUint struct {
	Fixed bool
	Items []uint32
}

// VectorDouble is a Vector.<Number> (AMF3 0x0F).
type VectorDouble struct {
	Fixed bool
	Items []float64
}

// VectorObject is a Vector.<T> for any other T (AMF3 0x10). TypeName is the
// element class alias as sent by the peer ("" or "*" for untyped).
type VectorObject struct {
	Fixed    bool
	TypeName string
	Items    []any
}

// Dictionary is a flash.utils.Dictionary (AMF3 0x11). Keys may be any value,
// so entries are kept as an ordered list.
type Dictionary struct {
	WeakKeys bool
	Entries  []DictEntry
}

// DictEntry is one key/value pair of a Dictionary.
type DictEntry struct {
	Key   any
	Value any
}

// Get returns the value of the first property named key.
func (o Object) Get(key string) (any, bool) {
	for i := range o {
		if o[i].Key == key {
			return o[i].Value, true
		}
	}
	return nil, false
}

// String returns the property as a string, or "" when it is missing or not a
// string (including XML and XMLDocument, which are not plain strings).
func (o Object) String(key string) string {
	v, _ := o.Get(key)
	s, _ := v.(string)
	return s
}

// Number returns the property as a float64. Decoded numbers are always
// float64; Go integer and float32 values stored with Set are converted too.
// ok is false when the property is missing or not a number.
func (o Object) Number(key string) (n float64, ok bool) {
	v, _ := o.Get(key)
	return toFloat(v)
}

// Bool reports whether the property is the boolean true. A missing or
// non-boolean property is false; ActionScript truthiness is deliberately not
// applied, so a peer cannot switch a flag on with a non-empty string.
func (o Object) Bool(key string) bool {
	v, _ := o.Get(key)
	b, _ := v.(bool)
	return b
}

// Set replaces the value of the first property named key, or appends the
// property when there is none.
func (o *Object) Set(key string, v any) {
	for i := range *o {
		if (*o)[i].Key == key {
			(*o)[i].Value = v
			return
		}
	}
	*o = append(*o, Property{Key: key, Value: v})
}

// Get returns the value of the first entry named key.
func (a ECMAArray) Get(key string) (any, bool) { return Object(a).Get(key) }

// String returns the entry as a string, or "" when it is missing or not a
// string.
func (a ECMAArray) String(key string) string { return Object(a).String(key) }

// Number returns the entry as a float64; see Object.Number.
func (a ECMAArray) Number(key string) (float64, bool) { return Object(a).Number(key) }

// Bool reports whether the entry is the boolean true.
func (a ECMAArray) Bool(key string) bool { return Object(a).Bool(key) }

// Set replaces the value of the first entry named key, or appends one.
func (a *ECMAArray) Set(key string, v any) { (*Object)(a).Set(key, v) }

// toFloat converts any Go numeric type to float64.
func toFloat(v any) (float64, bool) {
	switch n := v.(type) {
	case float64:
		return n, true
	case float32:
		return float64(n), true
	case int:
		return float64(n), true
	case int8:
		return float64(n), true
	case int16:
		return float64(n), true
	case int32:
		return float64(n), true
	case int64:
		return float64(n), true
	case uint:
		return float64(n), true
	case uint8:
		return float64(n), true
	case uint16:
		return float64(n), true
	case uint32:
		return float64(n), true
	case uint64:
		return float64(n), true
	}
	return 0, false
}
