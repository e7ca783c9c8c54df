package amf

import (
	"fmt"
	"math"
)

// AMF3 type markers (AMF3 §3.1). The vector and dictionary markers were added
// with Flash Player 10 and are not in the 2006 specification.
const (
	amf3Undefined    = 0x00
	amf3Null         = 0x01
	amf3False        = 0x02
	amf3True         = 0x03
	amf3Integer      = 0x04
	amf3Double       = 0x05
	amf3String       = 0x06
	amf3XMLDocument  = 0x07
	amf3Date         = 0x08
	amf3Array        = 0x09
	amf3Object       = 0x0a
	amf3XML          = 0x0b
	amf3ByteArray    = 0x0c
	amf3VectorInt    = 0x0d
	amf3VectorUint   = 0x0e
	amf3VectorDouble = 0x0f
	amf3VectorObject = 0x10
	amf3Dictionary   = 0x11
)

// U29 integer range (AMF3 §3.6): 29 bits, two's complement when signed.
const (
	u29Max    = 1<<29 - 1
	int29Min  = -1 << 28
	int29Max  = 1<<28 - 1
	u29LenMax = 1<<28 - 1 // lengths, counts and indices share a U29 with a flag bit
)

func (d *Decoder) amf3Value() (any, error) {
	start := d.off
	m, err := d.readByte()
	if err != nil {
		return nil, err
	}
	if err := d.value(start); err != nil {
		return nil, err
	}
	switch m {
	case amf3Undefined:
		return Undefined{}, nil
	case amf3Null:
		return nil, nil
	case amf3False:
		return false, nil
	case amf3True:
		return true, nil
	case amf3Integer:
		u, err := d.readU29()
		if err != nil {
			return nil, err
		}
		// Sign-extend from 29 bits.
		return float64(int32(u<<3) >> 3), nil
	case amf3Double:
		return d.readDouble()
	case amf3String:
		return d.readString3()
	case amf3XMLDocument, amf3XML:
		return d.xml3(m, start)
	case amf3Date:
		return d.date3(start)
	case amf3Array:
		return d.array3(start)
	case amf3Object:
		return d.object3(start)
	case amf3ByteArray:
		return d.byteArray3(start)
	case amf3VectorInt, amf3VectorUint, amf3VectorDouble:
		return d.numVector3(m, start)
	case amf3VectorObject:
		return d.objVector3(start)
	case amf3Dictionary:
		return d.dictionary3(start)
	}
	return nil, d.errAt(start, fmt.Errorf("%w: AMF3 0x%02x", ErrUnknownMarker, m))
}

// readString3 reads UTF-8-vr (AMF3 §1.3.2): a literal, which non-empty
// enters the string table, or a reference into it.
func (d *Decoder) readString3() (string, error) {
	start := d.off
	u, err := d.readU29()
	if err != nil {
		return "", err
	}
	if u&1 == 0 {
		i := u >> 1
		if uint64(i) >= uint64(len(d.strs3)) {
			return "", d.errAt(start, fmt.Errorf("%w: string index %d, table has %d entries", ErrReference, i, len(d.strs3)))
		}
		return d.strs3[i], nil
	}
	b, err := d.readN(uint64(u >> 1))
	if err != nil || len(b) == 0 {
		return "", err
	}
	s := str(b)
	d.strs3 = append(d.strs3, s)
	return s, nil
}

// header reads the U29 that starts every object-table type. It returns the
// referenced value when the low bit is 0, otherwise the remaining 28 bits.
func (d *Decoder) header(start int) (n uint32, ref any, isRef bool, err error) {
	u, err := d.readU29()
	if err != nil {
		return 0, nil, false, err
	}
	if u&1 == 0 {
		ref, err = d.deref(d.objs3, u>>1, start)
		return 0, ref, true, err
	}
	return u >> 1, nil, false, nil
}

// leaf adds a value without members to the object table.
func (d *Decoder) leaf(v any) {
	d.objs3 = append(d.objs3, entry{v: v, count: 1, done: true})
}

func (d *Decoder) xml3(m byte, start int) (any, error) {
	n, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	b, err := d.readN(uint64(n))
	if err != nil {
		return nil, err
	}
	var v any = XML(b)
	if m == amf3XMLDocument {
		v = XMLDocument(b)
	}
	d.leaf(v)
	return v, nil
}

func (d *Decoder) date3(start int) (any, error) {
	_, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	ms, err := d.readDouble()
	if err != nil {
		return nil, err
	}
	v := msToTime(ms)
	d.leaf(v)
	return v, nil
}

func (d *Decoder) byteArray3(start int) (any, error) {
	n, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	b, err := d.readN(uint64(n))
	if err != nil {
		return nil, err
	}
	// Copy: the input is usually a connection's read buffer.
	v := ByteArray(append([]byte(nil), b...))
	d.leaf(v)
	return v, nil
}

// array3 decodes an array (AMF3 §3.11): the dense count, the associative
// part ended by an empty name, then the dense values.
func (d *Decoder) array3(start int) (any, error) {
	n, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	slot := len(d.objs3)
	d.objs3 = append(d.objs3, entry{})
	sp := d.open()
	d.depth++
	base := len(d.props)
	if err := d.dynamicProps3(); err != nil {
		return nil, err
	}
	dense, err := d.values3(n, start)
	if err != nil {
		return nil, err
	}
	d.depth--
	var v any
	if len(d.props) == base {
		v = StrictArray(dense)
	} else {
		v = &MixedArray{Dense: dense, Assoc: d.popProps(base)}
	}
	d.close(sp, &d.objs3[slot], v)
	return v, nil
}

// values3 reads n values after checking that the input could hold them.
func (d *Decoder) values3(n uint32, start int) ([]any, error) {
	if !d.fits(n, 1) {
		return nil, d.truncated()
	}
	if uint64(n) > uint64(d.maxElements()-d.elems) {
		return nil, d.errAt(start, ErrTooManyElements)
	}
	a := make([]any, n)
	for i := range a {
		var err error
		if a[i], err = d.amf3Value(); err != nil {
			return nil, err
		}
	}
	return a, nil
}

// traits reads the traits part of an object header, u being the U29O with
// its instance bit removed (AMF3 §3.12).
func (d *Decoder) traits(u uint32, start int) (traits, error) {
	if u&1 == 0 {
		i := u >> 1
		if uint64(i) >= uint64(len(d.traits3)) {
			return traits{}, d.errAt(start, fmt.Errorf("%w: traits index %d, table has %d entries", ErrReference, i, len(d.traits3)))
		}
		return d.traits3[i], nil
	}
	if u&2 != 0 {
		class, err := d.readString3()
		if err != nil {
			return traits{}, err
		}
		t := traits{class: class, ext: true}
		d.traits3 = append(d.traits3, t)
		return t, nil
	}
	t := traits{dynamic: u&4 != 0}
	n := u >> 3
	var err error
	if t.class, err = d.readString3(); err != nil {
		return traits{}, err
	}
	// Each member name and each member value takes at least one byte.
	if !d.fits(n, 2) {
		return traits{}, d.truncated()
	}
	if n > 0 {
		t.names = make([]string, n)
		for i := range t.names {
			if t.names[i], err = d.readString3(); err != nil {
				return traits{}, err
			}
		}
	}
	d.traits3 = append(d.traits3, t)
	return t, nil
}

// object3 decodes an object (AMF3 §3.12): sealed member values in traits
// order, then dynamic members ended by an empty name, or an externalizable
// body read by the class's registered reader.
func (d *Decoder) object3(start int) (any, error) {
	u, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	t, err := d.traits(u, start)
	if err != nil {
		return nil, err
	}
	slot := len(d.objs3)
	d.objs3 = append(d.objs3, entry{})
	sp := d.open()
	d.depth++
	var v any
	if t.ext {
		read := d.externalizable(t.class)
		if read == nil {
			return nil, d.errAt(start, fmt.Errorf("%w: class %q", ErrExternalizable, t.class))
		}
		if v, err = read(d); err != nil {
			return nil, fmt.Errorf("amf: externalizable class %q: %w", t.class, err)
		}
	} else {
		base := len(d.props)
		for _, name := range t.names {
			mv, err := d.amf3Value()
			if err != nil {
				return nil, err
			}
			d.props = append(d.props, Property{Key: name, Value: mv})
		}
		if t.dynamic {
			if err := d.dynamicProps3(); err != nil {
				return nil, err
			}
		}
		props := d.popProps(base)
		if t.class == "" {
			v = props
		} else {
			v = &TypedObject{Class: t.class, Props: props, Dynamic: t.dynamic, Sealed: len(t.names)}
		}
	}
	d.depth = sp.depth
	d.close(sp, &d.objs3[slot], v)
	return v, nil
}

// numVector3 decodes Vector.<int>, Vector.<uint> and Vector.<Number>: count,
// fixed flag, then fixed-size big-endian items.
func (d *Decoder) numVector3(m byte, start int) (any, error) {
	n, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	fixed, err := d.readByte()
	if err != nil {
		return nil, err
	}
	size := 4
	if m == amf3VectorDouble {
		size = 8
	}
	if !d.fits(n, size) {
		return nil, d.truncated()
	}
	if err := d.addElems(start, n); err != nil {
		return nil, err
	}
	raw, _ := d.readN(uint64(n) * uint64(size))
	var v any
	switch m {
	case amf3VectorInt:
		items := make([]int32, n)
		for i := range items {
			items[i] = int32(be32(raw[4*i:]))
		}
		v = VectorInt{Fixed: fixed != 0, Items: items}
	case amf3VectorUint:
		items := make([]uint32, n)
		for i := range items {
			items[i] = be32(raw[4*i:])
		}
		v = VectorUint{Fixed: fixed != 0, Items: items}
	default:
		items := make([]float64, n)
		for i := range items {
			items[i] = math.Float64frombits(uint64(be32(raw[8*i:]))<<32 | uint64(be32(raw[8*i+4:])))
		}
		v = VectorDouble{Fixed: fixed != 0, Items: items}
	}
	d.objs3 = append(d.objs3, entry{v: v, count: 1 + int(n), done: true})
	return v, nil
}

func be32(b []byte) uint32 {
	_ = b[3]
	return uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3])
}

// objVector3 decodes Vector.<T> for object types: count, fixed flag, the
// element type name, then the values.
func (d *Decoder) objVector3(start int) (any, error) {
	n, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	fixed, err := d.readByte()
	if err != nil {
		return nil, err
	}
	name, err := d.readString3()
	if err != nil {
		return nil, err
	}
	slot := len(d.objs3)
	d.objs3 = append(d.objs3, entry{})
	sp := d.open()
	d.depth++
	items, err := d.values3(n, start)
	if err != nil {
		return nil, err
	}
	d.depth--
	v := VectorObject{Fixed: fixed != 0, TypeName: name, Items: items}
	d.close(sp, &d.objs3[slot], v)
	return v, nil
}

// dictionary3 decodes a Dictionary: count, weak-keys flag, then key/value
// pairs.
func (d *Decoder) dictionary3(start int) (any, error) {
	n, ref, isRef, err := d.header(start)
	if isRef || err != nil {
		return ref, err
	}
	weak, err := d.readByte()
	if err != nil {
		return nil, err
	}
	if !d.fits(n, 2) {
		return nil, d.truncated()
	}
	if uint64(n) > uint64(d.maxElements()-d.elems)/2 {
		return nil, d.errAt(start, ErrTooManyElements)
	}
	slot := len(d.objs3)
	d.objs3 = append(d.objs3, entry{})
	sp := d.open()
	d.depth++
	entries := make([]DictEntry, n)
	for i := range entries {
		if entries[i].Key, err = d.amf3Value(); err != nil {
			return nil, err
		}
		if entries[i].Value, err = d.amf3Value(); err != nil {
			return nil, err
		}
	}
	d.depth--
	v := Dictionary{WeakKeys: weak != 0, Entries: entries}
	d.close(sp, &d.objs3[slot], v)
	return v, nil
}

// dynamicProps3 reads name/value pairs up to the empty name that ends them
// (an array's associative part, an object's dynamic members) onto d.props.
func (d *Decoder) dynamicProps3() error {
	for {
		key, err := d.readString3()
		if err != nil {
			return err
		}
		if key == "" {
			return nil
		}
		v, err := d.amf3Value()
		if err != nil {
			return err
		}
		d.props = append(d.props, Property{Key: key, Value: v})
	}
}
