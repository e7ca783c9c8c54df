package amf

import (
	"fmt"
	"math"
	"time"
)

// AppendAMF3 appends the AMF3 encoding of v to b (AMF3 §3). Integral numbers
// in the signed 29-bit range, whether Go integers or float64 (except -0),
// are written as integer (0x04) and all others as double. Strings, objects
// and traits already written since the last Reset are written as
// references. On error b is returned with its original length and the
// tables as they were, so the session can go on.
func (e *Encoder) AppendAMF3(b []byte, v any) ([]byte, error) {
	e.depth = 0
	m := e.mark()
	out, err := e.amf3(b, v)
	if err != nil {
		e.rollback(m)
		return b, err
	}
	return out, nil
}

// Kinds for objKey, one per AMF3 marker; flag bits above them keep apart
// values that differ only in a flag.
const kindFlag = 0x100

func (e *Encoder) amf3(b []byte, v any) ([]byte, error) {
	if e.depth > e.maxDepth() {
		return b, ErrDepth
	}
	switch x := v.(type) {
	case nil:
		return append(b, amf3Null), nil
	case Undefined, Unsupported:
		return append(b, amf3Undefined), nil
	case bool:
		if x {
			return append(b, amf3True), nil
		}
		return append(b, amf3False), nil
	case float64:
		if x >= int29Min && x <= int29Max && x == math.Trunc(x) && !(x == 0 && math.Signbit(x)) {
			return appendInt3(b, int64(x)), nil
		}
		return appendDouble(append(b, amf3Double), x), nil
	case float32:
		return e.amf3(b, float64(x))
	case int:
		return appendInt64_3(b, int64(x)), nil
	case int8:
		return appendInt3(b, int64(x)), nil
	case int16:
		return appendInt3(b, int64(x)), nil
	case int32:
		return appendInt64_3(b, int64(x)), nil
	case int64:
		return appendInt64_3(b, x), nil
	case uint:
		return appendUint64_3(b, uint64(x)), nil
	case uint8:
		return appendInt3(b, int64(x)), nil
	case uint16:
		return appendInt3(b, int64(x)), nil
	case uint32:
		return appendUint64_3(b, uint64(x)), nil
	case uint64:
		return appendUint64_3(b, x), nil
	case string:
		return e.string3(append(b, amf3String), x)
	case XMLDocument:
		return e.text3(append(b, amf3XMLDocument), string(x))
	case XML:
		return e.text3(append(b, amf3XML), string(x))
	case time.Time:
		e.nobjs++
		return appendDouble(append(b, amf3Date, 0x01), timeToMs(x)), nil
	case ByteArray:
		b = append(b, amf3ByteArray)
		if i, ok := e.ref(sliceKey(x, amf3ByteArray)); ok {
			return appendU29(b, i<<1), nil
		}
		b, err := appendLen3(b, len(x))
		if err != nil {
			return b, err
		}
		return append(b, x...), nil
	case StrictArray:
		return e.array3(b, sliceKey(x, amf3Array), x, nil)
	case []any:
		return e.array3(b, sliceKey(x, amf3Array), x, nil)
	case ECMAArray:
		return e.array3(b, sliceKey(x, amf3Array|kindFlag), nil, Object(x))
	case *MixedArray:
		if x == nil {
			return append(b, amf3Null), nil
		}
		return e.array3(b, ptrKey(x, amf3Array), x.Dense, x.Assoc)
	case Object:
		return e.object3(b, sliceKey(x, amf3Object), "", x, true, lastEmptyKey(x))
	case map[string]any:
		o := mapObject(x)
		return e.object3(b, objKey{}, "", o, true, lastEmptyKey(o))
	case *TypedObject:
		if x == nil {
			return append(b, amf3Null), nil
		}
		sealed := len(x.Props)
		if x.Dynamic {
			sealed = x.Sealed
			if sealed < 0 || sealed > len(x.Props) {
				return b, fmt.Errorf("%w: class %q has Sealed %d but %d properties", ErrInvalidValue, x.Class, x.Sealed, len(x.Props))
			}
		}
		return e.object3(b, ptrKey(x, amf3Object), x.Class, x.Props, x.Dynamic, sealed)
	case VectorInt:
		b, body, err := e.vectorHeader(b, amf3VectorInt, x.Fixed, sliceKey(x.Items, amf3VectorInt), len(x.Items))
		if body {
			for _, n := range x.Items {
				b = appendU32(b, uint32(n))
			}
		}
		return b, err
	case VectorUint:
		b, body, err := e.vectorHeader(b, amf3VectorUint, x.Fixed, sliceKey(x.Items, amf3VectorUint), len(x.Items))
		if body {
			for _, n := range x.Items {
				b = appendU32(b, n)
			}
		}
		return b, err
	case VectorDouble:
		b, body, err := e.vectorHeader(b, amf3VectorDouble, x.Fixed, sliceKey(x.Items, amf3VectorDouble), len(x.Items))
		if body {
			for _, f := range x.Items {
				b = appendDouble(b, f)
			}
		}
		return b, err
	case VectorObject:
		return e.objVector3(b, x)
	case Dictionary:
		return e.dictionary3(b, x)
	}
	return b, fmt.Errorf("%w: %T", ErrUnsupportedType, v)
}

// appendU29 appends v's low 29 bits as a U29 (AMF3 §1.3.1).
func appendU29(b []byte, v uint32) []byte {
	v &= u29Max
	switch {
	case v < 1<<7:
		return append(b, byte(v))
	case v < 1<<14:
		return append(b, byte(v>>7)|0x80, byte(v)&0x7f)
	case v < 1<<21:
		return append(b, byte(v>>14)|0x80, byte(v>>7)|0x80, byte(v)&0x7f)
	}
	return append(b, byte(v>>22)|0x80, byte(v>>15)|0x80, byte(v>>8)|0x80, byte(v))
}

// appendInt3 appends an integer known to be in the signed 29-bit range.
func appendInt3(b []byte, v int64) []byte { return appendU29(append(b, amf3Integer), uint32(v)) }

func appendInt64_3(b []byte, v int64) []byte {
	if v >= int29Min && v <= int29Max {
		return appendInt3(b, v)
	}
	return appendDouble(append(b, amf3Double), float64(v))
}

func appendUint64_3(b []byte, v uint64) []byte {
	if v <= int29Max {
		return appendInt3(b, int64(v))
	}
	return appendDouble(append(b, amf3Double), float64(v))
}

// appendLen3 appends the U29 of a literal: n<<1 with the literal flag set.
func appendLen3(b []byte, n int) ([]byte, error) {
	if uint64(n) > u29LenMax {
		return b, fmt.Errorf("%w: length or count %d", ErrRange, n)
	}
	return appendU29(b, uint32(n)<<1|1), nil
}

// string3 appends UTF-8-vr: a reference when s was written before, else a
// literal that enters the table. The empty string is never a reference.
func (e *Encoder) string3(b []byte, s string) ([]byte, error) {
	if s == "" {
		return append(b, 0x01), nil
	}
	if i, ok := e.strs[s]; ok {
		return appendU29(b, i<<1), nil
	}
	b, err := appendLen3(b, len(s))
	if err != nil {
		return b, err
	}
	if e.strs == nil {
		e.strs = make(map[string]uint32)
	}
	if len(e.strs) < u29LenMax {
		e.strs[s] = uint32(len(e.strs))
	}
	return append(b, s...), nil
}

// text3 appends XML or XMLDocument text. They take an object-table slot but
// are not sent by reference: they have no identity to recognise.
func (e *Encoder) text3(b []byte, s string) ([]byte, error) {
	e.nobjs++
	b, err := appendLen3(b, len(s))
	if err != nil {
		return b, err
	}
	return append(b, s...), nil
}

// ref returns the object-table index of a value written before, or reserves
// the next index for it. A value without identity (the zero key) always
// takes a new index.
func (e *Encoder) ref(k objKey) (uint32, bool) {
	if k.p != nil {
		if i, ok := e.objs[k]; ok {
			return i, true
		}
		if e.objs == nil {
			e.objs = make(map[objKey]uint32)
		}
		if e.nobjs < u29LenMax {
			e.objs[k] = e.nobjs
		}
	}
	e.nobjs++
	return 0, false
}

// array3 appends an array: dense count, associative part ended by the empty
// string, then the dense values (AMF3 §3.11).
func (e *Encoder) array3(b []byte, k objKey, dense []any, assoc Object) ([]byte, error) {
	b = append(b, amf3Array)
	if i, ok := e.ref(k); ok {
		return appendU29(b, i<<1), nil
	}
	b, err := appendLen3(b, len(dense))
	if err != nil {
		return b, err
	}
	e.depth++
	for i := range assoc {
		if assoc[i].Key == "" {
			return b, fmt.Errorf("%w: empty key in an AMF3 associative array", ErrInvalidValue)
		}
		if b, err = e.string3(b, assoc[i].Key); err != nil {
			return b, err
		}
		if b, err = e.amf3(b, assoc[i].Value); err != nil {
			return b, err
		}
	}
	b = append(b, 0x01)
	for _, v := range dense {
		if b, err = e.amf3(b, v); err != nil {
			return b, err
		}
	}
	e.depth--
	return b, nil
}

// lastEmptyKey returns how many leading properties of an anonymous object
// must be sealed members: those up to the last empty name, which cannot be a
// dynamic member because the empty name ends the dynamic part. Usually 0.
func lastEmptyKey(o Object) int {
	for i := len(o) - 1; i >= 0; i-- {
		if o[i].Key == "" {
			return i + 1
		}
	}
	return 0
}

// object3 appends an object whose first sealed properties are sealed members
// and the rest, if dynamic, dynamic members (AMF3 §3.12).
func (e *Encoder) object3(b []byte, k objKey, class string, props Object, dynamic bool, sealed int) ([]byte, error) {
	b = append(b, amf3Object)
	if i, ok := e.ref(k); ok {
		return appendU29(b, i<<1), nil
	}
	names := props[:sealed]
	var err error
	if i, ok := e.findTraits(class, dynamic, names); ok {
		b = appendU29(b, uint32(i)<<2|0x01) // U29O-traits-ref
	} else {
		if sealed > 1<<25-1 {
			return b, fmt.Errorf("%w: %d sealed members", ErrRange, sealed)
		}
		u := uint32(sealed)<<4 | 0x03 // U29O-traits: instance, inline traits
		if dynamic {
			u |= 0x08
		}
		b = appendU29(b, u)
		if b, err = e.string3(b, class); err != nil {
			return b, err
		}
		for i := range names {
			if b, err = e.string3(b, names[i].Key); err != nil {
				return b, err
			}
		}
		e.traits3 = append(e.traits3, encTraits{class: class, dynamic: dynamic, names: names})
	}
	e.depth++
	for i := range names {
		if b, err = e.amf3(b, names[i].Value); err != nil {
			return b, err
		}
	}
	if dynamic {
		for _, p := range props[sealed:] {
			if p.Key == "" {
				return b, fmt.Errorf("%w: empty dynamic member name in class %q", ErrInvalidValue, class)
			}
			if b, err = e.string3(b, p.Key); err != nil {
				return b, err
			}
			if b, err = e.amf3(b, p.Value); err != nil {
				return b, err
			}
		}
		b = append(b, 0x01)
	}
	e.depth--
	return b, nil
}

// findTraits looks for identical traits written before. The table is small
// (one entry per class in a message), so a linear scan beats hashing the
// member names.
func (e *Encoder) findTraits(class string, dynamic bool, names []Property) (int, bool) {
	for i := range e.traits3 {
		t := &e.traits3[i]
		if t.class != class || t.dynamic != dynamic || len(t.names) != len(names) {
			continue
		}
		same := true
		for j := range names {
			if t.names[j].Key != names[j].Key {
				same = false
				break
			}
		}
		if same {
			return i, i < 1<<27
		}
	}
	return 0, false
}

// vectorHeader appends the start of a numeric vector. body reports whether
// the items must follow, which they do unless the vector was a reference.
func (e *Encoder) vectorHeader(b []byte, m byte, fixed bool, k objKey, n int) (_ []byte, body bool, _ error) {
	b = append(b, m)
	if fixed && k.p != nil {
		k.kind |= kindFlag
	}
	if i, ok := e.ref(k); ok {
		return appendU29(b, i<<1), false, nil
	}
	b, err := appendLen3(b, n)
	if err != nil {
		return b, false, err
	}
	return appendBool(b, fixed), true, nil
}

func appendBool(b []byte, v bool) []byte {
	if v {
		return append(b, 1)
	}
	return append(b, 0)
}

// objVector3 appends a Vector.<T>. It is not sent by reference: its identity
// would have to include the type name.
func (e *Encoder) objVector3(b []byte, x VectorObject) ([]byte, error) {
	e.nobjs++
	b, err := appendLen3(append(b, amf3VectorObject), len(x.Items))
	if err != nil {
		return b, err
	}
	if b, err = e.string3(appendBool(b, x.Fixed), x.TypeName); err != nil {
		return b, err
	}
	e.depth++
	for _, v := range x.Items {
		if b, err = e.amf3(b, v); err != nil {
			return b, err
		}
	}
	e.depth--
	return b, nil
}

func (e *Encoder) dictionary3(b []byte, x Dictionary) ([]byte, error) {
	b = append(b, amf3Dictionary)
	k := sliceKey(x.Entries, amf3Dictionary)
	if x.WeakKeys && k.p != nil {
		k.kind |= kindFlag
	}
	if i, ok := e.ref(k); ok {
		return appendU29(b, i<<1), nil
	}
	b, err := appendLen3(b, len(x.Entries))
	if err != nil {
		return b, err
	}
	b = appendBool(b, x.WeakKeys)
	e.depth++
	for _, en := range x.Entries {
		if b, err = e.amf3(b, en.Key); err != nil {
			return b, err
		}
		if b, err = e.amf3(b, en.Value); err != nil {
			return b, err
		}
	}
	e.depth--
	return b, nil
}
