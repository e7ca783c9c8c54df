package amf

import (
	"fmt"
	"maps"
	"math"
	"slices"
	"time"
)

// AppendAMF0 appends the AMF0 encoding of v to b (AMF0 §2). Strings longer
// than 65535 bytes use the long-string type; values with no AMF0 form (XML,
// ByteArray, vectors, Dictionary, *MixedArray, objects with a property or
// class name longer than 65535 bytes) are written as the AMF3 switch marker
// 0x11 followed by their AMF3 encoding, using e's AMF3 tables.
// On error b is returned with its original length and the tables as they
// were, so the session can go on.
func (e *Encoder) AppendAMF0(b []byte, v any) ([]byte, error) {
	e.depth = 0
	m := e.mark()
	out, err := e.amf0(b, v)
	if err != nil {
		e.rollback(m)
		return b, err
	}
	return out, nil
}

func (e *Encoder) amf0(b []byte, v any) ([]byte, error) {
	if e.depth > e.maxDepth() {
		return b, ErrDepth
	}
	switch x := v.(type) {
	case nil:
		return append(b, amf0Null), nil
	case Undefined:
		return append(b, amf0Undefined), nil
	case Unsupported:
		return append(b, amf0Unsupported), nil
	case bool:
		if x {
			return append(b, amf0Boolean, 1), nil
		}
		return append(b, amf0Boolean, 0), nil
	case float64:
		return appendDouble(append(b, amf0Number), x), nil
	case string:
		return appendString0(b, x)
	case Object:
		if !namesFitAMF0(x) {
			return e.amf3(append(b, amf0AVMPlus), x)
		}
		return e.props0(append(b, amf0Object), x)
	case ECMAArray:
		if uint64(len(x)) > math.MaxUint32 {
			return b, fmt.Errorf("%w: ECMA array of %d entries", ErrRange, len(x))
		}
		return e.props0(appendU32(append(b, amf0ECMAArray), uint32(len(x))), Object(x))
	case StrictArray:
		return e.array0(b, x)
	case []any:
		return e.array0(b, x)
	case map[string]any:
		return e.amf0(b, mapObject(x))
	case *TypedObject:
		if x == nil {
			return append(b, amf0Null), nil
		}
		if len(x.Class) > math.MaxUint16 || !namesFitAMF0(x.Props) {
			return e.amf3(append(b, amf0AVMPlus), x)
		}
		b = appendU16(append(b, amf0TypedObject), uint16(len(x.Class)))
		return e.props0(append(b, x.Class...), x.Props)
	case time.Time:
		b = appendDouble(append(b, amf0Date), timeToMs(x))
		return append(b, 0, 0), nil // time-zone: reserved, 0 (AMF0 §2.13)
	case XMLDocument:
		if uint64(len(x)) > math.MaxUint32 {
			return b, fmt.Errorf("%w: XML document of %d bytes", ErrRange, len(x))
		}
		b = appendU32(append(b, amf0XMLDocument), uint32(len(x)))
		return append(b, x...), nil
	case *MixedArray:
		if x == nil {
			return append(b, amf0Null), nil
		}
		return e.amf3(append(b, amf0AVMPlus), x)
	case XML, ByteArray, VectorInt, VectorUint, VectorDouble, VectorObject, Dictionary:
		return e.amf3(append(b, amf0AVMPlus), x)
	}
	if f, ok := toFloat(v); ok {
		return appendDouble(append(b, amf0Number), f), nil
	}
	return b, fmt.Errorf("%w: %T", ErrUnsupportedType, v)
}

func appendString0(b []byte, s string) ([]byte, error) {
	if len(s) <= math.MaxUint16 {
		b = appendU16(append(b, amf0String), uint16(len(s)))
		return append(b, s...), nil
	}
	if uint64(len(s)) > math.MaxUint32 {
		return b, fmt.Errorf("%w: string of %d bytes", ErrRange, len(s))
	}
	b = appendU32(append(b, amf0LongString), uint32(len(s)))
	return append(b, s...), nil
}

// appendUTF0 appends a marker-less UTF-8 string (property names, class
// names), which AMF0 limits to 65535 bytes.
func appendUTF0(b []byte, s string) ([]byte, error) {
	if len(s) > math.MaxUint16 {
		return b, fmt.Errorf("%w: name of %d bytes", ErrRange, len(s))
	}
	return append(appendU16(b, uint16(len(s))), s...), nil
}

// props0 appends a property list and the object-end marker.
func (e *Encoder) props0(b []byte, props Object) ([]byte, error) {
	e.depth++
	for i := range props {
		var err error
		if b, err = appendUTF0(b, props[i].Key); err != nil {
			return b, err
		}
		if b, err = e.amf0(b, props[i].Value); err != nil {
			return b, err
		}
	}
	e.depth--
	return append(b, 0, 0, amf0ObjectEnd), nil
}

func (e *Encoder) array0(b []byte, a []any) ([]byte, error) {
	if uint64(len(a)) > math.MaxUint32 {
		return b, fmt.Errorf("%w: array of %d elements", ErrRange, len(a))
	}
	b = appendU32(append(b, amf0StrictArray), uint32(len(a)))
	e.depth++
	for _, v := range a {
		var err error
		if b, err = e.amf0(b, v); err != nil {
			return b, err
		}
	}
	e.depth--
	return b, nil
}

// namesFitAMF0 reports whether every property name fits AMF0's 16-bit
// length. Objects decoded from AMF3 may have longer names; they have no AMF0
// form and are written through the AMF3 switch like XML or ByteArray.
func namesFitAMF0(o Object) bool {
	for i := range o {
		if len(o[i].Key) > math.MaxUint16 {
			return false
		}
	}
	return true
}

// mapObject converts a Go map to an Object with sorted keys, so that the
// encoding of a map is deterministic.
func mapObject(m map[string]any) Object {
	o := make(Object, 0, len(m))
	for _, k := range slices.Sorted(maps.Keys(m)) {
		o = append(o, Property{Key: k, Value: m[k]})
	}
	return o
}
